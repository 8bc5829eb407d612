"""Figure 2 (and 4): a backlog of seeded tickets driven from ingest to written on a simulated clock.

Run as ``python -m bench.backlog --tickets 100000`` from the repository root; prints one JSON
object. This process is the pipeline (plus a tiny driver); both simulators run in a child
process, so ``pipeline.peak_rss_mb`` and ``pipeline.cpu_seconds`` are ours alone.

How the backlog is driven, with the real stage functions and the shared simulated clock moved
61 s after every round (a fresh export rate-limit window, write jobs completed):

1. ingest until the ticket export reaches its end (4 pages of 1,000 a run, as the daemon);
2. read the comment-event export until it is caught up (``sync_conversations``, 4 pages a run),
   so that every request is built from the whole conversation;
3. one ``submit`` for the whole queue: requests are built lazily and cut into batches by
   ``split_batches`` (``TARGET_BATCH_BYTES`` each) — the daemon meets the same large queue after a backfill;
4. rounds of ingest → submit → poll → writeback (what ``run_once`` does), until every ticket
   is settled and confirmed in Zendesk.

Anthropic processing takes zero simulated time here (no model time in the figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import harness

ROUND_SECONDS = 61.0  # one export rate-limit window (60 s) and a bit
MAX_ROUNDS = 5000


def _timed(totals: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` and add its wall time to ``totals[name]``."""
    started = time.perf_counter()
    try:
        return fn()
    finally:
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - started


def drive(ctx: Any, clock: harness.SharedClock) -> dict[str, Any]:
    """Phases 1–4 of the module docstring; returns wall seconds per stage and the rounds used."""
    from zdtriage import store
    from zdtriage.stages import conversations, ingest, poll, submit, writeback

    spent: dict[str, float] = {}
    peaks: dict[str, float] = {}  # VmHWM after each phase: where the peak was reached
    rounds = 0

    def tick() -> None:
        nonlocal rounds
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise RuntimeError(f"backlog still moving after {MAX_ROUNDS} rounds")
        clock.advance(ROUND_SECONDS)

    while True:  # 1. the ticket export, to its end
        out = _timed(spent, "ingest", lambda: ingest.ingest(ctx))
        tick()
        if "error" in out:
            raise RuntimeError(f"ingest: {out['error']}")
        if "waiting" not in out and out["pages"] < ingest.EXPORT_PAGES_PER_RUN:
            break
    peaks["ingest"] = round(harness.peak_rss_mb(), 1)
    while True:  # 2. the comment-event export, to its end
        before = store.get_sync(ctx.db, "events_time")
        _timed(spent, "conversations", lambda: conversations.sync(ctx))
        tick()
        if store.get_sync(ctx.db, "events_time") == before:
            break
    peaks["conversations"] = round(harness.peak_rss_mb(), 1)
    out = _timed(spent, "submit", lambda: submit.submit(ctx, ignore_min_batch=True))  # 3. the whole queue
    if "error" in out:
        raise RuntimeError(f"submit: {out['error']}")
    peaks["submit"] = round(harness.peak_rss_mb(), 1)
    while harness.pending_work(ctx):  # 4. run_once rounds, stage by stage to time each
        _timed(spent, "ingest", lambda: ingest.ingest(ctx))
        _timed(spent, "submit", lambda: submit.submit(ctx, ignore_min_batch=True))
        _timed(spent, "poll", lambda: poll.poll(ctx))
        out = _timed(spent, "writeback", lambda: writeback.writeback(ctx))
        if "error" in out:
            raise RuntimeError(f"writeback: {out['error']}")
        tick()
    peaks["drain"] = round(harness.peak_rss_mb(), 1)
    return {"stage_seconds": {k: round(v, 1) for k, v in spent.items()}, "rounds": rounds, "peak_rss_after": peaks}


def run(tickets: int, seed: int, updates_per_minute: int, job_seconds: float) -> dict[str, Any]:
    """Seed ``tickets``, drive them all to written, and measure."""
    from zdtriage.store import tickets as queue

    clock = harness.SharedClock()
    with harness.Sims(clock, zendesk={"job_complete_after_seconds": job_seconds},
                      anthropic={"processing_seconds": 0.0, "seed": seed}) as sims:
        started = time.perf_counter()
        sims.call("seed", tickets, seed)
        seed_seconds = time.perf_counter() - started
        pipe = harness.make_pipeline(
            sims, clock,
            # the backlog starts before the oldest seeded ticket (corpus tickets are at most ~90 days old)
            zendesk={"start": harness.epoch_iso(harness.START - 400 * 86400),
                     "updates_per_minute": updates_per_minute, "verify_after": "5m"},
            budget={"daily_usd": 0},  # no cap: 100,000 tickets cost more than the default $50 a day
        )
        ctx = pipe.ctx
        sim_before = sims.call("resources")
        cpu_before = harness.cpu_seconds()
        started = time.perf_counter()
        driven = drive(ctx, clock)
        wall = time.perf_counter() - started
        cpu = harness.cpu_seconds() - cpu_before
        sim_after = sims.call("resources")
        counts = queue.counts(ctx.db)
        batches = list(ctx.db.query("select request_count, bytes from batches order by created_at"))
        stats = sims.call("zendesk_stats")
        outcome = sims.call("outcome")
        settled = counts["written"] + counts["dead"]
        result = {
            "tickets_seeded": tickets,
            "triaged": settled,
            "counts": counts,
            "seed_seconds": round(seed_seconds, 1),
            "wall_seconds": round(wall, 1),
            "simulated_hours": round(driven["rounds"] * ROUND_SECONDS / 3600, 1),
            **driven,
            "pipeline": {"peak_rss_mb": round(harness.peak_rss_mb(), 1), "cpu_seconds": round(cpu, 1)},
            "sims": {"peak_rss_mb": round(sim_after["peak_rss_mb"], 1),
                     "cpu_seconds": round(sim_after["cpu_seconds"] - sim_before["cpu_seconds"], 1)},
            "tickets_per_second_wall": round(settled / wall, 1),
            "tickets_per_cpu_second": round(settled / cpu, 1),
            "batches": {"count": len(batches), "max_requests": max((b["request_count"] for b in batches), default=0),
                        "max_mb": round(max((b["bytes"] for b in batches), default=0) / 2**20, 1)},
            "zendesk_stats": {k: stats[k] for k in ("max_update_many_size", "max_jobs_in_flight",
                                                    "max_ticket_updates_per_minute", "jobs_created", "rate_limited")},
            "updates_per_minute": updates_per_minute,
            "outcome": outcome,
            # every triaged ticket carries exactly one internal note (or the failed tag), none public
            "ok": (outcome["one_note"] == counts["written"] and outcome["more_notes"] == 0
                   and outcome["public_notes"] == 0 and outcome["failed_tag"] >= counts["dead"]),
        }
        harness.cleanup(pipe.workdir)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--updates-per-minute", type=int, default=10_000,
                        help="zendesk.updates_per_minute (default 10,000: paced by our 10 jobs in flight)")
    parser.add_argument("--job-seconds", type=float, default=5.0, help="simulated time an update_many job takes")
    args = parser.parse_args(argv)
    json.dump(run(args.tickets, args.seed, args.updates_per_minute, args.job_seconds), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
