"""``make bench``: run every scenario in its own process and print one table.

Each scenario is a fresh interpreter (``python -m bench.<name>``), so its peak RSS is its own;
inside it the simulators run in a further child process. Scenarios run one after another so
they never compete for the two cores. ``--quick`` runs small sizes (a smoke test, not the
figures); ``--json PATH`` also writes every raw result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BACKLOG = 100_000
SMALL_BACKLOG = 10_000  # the same run a tenth the size: peak RSS must not grow with it
PACE_TICKETS = 5_000  # an answered queue far beyond one minute's allowance


def scenario(module: str, *args: str | int, cwd: Path = ROOT, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m bench.<module> args`` from the repository root (or ``cwd``, another tree, with ``env``);
    its stdout is one JSON object."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", f"bench.{module}", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench.{module} {' '.join(map(str, args))} failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  bench.{module} {' '.join(map(str, args))}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return result


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: every CPU figure is read beside it)."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """One line: cores, memory, CPU model, Python."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return (f"{os.cpu_count()} cores ({cpu}), {pages / 2**30:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(figure, measured, target, result)`` for every line of the table."""
    ours, naive = r["day"]["ours"], r["day"]["naive"]
    big, small = r["backlog"], r["backlog_small"]
    pace100, pace300 = r["pace_100"], r["pace_300"]
    cut_max, cut_default = r["split"]["api_max"], r["split"]["default"]
    zs = big["zendesk_stats"]
    flat = big["pipeline"]["peak_rss_mb"] <= small["pipeline"]["peak_rss_mb"] * 1.1
    return [
        ("1. Zendesk calls per triaged ticket, 10,000-ticket day, default schedule",
         f"{ours['calls_per_ticket']:.3f} ({ours['zendesk_calls']:,} calls / {ours['triaged']:,} tickets)",
         "<= 0.06", _met(ours["calls_per_ticket"] <= 0.06 and ours["ok"])),
        ("   arrival to note, same day (batches take 30 min), p50 / p95",
         f"{ours['arrival_to_note_minutes']['p50']:.1f} / {ours['arrival_to_note_minutes']['p95']:.1f} min",
         "p50 <= 35 min", _met(ours["arrival_to_note_minutes"]["p50"] <= 35)),
        ("   same day, naive (comments + update per ticket, zenpy)",
         f"{naive['calls_per_ticket']:.3f} ({naive['zendesk_calls']:,} calls / {naive['triaged']:,} tickets)",
         "about 2", "reference"),
        ("2. 100,000-ticket backlog, ingest to written: wall time incl. simulators",
         f"{big['wall_seconds']:.0f} s ({big['triaged']:,} tickets triaged)", "< 300 s",
         _met(big["wall_seconds"] < 300 and big["ok"])),
        ("   peak RSS of the pipeline process (simulators in another process)",
         f"{big['pipeline']['peak_rss_mb']:.0f} MB (10,000-ticket backlog: {small['pipeline']['peak_rss_mb']:.0f} MB)",
         "< 300 MB, flat", _met(big["pipeline"]["peak_rss_mb"] < 300 and flat)),
        ("   our own work (pipeline process CPU)",
         f"{big['tickets_per_cpu_second']:,.0f} tickets/CPU-s ({big['pipeline']['cpu_seconds']:.0f} CPU-s); "
         f"{big['tickets_per_second_wall']:,.0f} tickets/s wall", "-", "info"),
        ("   simulators (not counted above)",
         f"{big['sims']['peak_rss_mb']:.0f} MB peak RSS, {big['sims']['cpu_seconds']:.0f} CPU-s", "-", "info"),
        ("3. 100,000 requests of ~10 KB, split at the API maximum (MAX_BATCH_BYTES)",
         f"{cut_max['batches']} batches of {cut_max['requests_per_batch'][0]:,}-{cut_max['requests_per_batch'][1]:,} "
         f"requests, largest {cut_max['mb_per_batch'][1]:.1f} MiB ({cut_max['mean_request_kb']} KiB/request)",
         "each <= 256 MiB, <= 100,000", _met(cut_max["within_limits"])),
        (f"   split at our default (TARGET_BATCH_BYTES, {cut_default['limit_mb']:.0f} MiB)",
         f"{cut_default['batches']} batches of {cut_default['requests_per_batch'][0]:,}-"
         f"{cut_default['requests_per_batch'][1]:,} requests, largest {cut_default['mb_per_batch'][1]:.1f} MiB",
         f"each <= {cut_default['limit_mb']:.0f} MiB", _met(cut_default["within_limits"])),
        ("4. tickets per update_many, most seen (100,000 backlog)", f"{zs['max_update_many_size']}",
         "<= 100", _met(0 < zs["max_update_many_size"] <= 100)),
        ("   update_many jobs in flight, most seen", f"{zs['max_jobs_in_flight']} ({zs['jobs_created']:,} jobs)",
         "<= 30", _met(zs["max_jobs_in_flight"] <= 30)),
        ("   ticket updates per minute, updates_per_minute = 100 (default)",
         f"{pace100['zendesk_stats']['max_ticket_updates_per_minute']} max "
         f"({pace100['triaged']:,} tickets in {pace100['simulated_hours']} h simulated)",
         "<= 100", _met(pace100["zendesk_stats"]["max_ticket_updates_per_minute"] <= 100 and pace100["ok"])),
        ("   ticket updates per minute, updates_per_minute = 300 (High Volume)",
         f"{pace300['zendesk_stats']['max_ticket_updates_per_minute']} max "
         f"({pace300['triaged']:,} tickets in {pace300['simulated_hours']} h simulated)",
         "<= 300", _met(pace300["zendesk_stats"]["max_ticket_updates_per_minute"] <= 300 and pace300["ok"])),
        ("   ticket updates per minute, backlog at updates_per_minute = 10,000",
         f"{zs['max_ticket_updates_per_minute']:,} max (bounded by our 10 jobs in flight)", "-", "info"),
        ("   429 answers from Zendesk in all runs above",
         f"{sum(x['zendesk_stats']['rate_limited'] for x in (big, small, pace100, pace300))}", "0",
         _met(not any(x["zendesk_stats"]["rate_limited"] for x in (big, small, pace100, pace300)))),
        *_ceiling_rows(r),
    ]


def _ceiling_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Figure 5: 100 tickets a minute with three audits each, at 100 and at 300 ticket updates a minute."""
    out = []
    for key, label in (("ceiling_100", "updates_per_minute = 100 (the account's limit)"),
                       ("ceiling_300", "updates_per_minute = 300 (High Volume)")):
        c = r[key]
        latency = c["arrival_to_note_minutes"]
        out.append((f"5. {c['per_minute']} tickets/min x 3 audits for {c['hours']:g} h, {label}",
                    f"backlog peak {c['peak_backlog']:,} (at the end {c['backlog_when_arrivals_stop']:,}), drained "
                    f"in {c['drain_minutes']} min; note p50 {latency['p50']} min, p95 {latency['p95']}; "
                    f"{c['max_ticket_updates_per_minute']} updates/min max; {c['calls_per_ticket']:.3f} calls/ticket; "
                    f"{c['rate_limited']} 429s", "bounded, 0 429s",
                    _met(c["counts"]["queued"] == c["counts"]["answered"] == 0 and c["rate_limited"] == 0)))
    return out


def table(lines: Sequence[tuple[str, ...]], head: tuple[str, ...] = ("Figure", "Measured", "Target", "Result")) -> str:
    """A Markdown table (it reads as plain text too), as many columns as ``head``."""
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]

    def fmt(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the scripts")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    started = time.perf_counter()
    print("Running the benchmarks (about 15 minutes)...", file=sys.stderr)
    plan = {
        "split": ("split", "--requests", BACKLOG // scale),
        "day": ("day", "--tickets", 10_000 // scale),
        "backlog_small": ("backlog", "--tickets", SMALL_BACKLOG // scale),
        "backlog": ("backlog", "--tickets", BACKLOG // scale),
        "pace_100": ("backlog", "--tickets", PACE_TICKETS // scale, "--updates-per-minute", 100),
        "pace_300": ("backlog", "--tickets", PACE_TICKETS // scale, "--updates-per-minute", 300),
        "ceiling_100": ("ceiling", "--hours", 24 / scale, "--updates-per-minute", 100),
        "ceiling_300": ("ceiling", "--hours", 6 / scale, "--updates-per-minute", 300),
    }
    results: dict[str, Any] = {}
    loads: dict[str, str] = {}
    for key, (module, *options) in plan.items():
        loads[key] = load()  # the machine is shared: every figure is read beside the load it ran under
        results[key] = scenario(str(module), *options)
    results["load_average"] = loads
    lines = rows(results)
    print(f"\nzendesk-batch-triage benchmarks{' (QUICK: small sizes, not the figures)' if args.quick else ''}")
    print(f"Machine: {machine()}")
    print("Load average (1 / 5 / 15 min) before each scenario: " + "; ".join(f"{k} {v}" for k, v in loads.items()))
    print(f"Total run time: {time.perf_counter() - started:.0f} s\n")
    print(table(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if args.quick or all(row[3] != "MISSED" for row in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
