"""Scope and pilot mode (issue 14): brands, groups, forms and custom statuses decide eligibility like the
statuses and skip tags do; `triage.sample` takes a deterministic share; `writeback.mode` writes the tags
alone, or nothing at all while the answers stay in the state."""

from __future__ import annotations

import pytest

from zdtriage import prompt, reports
from zdtriage.sim.zendesk_shapes import BRAND_ID, CUSTOM_STATUS, GROUP_ID, TICKET_FORM_ID
from zdtriage.stages import common, ingest
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes


def _queued(ctx):
    return {r["id"] for r in ctx.db.query("select id from tickets where state = 'queued'")}


@pytest.mark.parametrize("setting, inside", [
    ("brands", BRAND_ID), ("groups", GROUP_ID), ("forms", TICKET_FORM_ID),
])
def test_a_ticket_outside_the_configured_scope_is_never_queued(zsim, make_ctx, setting, inside):
    zsim.seed(10, 8)
    ctx = make_ctx(triage={setting: [inside + 1]})
    ingest.ingest(ctx)
    assert _queued(ctx) == set()
    ctx = make_ctx(triage={setting: [inside + 1, inside]})
    ctx.db.execute("delete from sync")
    ingest.ingest(ctx)
    assert len(_queued(ctx)) > 0


def test_custom_statuses_narrow_the_statuses(zsim, make_ctx):
    for status in ("new", "open"):
        zsim.add_ticket(subject=f"A {status} one", description="Help", status=status, created_at=zsim.clock() - 600)
    ctx = make_ctx(triage={"custom_statuses": [CUSTOM_STATUS["open"]]})
    ingest.ingest(ctx)
    rows = list(ctx.db.query("select zd_status from tickets where state = 'queued'"))
    assert [r["zd_status"] for r in rows] == ["open"]


def test_the_sample_is_a_deterministic_share(zsim, make_ctx, clock, drive):
    ids = [t["id"] for t in (zsim.add_ticket(subject=f"Ticket {i}", description="Please help", status="new",
                                             created_at=clock() - 600) for i in range(200))]
    ctx = make_ctx(triage={"sample": 0.3})
    ingest.ingest(ctx)
    chosen = _queued(ctx)
    assert chosen == {i for i in ids if common.in_sample(i, 0.3)}
    assert 40 <= len(chosen) <= 80
    drive(ctx, clock)
    noted = {t["id"] for t in zsim.snapshot() if our_notes(t)}
    assert noted == chosen  # the rest is never written to


def test_tags_mode_writes_the_tags_and_no_note(zsim, make_ctx, clock, drive):
    zsim.seed(12, 12)
    ctx = make_ctx(writeback={"mode": "tags"})
    counts = drive(ctx, clock)
    assert counts["written"] > 0
    written = {r["id"] for r in ctx.db.query("select id from tickets where state = 'written'")}
    for ticket in zsim.snapshot():
        assert our_notes(ticket) == []
        if ticket["id"] in written:
            assert prompt.marker_tag(ctx.config.triage) in ticket["tags"]


def test_off_mode_writes_nothing_and_keeps_the_answers(zsim, make_ctx, clock, drive):
    zsim.seed(12, 13)
    before = zsim.stats()
    ctx = make_ctx(writeback={"mode": "off"})
    counts = drive(ctx, clock)
    assert counts["answered"] > 0 and counts["written"] == 0
    after = zsim.stats()
    assert after["ticket_updates"] == before["ticket_updates"] and after["jobs_created"] == before["jobs_created"]
    assert all(our_notes(t) == [] and "ai_triaged" not in t["tags"] for t in zsim.snapshot())
    answers = [
        queue.get(ctx.db, r["id"])["answer"] for r in ctx.db.query("select id from tickets where state = 'answered'")
    ]
    assert all(answers)
    pilot = reports.report(ctx.db, ctx.config)["answered_not_written"]  # what the admin reads before turning it on
    assert pilot["tickets"] == counts["answered"] and sum(pilot["by_priority"].values()) == counts["answered"]
