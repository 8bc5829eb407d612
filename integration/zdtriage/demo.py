"""``zdtriage demo``: both simulators on loopback, N seeded tickets, the real daemon, a report.

Success means, read from the Zendesk simulator's own state (not from our database): every
eligible ticket carries exactly one internal note and its tags — or, when its answers were
refused (an injected instruction pushing a value outside the lists), no note and the failed tag —
no public comment was written, ineligible tickets were not touched, agents' tags were kept.
It ends with ``zdtriage evaluate`` on the simulated solved history, which must write nothing to Zendesk.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import threading
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from . import batches as anth
from . import config as config_mod
from . import daemon, evaluate, pipeline, prompt, quality, reports, store
from .stages import account
from .timeutil import parse_time

TIMEOUT_SECONDS = 110.0
UPDATES_PER_MINUTE = 300  # the simulated account's write allowance (High Volume): what a larger demo waits on
HISTORY_MAX = 300  # solved tickets evaluated at the end: one comments call each, under the simulated rate limit
SCHEDULE = {"ingest_every": "4s", "submit_every": "3s", "poll_every": "2s", "writeback_every": "2s", "min_batch": 1,
            "max_wait": "5s"}


def eligible_ids(tickets: list[dict[str, Any]], triage: config_mod.TriageConfig) -> set[int]:
    """Tickets the pipeline must triage: configured status, no skip tag, not triaged before."""
    marker = prompt.marker_tag(triage)
    return {
        t["id"]
        for t in tickets
        if t["status"] in triage.statuses and not set(t["tags"]) & set(triage.skip_tags) and marker not in t["tags"]
    }


def check_outcome(before: list[dict[str, Any]], after: list[dict[str, Any]],
                  triage: config_mod.TriageConfig) -> dict[str, Any]:
    """Compare the simulator's tickets before and after a run; list every violation of the contract."""
    eligible = eligible_ids(before, triage)
    old = {t["id"]: t for t in before}
    marker, failed = prompt.marker_tag(triage), prompt.failed_tag(triage)
    problems: list[str] = []
    written = dead = 0
    for t in after:
        ours = [c for c in t["comments"] if prompt.NOTE_FOOTER in (c.get("body") or "")]
        if any(c.get("public") for c in ours):
            problems.append(f"ticket {t['id']}: a public comment was written")
        kept = set(old[t["id"]]["tags"]) - set(t["tags"]) if t["id"] in old else set()
        if kept:
            problems.append(f"ticket {t['id']}: tags removed {sorted(kept)}")
        if t["id"] not in eligible:
            if len(t["comments"]) != len(old.get(t["id"], t)["comments"]):
                problems.append(f"ticket {t['id']}: not eligible but was written to")
            continue
        if len(ours) == 1 and marker in t["tags"]:
            written += 1
        elif not ours and failed in t["tags"]:
            dead += 1
        else:
            problems.append(
                f"ticket {t['id']}: {len(ours)} notes, marker {'present' if marker in t['tags'] else 'absent'}"
            )
    return {"eligible": len(eligible), "written": written, "failed": dead, "problems": problems}


def run_demo(*, tickets: int = 200, seed: int = 1, workdir: Path | None = None, quiet: bool = False,
             timeout: float | None = None) -> dict[str, Any]:
    """Run the demo; returns the report (``ok`` false with ``problem`` when the contract was broken).

    ``timeout``: seconds to wait for every ticket to settle; default, :func:`patience` for their number."""
    from .sim.anthropic import AnthropicSim
    from .sim.zendesk import ZendeskSim

    started = time.monotonic()
    temporary = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="zdtriage-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    clean(workdir)
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", job_complete_after_seconds=1.0)
    asim = AnthropicSim(api_key="sim-key", processing_seconds=3.0, seed=seed)
    zurl, aurl = zsim.start(), asim.start()
    stop = threading.Event()
    worker: threading.Thread | None = None
    handler = logging.FileHandler(workdir / "demo.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("zdtriage")
    saved = (logger.level, logger.propagate)  # given back at the end: the demo may run inside another process
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    scheduler_log = logging.getLogger("apscheduler")  # its "skipped: maximum number of running instances" lines
    scheduler_log.addHandler(handler)                 # belong in the log, not across the progress bar
    scheduler_log.propagate = False
    try:
        zsim.seed(tickets, seed)
        opened = [parse_time(t["created_at"]) for t in zsim.snapshot()]
        oldest = min(opened) if opened else time.time()
        zsim.seed(min(max(tickets // 2, 40), HISTORY_MAX), seed, history=True)  # solved: never triaged
        before = zsim.snapshot()
        raw = {
            "zendesk": {"subdomain": "demo", "email": "triage-bot@example.com", "url": zurl,
                        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(oldest - 60)), "verify_after": "8s",
                        "updates_per_minute": UPDATES_PER_MINUTE},  # High Volume: two update_many jobs go at once
            "anthropic": {"base_url": aurl},
            "schedule": SCHEDULE,
            # a help-center excerpt long enough to be cached: the demo shows cache reads in its cost
            "triage": {"knowledge_file": str(files("zdtriage").joinpath("prompts/demo_knowledge.txt"))},
            "state": {"path": str(workdir / "state.db")},
        }
        cfg = config_mod.parse(raw, {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"})
        eligible = eligible_ids(before, cfg.triage)
        timeout = patience(len(eligible)) if timeout is None else timeout
        ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), anthropic=anth.make_client(cfg.anthropic))
        ctx.zendesk = account.client(ctx)  # paced on the account's shared API limit, as `run` is
        worker = threading.Thread(target=daemon.run_forever, args=(ctx, stop), name="demo-daemon", daemon=True)
        worker.start()
        reader = store.open_db(cfg.state.path)
        # three steps a ticket (sent, answered, written): the bar moves while the first batch is out, not
        # only when the write-back starts
        with click.progressbar(length=3 * len(eligible), label=f"Triaging {len(eligible)} tickets (sent, answered, "
                               "written)", file=io.StringIO() if quiet else None, show_percent=True) as bar:
            shown = 0
            while time.monotonic() - started < timeout:
                steps, n = progress(reader)
                bar.update(steps - shown)
                shown = steps
                if n >= len(eligible):
                    break
                time.sleep(0.3)
        stop.set()
        worker.join(timeout=30)
        after = zsim.snapshot()
        outcome = check_outcome(before, after, cfg.triage)
        rep = reports.report(reader, cfg)
        calls = sum(zsim.call_counts().values())
        elapsed = time.monotonic() - started
        result = {
            "tickets_seeded": tickets,
            "eligible": len(eligible),
            "triaged": outcome["written"] + outcome["failed"],
            "written": outcome["written"],
            "failed": outcome["failed"],
            "zendesk_calls": calls,
            "zendesk_calls_per_ticket": round(calls / max(len(eligible), 1), 3),
            "cost_usd": rep["cost_usd"],
            "cost_per_ticket_usd": rep["cost_per_ticket_usd"],
            "cache_hit_rate": rep["cache_hit_rate"],
            "by_priority": rep["by_priority"],
            "by_category": rep["by_category"],
            "elapsed_seconds": round(elapsed, 1),
            "workdir": None if temporary else str(workdir),  # a temporary one is removed at the end
        }
        if not quiet:
            click.echo(render(result))
        view, wrote = _evaluate(ctx, zsim, quiet=quiet)
        if wrote:
            outcome["problems"].append(f"evaluate wrote to Zendesk: {wrote}")
        result["evaluation"] = view
        result["problems"] = outcome["problems"][:20]
        result["ok"] = not outcome["problems"] and outcome["written"] + outcome["failed"] == len(eligible)
        if not result["ok"]:
            result["problem"] = (outcome["problems"][0] if outcome["problems"]
                                 else f"only {result['triaged']} of {len(eligible)} tickets settled in {timeout:.0f}s")
        if not quiet:
            if view is not None and "error" not in view:
                click.echo("\nIs it any good? `zdtriage evaluate` on the simulated solved history (answers by the "
                           "simulator's keyword stand-in, not by Claude):\n")
                click.echo(quality.render(view))
            click.echo("\nResult              " + ("OK: every eligible ticket written exactly once, and the "
                                                   "evaluation wrote nothing to Zendesk" if result["ok"]
                                                   else f"FAILED: {result.get('problem')}"))
        return result
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=30)
        zsim.stop()
        asim.stop()
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        scheduler_log.removeHandler(handler)
        scheduler_log.propagate = True
        handler.close()
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def clean(workdir: Path) -> None:
    """Remove what an earlier demo left in ``workdir`` (its state and log, nothing else): a second run on the
    same folder must start like the first (issue 20: a stale state collided with the new simulators' ids)."""
    for path in [*workdir.glob("state.db*"), workdir / "demo.log"]:
        if path.is_file():
            path.unlink()


def patience(eligible: int) -> float:
    """How long the demo waits for ``eligible`` tickets: the write-back allowance sets the pace of a large
    demo (2,000 tickets take about 7 minutes at 300 a minute), so the wait grows with the count."""
    return max(TIMEOUT_SECONDS, TIMEOUT_SECONDS / 2 + 1.5 * eligible * 60.0 / UPDATES_PER_MINUTE)


def progress(reader: Any) -> tuple[int, int]:
    """(steps done, tickets settled): a ticket counts one step sent, two answered, three settled (written, dead
    with its failed tag, or skipped, with no write in flight)."""
    row = next(reader.query(
        "select coalesce(sum(case when state in ('written', 'dead', 'skipped') and write_started_at is null "
        "  and (state != 'dead' or failed_tag_at is not null) then 3 "
        "when state in ('answered', 'written', 'dead') then 2 when state = 'submitted' then 1 else 0 end), 0) "
        "as steps, "
        "coalesce(sum(state in ('written', 'dead', 'skipped') and write_started_at is null "
        "  and (state != 'dead' or failed_tag_at is not null)), 0) as n from tickets"))
    return int(row["steps"]), int(row["n"])


def _evaluate(ctx: pipeline.Context, zsim: Any, *, quiet: bool) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """``evaluate`` on the seeded solved history, the way an admin would run it before going live;
    returns its summary and the Zendesk write calls it made (there must be none)."""
    from .sim import corpus

    def writes() -> dict[str, int]:
        return {k: v for k, v in zsim.call_counts().items()
                if k.split()[0] in ("PUT", "POST", "DELETE") and "/_sim/" not in k}

    calls = writes()
    settings = quality.Settings(corpus.CATEGORY_FIELD_ID, corpus.CATEGORY_MAP,
                                quality.default_priority_map(ctx.config.triage.priorities))
    progress = (lambda line: None) if quiet else (lambda line: click.echo(f"  evaluate: {line}", err=True))
    try:
        result = evaluate.run(ctx, settings, since=ctx.now() - 61 * 86400, limit=evaluate.MAX_TICKETS,
                              confirm=lambda plan: True, progress=progress, poll_every=1.0)
    except evaluate.EvaluateError as exc:
        return {"error": str(exc)}, {}
    after = writes()
    return (result or {}).get("evaluation"), {k: v - calls.get(k, 0) for k, v in after.items() if v != calls.get(k, 0)}


def render(r: dict[str, Any]) -> str:
    lines = [
        "",
        f"Tickets seeded      {r['tickets_seeded']} ({r['eligible']} eligible: the rest closed, solved or opted out)",
        f"Written             {r['written']} (one internal note + tags each)",
        f"Failed              {r['failed']} (answers refused twice, e.g. an injected instruction; tagged, no note)",
        f"Zendesk calls       {r['zendesk_calls']} ({r['zendesk_calls_per_ticket']} per ticket)",
        f"Simulated cost      ${r['cost_usd']:.4f} (${r['cost_per_ticket_usd']:.5f} per ticket, batch prices)",
        f"Prompt cache        {(r['cache_hit_rate'] or 0):.0%} of input tokens read from the cache",
        f"Elapsed             {r['elapsed_seconds']} s",
        "Priorities          " + ", ".join(f"{k} {v}" for k, v in sorted(r["by_priority"].items())),
        "Categories          " + ", ".join(f"{k} {v}" for k, v in sorted(r["by_category"].items())),
        f"State and log       {r['workdir'] or '(a temporary folder, removed: --workdir DIR keeps them)'}",
    ]
    return "\n".join(lines)
