"""Issue 22's figures from one fresh run, each beside its floor or target and its ratio to ``bench/baseline.json``.

``python -m bench.compare`` runs ``bench.day --tickets 10000 --skip-naive``, ``bench.backlog --tickets 20000`` and
``bench.startup`` one after another (about 4 minutes on 2 cores), records the load average before each, and prints
one table; ``--json PATH`` also writes the raw results, ``--write-baseline`` keeps them as the new baseline (only
on the code before a change, on the same machine, right before it). It exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.run import machine, scenario
from bench.run import table as run_table

BASELINE = Path(__file__).resolve().parent / "baseline.json"
DAY_TICKETS = 10_000
BACKLOG_TICKETS = 20_000  # the 100,000 backlog is five times longer; CPU per 1,000 tickets is compared
CALLS_X_FLOOR = 1.05  # issue 22: calls per ticket on the day at most 1.05x the cadence floor
CPU_X_BASELINE = 0.6  # issue 22: CPU per 1,000 tickets, backlog and day, at most 0.6x the baseline


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: every CPU figure is read beside it)."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def measure() -> dict[str, Any]:
    """The three scenarios, fresh interpreters one after another, with the load average before each."""
    out: dict[str, Any] = {"load_average": {}}
    for key, module, args in (("day", "day", ("--tickets", DAY_TICKETS, "--skip-naive")),
                              ("backlog", "backlog", ("--tickets", BACKLOG_TICKETS)),
                              ("startup", "startup", ())):
        out["load_average"][key] = load()
        out[key] = scenario(module, *args)
    out["day"] = out["day"]["ours"]
    out["backlog"]["cpu_s_per_1000_tickets"] = round(1000 * out["backlog"]["pipeline"]["cpu_seconds"]
                                                     / max(out["backlog"]["triaged"], 1), 3)
    return out


def _ratio(now: float, before: float | None) -> str:
    return f"{now / before:.2f}x" if before else "-"


def rows(r: dict[str, Any], base: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(figure, measured, floor or target, ratio to the baseline + result)`` for every line."""
    day, bday = r["day"], base["day"]
    backlog, bbacklog = r["backlog"], base["backlog"]
    out = []
    calls_x = day["calls_per_ticket"] / day["floor_calls_per_ticket"]
    out.append(("day: Zendesk calls per ticket",
                f"{day['calls_per_ticket']:.4f} ({day['zendesk_calls']} calls; {calls_x:.3f}x the floor)",
                f"floor {day['floor_calls_per_ticket']:.4f}; <= {CALLS_X_FLOOR}x",
                f"{_ratio(day['calls_per_ticket'], bday['calls_per_ticket'])} "
                f"{'met' if calls_x <= CALLS_X_FLOOR else 'MISSED'}"))
    for what, key in (("show_many", "show_many (verify)"), ("update_many", "update_many"),
                      ("ticket export", "ticket export")):
        out.append((f"   {what} calls", str(day["by_purpose"].get(key, 0)), "-",
                    _ratio(day["by_purpose"].get(key, 0), bday["by_purpose"].get(key))))
    out.append(("day: arrival to note p50 / p95, min",
                f"{day['arrival_to_note_minutes']['p50']} / {day['arrival_to_note_minutes']['p95']}",
                "p50 <= 35 (bench/run.py)",
                _ratio(day["arrival_to_note_minutes"]["p50"], bday["arrival_to_note_minutes"]["p50"])))
    cpu_day = day["cpu_s_per_1000_tickets"]
    out.append(("day: pipeline CPU-s per 1,000 tickets", f"{cpu_day:.2f} ({day['pipeline_cpu_seconds']} CPU-s)",
                f"<= {CPU_X_BASELINE}x baseline",
                f"{_ratio(cpu_day, bday['cpu_s_per_1000_tickets'])} "
                f"{'met' if cpu_day <= CPU_X_BASELINE * bday['cpu_s_per_1000_tickets'] else 'MISSED'}"))
    for stage, cpu in day["stage_cpu_seconds"].items():
        out.append((f"   {stage} CPU-s", f"{cpu:.2f}", "-", _ratio(cpu, bday["stage_cpu_seconds"].get(stage))))
    listed = day["anthropic_calls"].get("GET /v1/messages/batches", 0)
    out.append(("   batches.list calls (poll)", str(listed), "-",
                _ratio(listed, bday["anthropic_calls"].get("GET /v1/messages/batches"))))
    cpu_backlog = backlog["cpu_s_per_1000_tickets"]
    out.append((f"backlog of {backlog['tickets_seeded']:,}: pipeline CPU-s per 1,000 tickets",
                f"{cpu_backlog:.2f} ({backlog['pipeline']['cpu_seconds']} CPU-s, {backlog['triaged']:,} triaged)",
                f"<= {CPU_X_BASELINE}x baseline",
                f"{_ratio(cpu_backlog, bbacklog['cpu_s_per_1000_tickets'])} "
                f"{'met' if cpu_backlog <= CPU_X_BASELINE * bbacklog['cpu_s_per_1000_tickets'] else 'MISSED'}"))
    out.append(("   wall time, s", f"{backlog['wall_seconds']}", "-",
                _ratio(backlog["wall_seconds"], bbacklog["wall_seconds"])))
    out.append(("   peak RSS, MB", f"{backlog['pipeline']['peak_rss_mb']}", "< 300",
                _ratio(backlog["pipeline"]["peak_rss_mb"], bbacklog["peak_rss_mb"])))
    st, bst = r["startup"], base["startup"]
    out.append(("start-up: python -c pass, CPU-s", f"{st['python_pass_cpu_s']:.3f}", "-",
                _ratio(st["python_pass_cpu_s"], bst["python_pass_cpu_s"])))
    for name, c in st["commands"].items():
        before = bst["commands"].get(name, {})
        heavy = f"; imports {', '.join(c['heavy'])}" if c["heavy"] else "; no pydantic, no client"
        out.append((f"   zdtriage {name.replace('_', ' --').replace('version', '--version')}, CPU-s",
                    f"{c['cpu_s']:.3f} ({c['x_pass']}x pass{heavy})", f"<= {st['floor_x_pass']:g}x pass",
                    f"{_ratio(c['cpu_s'], before.get('cpu_s'))} "
                    f"{'met' if c['x_pass'] <= st['floor_x_pass'] else 'MISSED'}"))
    return out


def table(lines: list[tuple[str, str, str, str]]) -> str:
    """The figures as :func:`bench.run.table` writes them, with this comparison's columns."""
    return run_table(lines, ("Figure", "Measured", "Floor or target", "Ratio to baseline, result"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--write-baseline", action="store_true", help="keep this run as bench/baseline.json")
    parser.add_argument("--from-json", type=Path, help="print the table of an earlier --json run, measure nothing")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = json.loads(args.from_json.read_text()) if args.from_json else measure()
    if args.write_baseline:
        BASELINE.write_text(json.dumps(results, indent=2) + "\n")
    base = json.loads(BASELINE.read_text())
    lines = rows(results, base)
    print("\nIssue 22: each figure beside its floor or target, and its ratio to bench/baseline.json")
    print(f"Machine: {machine()}")
    print(f"Baseline: {base.get('measured_on', '-')}")
    print("Load average (1 / 5 / 15 min) before each scenario: "
          + "; ".join(f"{k} {v}" for k, v in results["load_average"].items()))
    if not args.from_json:
        print(f"Total run time: {time.perf_counter() - started:.0f} s")
    print()
    print(table(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all("MISSED" not in row[3] for row in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
