"""A refused account is not a failed ticket (issue 11): the key, billing, credit, permission, model, rate
limits. Tickets stay queued with no attempt counted, submitting backs off, status shows it, and it clears
by itself when the account is fixed. A 400 that names one request fails that ticket only; a create whose
outcome is unknown is reconciled, never sent twice."""

from __future__ import annotations

import pytest

from zdtriage import batches as anth
from zdtriage import prompt, reports
from zdtriage.stages import common, ingest, submit
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes


@pytest.mark.parametrize("kind", ["authentication", "billing", "permission", "credit", "spend_limit", "model",
                                  "rate_limit"])
def test_an_account_refusal_holds_submitting_and_counts_nothing_against_tickets(zsim, asim, make_ctx, clock, drive,
                                                                               kind):
    zsim.seed(10, 5)
    ctx = make_ctx()
    asim.refuse(kind)
    ingest.ingest(ctx)
    first = submit.submit(ctx, ignore_min_batch=True)
    assert first["submitted"] == 0 and "held" in first
    queued = queue.counts(ctx.db)["queued"]
    for _ in range(6):  # hours of refusals: still nothing against the tickets, and few creates tried
        clock.advance(1200)
        submit.submit(ctx, ignore_min_batch=True)
    assert queue.counts(ctx.db)["queued"] == queued and queue.counts(ctx.db)["dead"] == 0
    assert next(ctx.db.query("select max(attempts) as n from tickets"))["n"] == 0
    status = reports.status(ctx.db, ctx.config, clock())
    assert status["submit_held"] and status["submit_held"]["reason"].startswith("Anthropic answered")
    asim.clear_refusal()
    clock.advance(common.BLOCK_MAX)
    counts = drive(ctx, clock)
    assert counts["written"] > 0 and counts["queued"] == counts["dead"] == 0
    assert reports.status(ctx.db, ctx.config, clock())["submit_held"] is None
    failed = prompt.failed_tag(ctx.config.triage)
    assert not any(failed in t["tags"] for t in zsim.snapshot())


def test_a_400_naming_one_request_fails_that_ticket_only(zsim, make_ctx, clock, drive, monkeypatch):
    zsim.seed(8, 6)
    ctx = make_ctx()
    ingest.ingest(ctx)
    victim = next(ctx.db.query("select id from tickets where state = 'queued' order by id"))["id"]
    real = prompt.custom_id
    monkeypatch.setattr(prompt, "custom_id", lambda t, n: "not a valid id!" if t == victim else real(t, n))
    out = submit.submit(ctx, ignore_min_batch=True)
    assert out["submitted"] == 0 and out["dead"] == 1
    row = queue.get(ctx.db, victim)
    assert row["state"] == "dead" and "custom_id" in row["last_error"]
    assert next(ctx.db.query("select max(attempts) as n from tickets where id != ?", [victim]))["n"] == 0
    monkeypatch.undo()
    counts = drive(ctx, clock)
    assert counts["dead"] == 1 and counts["written"] == queue.counts(ctx.db)["written"] > 0


def test_a_create_that_timed_out_is_reconciled_not_sent_again(zsim, asim, make_ctx, clock, drive, monkeypatch):
    zsim.seed(6, 7)
    ctx = make_ctx()
    ingest.ingest(ctx)
    real = anth.create_batch

    def lands_then_times_out(client, requests):
        real(client, requests)
        raise anth.BatchError("cannot reach Anthropic: APITimeoutError", retryable=True, kind=anth.TRANSIENT)

    monkeypatch.setattr(anth, "create_batch", lands_then_times_out)
    out = submit.submit(ctx, ignore_min_batch=True)
    assert "error" in out and queue.counts(ctx.db)["submitted"] > 0  # not requeued: the batch may exist
    monkeypatch.undo()
    clock.advance(ctx.config.anthropic.verify_after + 1)
    assert submit.submit(ctx, ignore_min_batch=True)["adopted"] == 1
    drive(ctx, clock)
    assert len(asim.batches()) == 1  # one batch billed
    assert all(len(our_notes(t)) <= 1 for t in zsim.snapshot())
