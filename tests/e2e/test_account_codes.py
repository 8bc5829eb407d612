"""Anthropic refusals read by their codes, creates whose outcome is unknown, results that are late (issue 23
items 5 and 6), through the Anthropic simulator.

Sources: the coded refusals are anthropic 2.17's typed errors (``types/shared/*_error.py``; see
``zdtriage.sim.anthropic.CODED_REFUSALS``); DESIGN §7 for a create answered 5xx or cut that still created its
batch, and for a results download answering 404 just after the end and 200 seventy seconds later.
"""

from __future__ import annotations

import pytest

from zdtriage import batches as anth
from zdtriage import reports
from zdtriage.sim import model as stand_in
from zdtriage.sim.anthropic import RESULTS_LATE_SECONDS
from zdtriage.stages import common, ingest, poll, submit
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes


def _attempts(ctx) -> int:
    return next(ctx.db.query("select max(attempts) as n from tickets"))["n"] or 0


@pytest.mark.parametrize("kind", ["organization_on_hold", "enforced_spend_limit_reached",
                                  "contract_spend_limit_reached", "ramp_limit_exceeded",
                                  "linked_organization_spend_limit_reached",
                                  "unknown_code_402"])
def test_a_coded_refusal_holds_the_account_and_counts_nothing(zsim, asim, make_ctx, clock, drive, kind):
    zsim.seed(6, 21)
    ctx = make_ctx()
    asim.refuse(kind, retry_after=600)
    ingest.ingest(ctx)
    first = submit.submit(ctx, ignore_min_batch=True)
    assert first["submitted"] == 0 and "held" in first
    for _ in range(4):
        clock.advance(1200)
        submit.submit(ctx, ignore_min_batch=True)
    counts = queue.counts(ctx.db)
    assert counts["submitted"] == counts["dead"] == counts["failed"] == 0 and counts["queued"] > 0
    assert _attempts(ctx) == 0
    held = reports.status(ctx.db, ctx.config, clock())["submit_held"]
    code = kind if not kind.startswith("unknown") else "some_future_billing_code"
    assert held and held["reason"].startswith("Anthropic answered ") and code in held["reason"]
    asim.clear_refusal()
    clock.advance(common.BLOCK_MAX)
    counts = drive(ctx, clock)
    assert counts["written"] > 0 and counts["queued"] == counts["dead"] == 0


def test_the_code_decides_not_the_status_or_the_wording(asim):
    client = anth.make_client(type("A", (), {"api_key": "sim-key", "base_url": asim.base_url})())
    request = {"custom_id": "zt-1-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 10,
                                                 "messages": [{"role": "user", "content": "hi"}]}}
    seen = {}
    for kind in ("organization_on_hold", "ramp_limit_exceeded", "unknown_code_400", "unknown_code_402"):
        asim.refuse(kind, retry_after=30)
        with pytest.raises(anth.BatchError) as info:
            anth.create_batch(client, [request])
        seen[kind] = (info.value.kind, info.value.code, info.value.passing, info.value.outcome_unknown)
    assert seen == {
        "organization_on_hold": (anth.ACCOUNT, "organization_on_hold", False, False),  # a 400, yet the account
        "ramp_limit_exceeded": (anth.ACCOUNT, "ramp_limit_exceeded", True, False),
        "unknown_code_400": (anth.BATCH, "some_future_code", False, False),  # unknown code: its type decides
        "unknown_code_402": (anth.ACCOUNT, "some_future_billing_code", False, False),
    }


def test_an_unknown_code_on_a_bad_request_is_read_as_its_type(zsim, asim, make_ctx, clock):
    zsim.seed(4, 22)
    ctx = make_ctx()
    asim.refuse("unknown_code_400")
    ingest.ingest(ctx)
    out = submit.submit(ctx, ignore_min_batch=True)
    # invalid_request_error naming no request: the batch as such was refused, an attempt per ticket, no hold
    assert "held" not in out and out["submitted"] == 0
    assert reports.status(ctx.db, ctx.config, clock())["submit_held"] is None
    assert _attempts(ctx) == 1 and queue.counts(ctx.db)["submitted"] == 0


def test_the_ramp_limit_waits_its_retry_after_only(zsim, asim, make_ctx, clock):
    zsim.seed(5, 23)
    ctx = make_ctx()
    asim.refuse("ramp_limit_exceeded", retry_after=30)
    ingest.ingest(ctx)
    assert "held" in submit.submit(ctx, ignore_min_batch=True)
    clock.advance(20)
    assert "waiting" in submit.submit(ctx, ignore_min_batch=True)  # still within retry-after
    asim.clear_refusal()
    clock.advance(11)
    out = submit.submit(ctx, ignore_min_batch=True)
    assert out["batches"] == 1 and out["submitted"] > 0  # 31 s later, not the 5-minute account hold
    assert _attempts(ctx) == 0


def test_a_model_not_found_per_request_holds_the_account_and_counts_nothing(zsim, asim, make_ctx, clock, drive,
                                                                            monkeypatch):
    zsim.seed(6, 24)
    ctx = make_ctx()
    ingest.ingest(ctx)
    # the model is withdrawn after the create was accepted: every request of the batch errors with the 404 body
    # of error-404-not-found-model.json ("model: …"), per request as the sim's batches report it
    monkeypatch.setattr(stand_in, "resolve_model", lambda name: None)
    sent = submit.submit(ctx, ignore_min_batch=True)["submitted"]
    assert sent > 0
    clock.advance(5)
    out = poll.poll(ctx)
    assert out["results"] == {"account": sent} and "held" in out
    counts = queue.counts(ctx.db)
    assert counts["queued"] == sent and counts["failed"] == counts["dead"] == 0 and _attempts(ctx) == 0
    held = reports.status(ctx.db, ctx.config, clock())["submit_held"]
    assert held and "not_found_error: model:" in held["reason"]
    assert "held until" in submit.submit(ctx, ignore_min_batch=True)["waiting"]
    monkeypatch.undo()
    clock.advance(common.BLOCK_MAX)
    counts = drive(ctx, clock)
    assert counts["written"] > 0 and counts["dead"] == counts["queued"] == 0


@pytest.mark.parametrize("fault", ["create_landed_500", "create_landed_drop"])
def test_a_create_that_landed_then_failed_is_reconciled_never_billed_twice(zsim, asim, make_ctx, clock, drive, fault):
    zsim.seed(7, 25)
    ctx = make_ctx()
    ingest.ingest(ctx)
    asim.set_faults(**{fault: 1.0})
    out = submit.submit(ctx, ignore_min_batch=True)
    assert "error" in out and out["submitted"] == 0
    assert len(asim.batches()) == 1  # it landed
    submitted = queue.counts(ctx.db)["submitted"]
    assert submitted > 0  # not requeued: the batch may exist
    asim.set_faults(**{fault: 0.0})
    clock.advance(10)
    assert submit.submit(ctx, ignore_min_batch=True)["batches"] == 0  # nothing sent again before the check
    clock.advance(ctx.config.anthropic.verify_after)
    assert submit.submit(ctx, ignore_min_batch=True)["adopted"] == 1
    drive(ctx, clock)
    assert len(asim.batches()) == 1 and asim.requests_seen() == submitted  # one batch billed
    tickets = zsim.snapshot()
    assert all(len(our_notes(t)) <= 1 for t in tickets)
    assert queue.counts(ctx.db)["written"] == submitted and _attempts(ctx) == 0


def test_results_that_answer_404_just_after_the_end_are_asked_again(zsim, asim, make_ctx, clock, drive):
    zsim.seed(6, 26)
    ctx = make_ctx()
    ingest.ingest(ctx)
    asim.set_faults(results_late=1.0)
    sent = submit.submit(ctx, ignore_min_batch=True)["submitted"]
    clock.advance(5)
    out = poll.poll(ctx)
    assert out["collected"] == 0 and out["open"] == 1 and out.get("results_late") == 1
    assert queue.counts(ctx.db)["submitted"] == sent  # not given up, not requeued
    clock.advance(RESULTS_LATE_SECONDS)
    out = poll.poll(ctx)
    assert out["collected"] == 1 and out["results"].get("answered", 0) > 0
    drive(ctx, clock)
    assert len(asim.batches()) == 1 and asim.requests_seen() == sent  # never asked (and billed) twice
    assert queue.counts(ctx.db)["written"] == sent


def test_results_missing_for_too_long_are_given_up(zsim, asim, make_ctx, clock):
    zsim.seed(3, 27)
    ctx = make_ctx()
    ingest.ingest(ctx)
    asim.set_faults(results_late=1.0)
    sent = submit.submit(ctx, ignore_min_batch=True)["submitted"]
    clock.advance(5)
    poll.poll(ctx)
    clock.advance(poll.RESULTS_PATIENCE)
    # a download still refused hours after the end: the batch is given up and its tickets asked again
    asim.results_retention_seconds = 0
    out = poll.poll(ctx)
    assert out.get("requeued") == sent and queue.counts(ctx.db)["queued"] == sent


def test_poll_reads_every_open_batch_from_one_list_call(zsim, asim, make_ctx, clock, monkeypatch):
    # issue 22: one batches.list call per poll for the open batches' states, not one retrieve per batch
    zsim.seed(12, 28)
    ctx = make_ctx()
    ingest.ingest(ctx)
    split = anth.split_batches
    monkeypatch.setattr(anth, "split_batches", lambda requests, **kw: split(requests, max_requests=3, **kw))
    asim.processing_seconds = 600.0
    opened = submit.submit(ctx, ignore_min_batch=True)["batches"]
    assert opened >= 3
    before = dict(asim.call_counts())
    calls = lambda label: asim.call_counts().get(label, 0) - before.get(label, 0)  # noqa: E731
    for _ in range(3):
        clock.advance(60)
        assert poll.poll(ctx)["open"] == opened
    assert calls("GET /v1/messages/batches") == 3 and calls("GET /v1/messages/batches/{id}") == 0
    clock.advance(600)
    assert poll.poll(ctx)["collected"] == opened
    # the results are read at the results_url the list gave: no retrieve (the SDK's results() made one per batch)
    assert calls("GET /v1/messages/batches") == 4 and calls("GET /v1/messages/batches/{id}") == 0
    assert calls("GET /v1/messages/batches/{id}/results") == opened
