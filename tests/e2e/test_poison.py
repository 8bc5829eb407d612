"""Poison pills (issue 12): one ticket that cannot be processed becomes dead with its reason, and the
stage goes on for the others, in every stage."""

from __future__ import annotations

from zdtriage import prompt
from zdtriage.stages import common, ingest, poll, submit, writeback
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes


def test_a_ticket_that_cannot_be_stored_is_dead_and_the_page_goes_on(zsim, make_ctx, monkeypatch):
    zsim.seed(6, 20)
    ctx = make_ctx()
    real = ingest._save_page
    poisoned = {}

    def with_a_poison(ctx_, tickets):
        # one eligible ticket's requester id is one no SQLite integer can hold
        if "id" not in poisoned:
            poisoned["id"] = next(t["id"] for t in tickets if common.eligible(t, ctx_.config)[0])
        return real(ctx_, [{**t, "requester_id": 2**70} if t["id"] == poisoned["id"] else t for t in tickets])

    monkeypatch.setattr(ingest, "_save_page", with_a_poison)
    out = ingest.ingest(ctx)
    assert out["dead"] == 1 and out["queued"] > 0
    row = queue.get(ctx.db, poisoned["id"])
    assert row["state"] == "dead" and row["last_error"] == "cannot store the ticket: OverflowError"


def test_a_request_that_cannot_be_built_is_dead_and_the_rest_is_sent(zsim, make_ctx, monkeypatch):
    zsim.seed(6, 21)
    ctx = make_ctx()
    ingest.ingest(ctx)
    victim = next(ctx.db.query("select id from tickets where state = 'queued' order by id"))["id"]
    real = prompt.custom_id
    monkeypatch.setattr(prompt, "custom_id", lambda t, n: (_ for _ in ()).throw(ValueError("boom")) if t == victim
                        else real(t, n))
    out = submit.submit(ctx, ignore_min_batch=True)
    assert out["dead"] == 1 and out["submitted"] == queue.counts(ctx.db)["submitted"] > 0
    assert queue.get(ctx.db, victim)["last_error"] == "cannot build the request: ValueError"


def test_an_answer_that_cannot_be_written_is_dead_and_the_rest_is_written(zsim, make_ctx, clock, drive):
    zsim.seed(8, 22)
    ctx = make_ctx()
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    victim = next(ctx.db.query("select id from tickets where state = 'answered' order by id"))["id"]
    ctx.db.execute("update tickets set answer = '{broken' where id = ?", [victim])  # a corrupt row
    out = writeback.writeback(ctx)
    assert out["jobs_sent"] == 1 and out["results"]["error"] == 1
    assert queue.get(ctx.db, victim)["state"] == "dead"
    counts = drive(ctx, clock)
    assert counts["written"] > 0 and counts["dead"] == 1
    assert our_notes(zsim.ticket(victim)) == []
