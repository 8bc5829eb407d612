"""A host clock that ran a day ahead, then was corrected (issue 12): no stored deadline keeps a stage or a
ticket waiting until "tomorrow", and an export start in the future is a visible problem."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zdtriage import pipeline, reports, store
from zdtriage.config import parse
from zdtriage.stages import common, ingest
from zdtriage.store import tickets as queue
from zdtriage.store import writes
from zdtriage.timeutil import iso

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
DAY = 86_400.0


@pytest.fixture
def ctx():
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    clock = {"now": NOW + DAY}  # a day fast
    ctx = pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=lambda: clock["now"])
    ctx.correct = lambda: clock.update(now=NOW)  # type: ignore[attr-defined]
    return ctx


def test_a_rate_limit_block_stored_by_a_fast_clock_ends_within_the_hour(ctx):
    common.block(ctx, "ingest", 30)
    ctx.correct()
    assert common.blocked_until(ctx, "ingest") <= NOW + common.BLOCK_MAX


def test_a_retry_time_stamped_by_a_fast_clock_is_due(ctx):
    ctx.db["tickets"].insert({"id": 1, "state": "failed", "next_attempt_at": iso(NOW + DAY + 60)})
    ctx.db["tickets"].insert({"id": 2, "state": "failed", "next_attempt_at": iso(NOW + 600)})
    assert queue.promote_due(ctx.db, NOW) == 1
    assert queue.get(ctx.db, 1)["state"] == "queued" and queue.get(ctx.db, 2)["state"] == "failed"


def test_an_unsure_write_stamped_by_a_fast_clock_is_still_verified(ctx):
    ctx.db["tickets"].insert({"id": 1, "state": "answered", "write_kind": "note", "write_triage_n": 1,
                              "write_started_at": iso(NOW + DAY)})
    assert [r["id"] for r in writes.unsure_writes(ctx.db, NOW - 300, NOW)] == [1]


def test_a_first_start_taken_from_a_fast_clock_is_moved_back(ctx):
    ingest.start_time(ctx)  # stored while the clock is a day ahead
    ctx.correct()
    assert ingest.start_time(ctx) == int(NOW - ingest.FIRST_START_MARGIN)
    assert "clock" not in reports.status(ctx.db, ctx.config, NOW)["problems"]


def test_a_configured_start_in_the_future_is_shown_as_a_problem(ctx):
    ctx.correct()
    ctx.config = replace(ctx.config, zendesk=replace(ctx.config.zendesk, start="2027-01-01T00:00:00Z"))
    ingest.start_time(ctx)
    problem = reports.status(ctx.db, ctx.config, NOW)["problems"]["clock"]["message"]
    assert "2027-01-01" in problem and "future" in problem
