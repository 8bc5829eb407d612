"""The whole pipeline against both simulators through zenpy and the anthropic SDK."""

from __future__ import annotations

import json
from dataclasses import replace

import requests

from zdtriage import pipeline, prompt
from zdtriage.demo import check_outcome, eligible_ids
from zdtriage.sim.zendesk_store import BOT_USER_ID
from zdtriage.stages import ingest, poll, submit
from zdtriage.store import tickets as queue


def our_notes(ticket):
    return [c for c in ticket["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]


def test_every_eligible_ticket_gets_exactly_one_internal_note_and_its_tags(zsim, make_ctx, clock, drive):
    zsim.seed(60, 3)
    before = zsim.snapshot()
    ctx = make_ctx()
    counts = drive(ctx, clock)

    after = zsim.snapshot()
    outcome = check_outcome(before, after, ctx.config.triage)
    assert outcome["problems"] == []
    eligible = eligible_ids(before, ctx.config.triage)
    assert outcome["written"] + outcome["failed"] == len(eligible) > 30
    assert counts["written"] == outcome["written"] and counts["dead"] == outcome["failed"]
    assert counts["queued"] == counts["submitted"] == counts["answered"] == 0

    by_id = {t["id"]: t for t in after}
    for row in ctx.db.query("select * from tickets where state = 'written'"):
        ticket = by_id[row["id"]]
        answer = json.loads(row["answer"])
        assert set(prompt.triage_tags(answer, ctx.config.triage)) <= set(ticket["tags"])
        (note,) = our_notes(ticket)
        assert note["public"] is False
        assert prompt.is_our_note(note["body"], public=note["public"], author_id=note["author_id"],
                                  bot_user_id=BOT_USER_ID, ticket_id=row["id"], triage_n=1)
        assert answer["draft"][:40] in note["body"]


def test_a_further_run_writes_nothing(zsim, make_ctx, clock, drive):
    zsim.seed(30, 5)
    ctx = make_ctx()
    drive(ctx, clock)
    snapshot = zsim.snapshot()
    calls = zsim.call_counts()
    for _ in range(3):
        pipeline.run_once(ctx)
        clock.advance(61)
    assert zsim.snapshot() == snapshot
    writes = {
        k: v for k, v in zsim.call_counts().items() if k.startswith(("PUT", "POST", "DELETE")) and "/_sim/" not in k
    }
    assert writes == {k: v for k, v in calls.items() if k.startswith(("PUT", "POST", "DELETE")) and "/_sim/" not in k}
    # our own write-back brought the tickets back in the export, and none was queued again
    assert queue.counts(ctx.db)["queued"] == 0


def test_update_many_carries_at_most_100_tickets(zsim, make_ctx, clock, drive):
    zsim.seed(260, 8)
    ctx = make_ctx(zendesk={"updates_per_minute": 1000})
    drive(ctx, clock)
    stats = zsim.stats()
    assert 0 < stats["max_update_many_size"] <= 100
    assert stats["max_jobs_in_flight"] <= 30
    written = queue.counts(ctx.db)["written"]
    assert zsim.call_counts().get("PUT /api/v2/tickets/update_many.json", 0) >= written / 100


def test_customer_reply_after_the_note_requeues_only_with_retriage_on(zsim, make_ctx, clock, drive):
    zsim.seed(12, 9)
    ctx = make_ctx(triage={"retriage": True})
    drive(ctx, clock)
    row = next(ctx.db.query("select id from tickets where state = 'written' order by id limit 1"))
    zsim.add_customer_reply(row["id"], "Still broken, please call me back today.")
    clock.advance(120)
    drive(ctx, clock)
    ticket = next(t for t in zsim.snapshot() if t["id"] == row["id"])
    notes = our_notes(ticket)
    assert len(notes) == 2 and all(not n["public"] for n in notes)
    assert prompt.is_our_note(notes[1]["body"], public=notes[1]["public"], author_id=notes[1]["author_id"],
                              bot_user_id=BOT_USER_ID, ticket_id=row["id"], triage_n=2)


def test_customer_reply_is_ignored_with_retriage_off(zsim, make_ctx, clock, drive):
    zsim.seed(12, 9)
    ctx = make_ctx()
    drive(ctx, clock)
    row = next(ctx.db.query("select id from tickets where state = 'written' order by id limit 1"))
    zsim.add_customer_reply(row["id"], "Thanks!")
    clock.advance(120)
    drive(ctx, clock)
    ticket = next(t for t in zsim.snapshot() if t["id"] == row["id"])
    assert len(our_notes(ticket)) == 1


def test_ticket_closed_before_write_back_is_skipped(zsim, asim, make_ctx, clock, drive):
    zsim.seed(10, 2)
    ctx = make_ctx()
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    answered = [r["id"] for r in ctx.db.query("select id from tickets where state = 'answered'")]
    assert answered
    victim = answered[0]
    closed = requests.put(f"{zsim.base_url}/api/v2/tickets/{victim}.json", json={"ticket": {"status": "closed"}},
                          auth=("triage-bot@example.com/token", "sim-token"), timeout=10)
    assert closed.status_code == 200
    drive(ctx, clock)
    assert queue.get(ctx.db, victim)["state"] == "skipped"
    ticket = next(t for t in zsim.snapshot() if t["id"] == victim)
    assert our_notes(ticket) == []


def test_first_run_without_a_start_time_is_not_refused_as_too_recent(zsim, make_ctx, clock):
    # Zendesk answers 422 "Too recent start_time" inside its last minute; the first sync must start earlier
    ctx = make_ctx()
    ctx.config = replace(ctx.config, zendesk=replace(ctx.config.zendesk, start=None))
    zsim.add_ticket(subject="Printer on fire", description="Please help, the invoice printer is on fire",
                    created_at=clock() - 120)
    summary = ingest.ingest(ctx)
    assert "error" not in summary
    assert summary["queued"] == 1
    sent = submit.submit(ctx, ignore_min_batch=True)
    assert "error" not in sent and sent["submitted"] == 1
