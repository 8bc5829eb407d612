"""Bytes per ticket in the state database after write-back, measured with the real pipeline (zenpy and the
anthropic SDK over loopback) against both simulators: ``n`` tickets of the simulator's corpus, driven with
``run_once`` until every one is settled, then the pages in use (``page_count - freelist_count`` after a WAL
checkpoint) less those of an empty database, divided by the tickets stored. Once with the default settings,
once with ``privacy.drop_text_after_write``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
START = 1_790_000_000.0


def _used_bytes(db: Any) -> int:
    db.execute("pragma wal_checkpoint(truncate)")
    pages = db.execute("pragma page_count").fetchone()[0] - db.execute("pragma freelist_count").fetchone()[0]
    return pages * db.execute("pragma page_size").fetchone()[0]


def _one(n: int, drop_text: bool, work: Path) -> dict[str, Any]:
    from zdtriage import batches as anth
    from zdtriage import config as config_mod
    from zdtriage import pipeline, store
    from zdtriage import zendesk as zd
    from zdtriage.sim.anthropic import AnthropicSim
    from zdtriage.sim.server import ManualClock
    from zdtriage.sim.zendesk import ZendeskSim
    from zdtriage.store import tickets as queue

    clock = ManualClock(START)
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock)
    asim = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=0.0)
    zsim.start()
    asim.start()
    try:
        name = "drop" if drop_text else "default"
        empty = _used_bytes(store.open_db(work / f"{name}-empty.db"))
        cfg = config_mod.parse({
            "zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": zsim.base_url,
                        "start": "2026-01-01T00:00:00Z", "updates_per_minute": 1000},
            "anthropic": {"base_url": asim.base_url}, "budget": {"daily_usd": 0},
            "privacy": {"drop_text_after_write": drop_text}, "state": {"path": str(work / f"{name}.db")},
        }, ENV)
        db = store.open_db(cfg.state.path)
        ctx = pipeline.Context(config=cfg, db=db, zendesk=zd.make_client(cfg.zendesk),
                               anthropic=anth.make_client(cfg.anthropic), clock=clock)
        zsim.seed(n, 1)
        previous = None
        for _ in range(200):
            pipeline.run_once(ctx)
            clock.advance(61)
            now = (
                queue.counts(db),
                db.execute("select count(*) from tickets where write_started_at is not null").fetchone(),
            )
            if now == previous:
                break
            previous = now
        counts = queue.counts(db)
        stored = sum(counts.values())
        used = _used_bytes(db) - empty
        comments = db.execute("select count(*) from comments").fetchone()[0]
        return {"tickets_seeded": n, "tickets_stored": stored, "written": counts["written"], "comments": comments,
                "bytes": used, "bytes_per_ticket": round(used / stored) if stored else None}
    finally:
        zsim.stop()
        asim.stop()


def measure(n: int) -> dict[str, Any]:
    """``{"default": {...}, "drop_text": {...}}`` for ``n`` simulated tickets."""
    with tempfile.TemporaryDirectory(prefix="zdtriage-bytes-") as tmp:
        return {"default": _one(n, False, Path(tmp)), "drop_text": _one(n, True, Path(tmp))}
