"""Agents change tickets while we work (issue 12): a late opt-out or solve is seen right before write-back,
and a re-triage replaces the previous triage's value tags instead of adding a second set."""

from __future__ import annotations

import json

import pytest
import requests

from zdtriage import prompt
from zdtriage.stages import ingest, poll, submit, writeback
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes


def _agent_put(zsim, ticket_id, **changes):
    # an agent's change through the API (the simulator counts it like any other)
    answer = requests.put(f"{zsim.base_url}/api/v2/tickets/{ticket_id}.json", json={"ticket": changes},
                          auth=("triage-bot@example.com/token", "sim-token"), timeout=10)
    assert answer.status_code == 200


@pytest.mark.parametrize("change, reason", [
    ({"additional_tags": ["no_ai"]}, "opted out by tag no_ai"),
    ({"status": "solved"}, "status solved"),
])
def test_a_change_after_submit_is_seen_right_before_write_back(zsim, make_ctx, clock, change, reason):
    zsim.seed(8, 4)
    ctx = make_ctx()
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    victim = next(ctx.db.query("select id from tickets where state = 'answered' order by id"))["id"]
    _agent_put(zsim, victim, **change)  # no ingest runs in between: only write-back's own read can see it
    out = writeback.writeback(ctx)
    assert out["results"]["skipped"] == 1 and out["jobs_sent"] == 1
    row = queue.get(ctx.db, victim)
    assert row["state"] == "skipped" and row["last_error"] == f"before write-back: {reason}"
    clock.advance(61)
    writeback.writeback(ctx)
    ticket = zsim.ticket(victim)
    assert our_notes(ticket) == [] and prompt.marker_tag(ctx.config.triage) not in ticket["tags"]


def test_retriage_replaces_the_previous_triage_tags(zsim, make_ctx, clock, drive):
    zsim.seed(12, 9)
    ctx = make_ctx(triage={"retriage": True})
    drive(ctx, clock)
    row = next(ctx.db.query("select id from tickets where state = 'written' order by id limit 1"))
    # pretend the first triage said P4 and billing: the second must not leave them beside its own values
    _agent_put(zsim, row["id"], additional_tags=["ai_priority_p4", "ai_category_billing", "ai_lang_xx", "vip"])
    zsim.add_customer_reply(row["id"], "URGENT: production is down, every user is locked out since this morning!")
    clock.advance(120)
    drive(ctx, clock)
    ticket = zsim.ticket(row["id"])
    assert len(our_notes(ticket)) == 2
    tags = set(ticket["tags"])
    for kind in ("priority", "category", "sentiment", "lang"):
        assert len([t for t in tags if t.startswith(f"ai_{kind}_")]) <= 1, tags
    assert {"vip", "ai_triaged"} <= tags  # an agent's tags, and the marker, stay
    answer = json.loads(queue.get(ctx.db, row["id"])["answer"])
    assert set(prompt.triage_tags(answer, ctx.config.triage)) <= tags
