"""``make bench-year``: a year of tickets on a small machine, beside a one-day database in the same run.

Run as ``python -m bench.year`` from the repository root (``--days 365 --per-day 10000`` by default; smaller
``--days`` for a quick look, ``--json PATH`` for the raw results). Prints one table.

Two state databases are built in the bench's temporary folder (``bench/year_data.py``: the store's own
migrations, synthetic rows through ``executemany``) and deleted afterwards: one day of history and ``--days``
of it, both ending in the same in-flight snapshot. Then, for each, every command runs in a fresh interpreter
(``os.wait4`` gives its own CPU time and peak RSS; the least CPU of ``--repeat`` runs is kept):

- ``run --once`` with the network stubbed: the stages' Zendesk and Anthropic calls are answered in-process
  (an export page of 50 new and 50 known tickets with their comment events, the open batch ended with 200
  valid answers, both write jobs completed, every write accepted), so only our code and the database are
  measured. Its writes are rolled back after the measurement, so every run starts from the same state.
- ``status``, ``report``, ``report --since`` (the last 24 h) and ``estimate``: the real CLI, read-only.

Also: upgrading the big database to this version (m0010's indexes and m0011's running totals built from
its rows, timed on ``open_db``), the first retention run on it (``store.retention.prune`` as the daemon calls it,
``state.keep_days`` 90), start-up against ``python -c pass``, and bytes per ticket after write-back measured
with the real pipeline against the simulators (``--bytes-tickets``), with and without
``privacy.drop_text_after_write``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEEP_DAYS = 90
ENV = {"ZENDESK_API_TOKEN": "bench-token", "ANTHROPIC_API_KEY": "bench-key"}  # never sent: nothing is called


# -- stubbed run --once (runs in its own interpreter) ------------------------------------------


def _stub_network(spec: dict[str, Any], end: float) -> None:
    """Answer the stages' network calls in-process, the same way for every database (see the docstring)."""
    from zdtriage import batches as anth
    from zdtriage import zendesk as zd
    from zdtriage.timeutil import iso

    new_ids = list(range(spec["next_id"], spec["next_id"] + 50))
    jobs: dict[str, list[int]] = {f"job-snapshot-{n}": spec["ids"][f"job{n}"] for n in (0, 1)}
    answer = json.dumps({"priority": "P2", "category": "billing", "sentiment": "neutral", "language": "en",
                         "confidence": 0.9, "draft": "Thanks for writing in. " * 30})
    usage = {"input_tokens": 1500, "output_tokens": 300, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 4210}

    def ticket(id_: int, tags: list[str]) -> dict[str, Any]:
        return {"id": id_, "subject": "Charged twice", "description": "I was charged twice this month. " * 20,
                "status": "open", "tags": tags, "requester_id": 7, "created_at": iso(end - 200),
                "updated_at": iso(end - 100), "generated_timestamp": int(end - 100)}

    def page(client: Any, *, cursor: str | None = None, start_time: int | None = None) -> dict[str, Any]:
        known = [ticket(i, ["ai_triaged"]) for i in spec["written_recent"]]
        return {
            "tickets": [ticket(i, []) for i in new_ids] + known,
            "after_cursor": "cursor-next",
            "end_of_stream": True,
        }

    def events(client: Any, start_time: int) -> dict[str, Any]:
        comments = [{"id": 10**10 + i * 3 + k, "ticket_id": i, "author_id": 7 if k != 1 else 42, "public": True,
                     "body": "Still waiting for the refund, please check. " * 12, "created_at": iso(end - 200 + k)}
                    for i in new_ids for k in range(3)]
        return {"comments": comments, "end_time": int(end - 60), "end_of_stream": True}

    def write(client: Any, updates: list[dict[str, Any]]) -> str:
        job = f"job-new-{len(jobs)}"
        jobs[job] = [u["id"] for u in updates]
        return job

    def fetch_jobs(client: Any, ids: Any) -> Any:
        for job in ids:
            done = job.startswith("job-snapshot")
            yield {"id": job, "status": "completed" if done else "queued",
                   "results": [{"id": i, "index": n, "success": True, "error": None, "details": ""}
                               for n, i in enumerate(jobs.get(job, []))] if done else []}

    def batch(batch_id: str, ended: bool, n: int) -> dict[str, Any]:
        return {"id": batch_id, "processing_status": "ended" if ended else "in_progress",
                "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": end - 3000, "expires_at": end + 80000, "ended_at": end - 60 if ended else None,
                "results_url": None}

    def results(client: Any, batch_id: str) -> Any:
        for i in spec["ids"]["submitted"]:
            yield {"custom_id": f"zt-{i}-1", "type": "succeeded", "text": answer, "stop_reason": "end_turn",
                   "usage": usage, "model": "claude-haiku-4-5", "error_type": None, "error_message": None}

    zd.fetch_ticket_page, zd.fetch_comment_events, zd.fetch_comments = page, events, lambda client, id_: []
    zd.fetch_tickets = lambda client, ids: [ticket(i, []) for i in ids]
    zd.write_updates, zd.fetch_jobs = write, fetch_jobs
    zd.fetch_me = lambda client: 1  # users/me: the bot user, whose internal notes are ours
    anth.create_batch = lambda client, requests: batch(f"msgbatch_new_{len(requests)}", False, len(requests))
    anth.retrieve_batch = lambda client, batch_id: batch(batch_id, batch_id == "msgbatch_snapshot_open", 200)
    anth.iter_results, anth.list_recent_batches = results, lambda client, limit=100: []


def _run_once_child(config_path: str, spec_path: str, end: float) -> None:
    from bench.harness import cpu_seconds, peak_rss_mb
    from zdtriage import config as config_mod
    from zdtriage import pipeline, store

    cfg = config_mod.load(Path(config_path), need_secrets=False)
    _stub_network(json.loads(Path(spec_path).read_text()), end)
    db = store.open_db(cfg.state.path)
    ctx = pipeline.Context(config=cfg, db=db, zendesk=object(), anthropic=object(), clock=lambda: end)
    db.execute("begin")  # the stages' transactions become savepoints: everything is rolled back below
    before = cpu_seconds()
    summaries = pipeline.run_once(ctx)
    out = {"cpu_s": cpu_seconds(), "run_once_cpu_s": cpu_seconds() - before, "peak_rss_mb": peak_rss_mb(),
           "summaries": summaries}
    db.execute("rollback")
    print(json.dumps(out, default=str))


def _prune_child(config_path: str, end: float) -> None:
    from bench.harness import cpu_seconds, peak_rss_mb
    from zdtriage import config as config_mod
    from zdtriage import store
    from zdtriage.store import retention

    cfg = config_mod.load(Path(config_path), need_secrets=False)
    db = store.open_db(cfg.state.path)
    started, before = time.perf_counter(), cpu_seconds()
    size = Path(cfg.state.path).stat().st_size
    out = retention.prune(db, end, keep_days=KEEP_DAYS, statuses=cfg.triage.statuses)
    out.update(cpu_s=cpu_seconds() - before, wall_s=time.perf_counter() - started, peak_rss_mb=peak_rss_mb())
    db.execute("pragma wal_checkpoint(truncate)")
    out.update(bytes_before=size, bytes_after=Path(cfg.state.path).stat().st_size)
    print(json.dumps(out))


def _upgrade_child(config_path: str) -> None:
    """Take the database back to before m0010 and m0011, then time ``open_db`` applying them (an upgrade)."""
    from bench.harness import cpu_seconds, peak_rss_mb
    from zdtriage import config as config_mod
    from zdtriage import store
    from zdtriage.store import totals

    cfg = config_mod.load(Path(config_path), need_secrets=False)
    db = store.open_db(cfg.state.path)
    with db.atomic():
        for name in totals.TRIGGERS:
            db.execute(f"drop trigger if exists {name}")
        for table in ("report_totals", "report_durations", "report_tags"):
            db.execute(f"drop table if exists {table}")
        for (name,) in db.execute("select name from sqlite_master where type = 'index' and sql is not null "
                                  "and (name like 'idx_tickets_%' or name = 'idx_batches_created')").fetchall():
            if name != "idx_tickets_state":
                db.execute(f"drop index {name}")
        db.execute("create index idx_tickets_batch on tickets(batch)")
        db.execute("create index idx_tickets_write_job_id on tickets(write_job_id)")
        db.execute("delete from _sqlite_migrations where name in ('m0010_query_indexes', 'm0011_report_totals')")
    db.close()
    started, before = time.perf_counter(), cpu_seconds()
    store.open_db(cfg.state.path).close()
    print(json.dumps({"cpu_s": cpu_seconds() - before, "wall_s": time.perf_counter() - started,
                      "peak_rss_mb": peak_rss_mb()}))


# -- the driver --------------------------------------------------------------------------------


# the CLI as ``python -m zdtriage`` runs it, then this process's own peak RSS on stderr: the kernel's
# ru_maxrss of a child starts from the parent's size at fork (here a driver holding a day of built rows)
CLI = """import sys
try:
    from zdtriage.cli import cli
    cli(sys.argv[1:], standalone_mode=False)
finally:
    print("VmHWM", [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1], file=sys.stderr)
"""


def measure(args: list[str]) -> dict[str, Any]:
    """Run ``args`` from the repository root; its own CPU seconds, peak RSS (MiB) and stdout."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, **ENV})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err = child.stderr.read() if child.stderr else ""
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(args[-4:])} failed (exit {child.returncode}): {err[-2000:]}")
        out.seek(0)
        stdout = out.read()
    hwm = [line.split()[1] for line in err.splitlines() if line.startswith("VmHWM ")]
    if hwm:
        peak = int(hwm[-1]) / 1024
    elif stdout.strip().startswith("{") and "peak_rss_mb" in stdout:
        peak = json.loads(stdout)["peak_rss_mb"]
    else:
        peak = None
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak, "wall_s": wall, "stdout": stdout}


def best(args: list[str], repeat: int) -> dict[str, Any]:
    runs = [measure(args) for _ in range(repeat)]
    return min(runs, key=lambda r: r["cpu_s"])


def commands(config: Path, spec: Path, end: float, repeat: int) -> dict[str, dict[str, Any]]:
    cli = [sys.executable, "-c", CLI, "--config", str(config)]
    from zdtriage.timeutil import iso

    out = {
        "status": best([*cli, "status", "--json"], repeat),
        "report": best([*cli, "report", "--json"], repeat),
        "report_since": best([*cli, "report", "--since", iso(end - 86_400), "--json"], repeat),
        "estimate": best([*cli, "estimate", "--json"], repeat),
    }
    runs = [measure([sys.executable, "-m", "bench.year", "_run_once", str(config), str(spec), repr(end)])
            for _ in range(repeat)]
    run = min(runs, key=lambda r: r["cpu_s"])
    child = json.loads(run["stdout"])
    run.update(in_run_once_cpu_s=child["run_once_cpu_s"], summaries=child["summaries"])
    out["run_once"] = run
    for value in out.values():
        value.pop("stdout", None)
    return out


def database(work: Path, name: str, days: int, per_day: int, end: float, pool: Any) -> dict[str, Any]:
    from bench import year_data

    path = work / f"{name}.db"
    started = time.perf_counter()
    info = year_data.build(path, days=days, per_day=per_day, end=end, pool=pool)
    build_s = time.perf_counter() - started
    config = work / f"{name}.toml"
    config.write_text(f'[zendesk]\nsubdomain = "bench"\nemail = "bot@example.com"\n\n[state]\npath = "{path}"\n')
    spec = work / f"{name}.json"
    spec.write_text(json.dumps(info))
    sizes = dict(year_data.iter_sizes(path))
    return {
        "path": path,
        "config": config,
        "spec": spec,
        "tickets": info["history"] + sum(map(len, info["ids"].values())),
        "build_s": build_s,
        "bytes": sum(sizes.values()),
    }


def startup(config: Path, repeat: int) -> dict[str, float]:
    py = sys.executable
    return {"python_pass": best([py, "-c", "pass"], repeat)["cpu_s"],
            "import_cli": best([py, "-c", "import zdtriage.cli"], repeat)["cpu_s"],
            "import_anthropic": best([py, "-c", "import anthropic"], repeat)["cpu_s"],
            "config_check": best([py, "-c", CLI, "--config", str(config), "config", "check"], repeat)["cpu_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bytes-tickets", type=int, default=2_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the databases (printed path)")
    args = parser.parse_args(argv)
    from bench import year_bytes, year_data, year_table

    started = time.perf_counter()
    end = float(int(time.time()))
    work = Path(tempfile.mkdtemp(prefix="zdtriage-year-"))
    results: dict[str, Any] = {"days": args.days, "per_day": args.per_day}
    try:
        pool = year_data.Pool()
        for name, days in (("small", 1), ("year", args.days)):
            db = database(work, name, days, args.per_day, end, pool)
            print(f"  {name}: {db['tickets']:,} tickets built in {db['build_s']:.0f} s, {db['bytes'] / 1e6:,.0f} MB",
                  file=sys.stderr)
            db["commands"] = commands(db["config"], db["spec"], end, args.repeat)
            results[name] = db
        results["startup"] = startup(results["small"]["config"], args.repeat)
        upgrade = measure([sys.executable, "-m", "bench.year", "_upgrade", str(results["year"]["config"])])
        results["upgrade"] = json.loads(upgrade["stdout"])
        prune = measure([sys.executable, "-m", "bench.year", "_prune", str(results["year"]["config"]), repr(end)])
        results["prune"] = json.loads(prune["stdout"])
        results["bytes_per_ticket"] = year_bytes.measure(args.bytes_tickets)
    finally:
        if args.keep:
            print(f"  databases kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["total_s"] = time.perf_counter() - started
    lines = year_table.rows(results)
    print(f"\nzendesk-batch-triage: a year of tickets ({args.days} days x {args.per_day:,} a day)")
    print(f"Machine: {year_table.machine()}")
    print(f"Total run time: {results['total_s']:.0f} s\n")
    print(year_table.table(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0 if all(row[-1] != "MISSED" for row in lines) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run_once":
        _run_once_child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_upgrade":
        _upgrade_child(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "_prune":
        _prune_child(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(main())
