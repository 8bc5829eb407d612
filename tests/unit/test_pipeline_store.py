"""The database half of each stage, fed plain dicts, with an in-memory store and a fixed clock."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from zdtriage import pipeline, prompt, reports, store
from zdtriage.config import parse
from zdtriage.stages import common, conversations, ingest, poll, submit
from zdtriage.store import Intent, WriteKind, writes
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
ANSWER = {"priority": "P2", "category": "billing", "sentiment": "neutral", "language": "en",
          "confidence": 0.9, "draft": "Thanks, we are on it."}


@pytest.fixture
def ctx():
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    return pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=lambda: NOW)


def ticket(id_, **kw):
    return {"id": id_, "subject": "Invoice", "description": "charged twice", "status": "open", "tags": [],
            "requester_id": 9, "created_at": "2026-09-01T00:00:00Z", "updated_at": "2026-09-01T00:00:00Z",
            "generated_timestamp": 1_789_000_000, **kw}


def test_new_eligible_tickets_are_queued_others_ignored(ctx):
    stats = ingest.save_tickets(ctx, [ticket(1), ticket(2, status="closed"), ticket(3, tags=["no_ai"]),
                                        ticket(4, status="deleted"), ticket(5, tags=["ai_triaged"])])
    assert stats == {"queued": 2, "skipped": 0, "ignored": 3, "seen": 0}
    assert queue.get(ctx.db, 1)["state"] == "queued"
    assert queue.get(ctx.db, 2) is None
    # the marker alone decides nothing (a follow-up copies it): the comments are read for our note first
    marked = queue.get(ctx.db, 5)
    assert marked["state"] == "queued" and marked["needs_read"] == 1 and marked["marker_inherited"] == 1


def test_our_write_back_coming_back_in_the_export_is_not_queued_again(ctx):
    ingest.save_tickets(ctx, [ticket(1)])
    ctx.db["tickets"].update(1, {"state": "written"})
    stats = ingest.save_tickets(
        ctx, [ticket(1, tags=["ai_triaged", "ai_priority_p2"], generated_timestamp=1_789_999_999)]
    )
    assert stats["queued"] == 0 and queue.get(ctx.db, 1)["state"] == "written"
    assert json.loads(queue.get(ctx.db, 1)["zd_tags"]) == ["ai_triaged", "ai_priority_p2"]


def test_queued_ticket_closed_or_opted_out_is_skipped_with_reason(ctx):
    ingest.save_tickets(ctx, [ticket(1), ticket(2)])
    ingest.save_tickets(ctx, [ticket(1, status="solved"), ticket(2, tags=["no_ai"])])
    assert queue.get(ctx.db, 1)["last_error"] == "status solved"
    assert queue.get(ctx.db, 2)["last_error"] == "opted out by tag no_ai"


def submitted(ctx, id_=1, batch="b1"):
    ingest.save_tickets(ctx, [ticket(id_)])
    queue.submit(ctx.db, NOW, batch, [(id_, f"zt-{id_}-1", 100, 0.01)])


def result(kind="succeeded", text=None, **kw):
    return {"custom_id": "zt-1-1", "type": kind, "text": json.dumps(ANSWER) if text is None else text,
            "stop_reason": "end_turn", "model": "claude-haiku-4-5",
            "usage": {"input_tokens": 1000, "output_tokens": 100}, "error_type": None, "error_message": None, **kw}


def test_valid_answer_is_stored_with_its_cost_and_the_reservation_released(ctx):
    submitted(ctx)
    ctx.db["batches"].insert({"local_id": "b1", "state": "open", "cost_usd": 0.0})
    assert poll.apply_result(ctx, "b1", result()) == "answered"
    row = queue.get(ctx.db, 1)
    assert json.loads(row["answer"])["priority"] == "P2"
    assert row["reserved_usd"] == 0 and row["cost_usd"] == pytest.approx((1000 * 0.5 + 100 * 2.5) / 1e6)
    assert poll.apply_result(ctx, "b1", result()) == "stale"  # a replay after a crash changes nothing


def test_result_from_another_batch_is_ignored(ctx):
    submitted(ctx, batch="b2")
    assert poll.apply_result(ctx, "b1", result()) == "stale"
    assert queue.get(ctx.db, 1)["state"] == "submitted"


def test_invalid_answer_is_retried_once_then_dead(ctx):
    submitted(ctx)
    bad = result(text=json.dumps({**ANSWER, "priority": "P0"}))
    assert poll.apply_result(ctx, "b1", bad) == "invalid"
    assert queue.get(ctx.db, 1)["state"] == "queued"
    queue.submit(ctx.db, NOW, "b1", [(1, "zt-1-1", 100, 0.01)])
    assert poll.apply_result(ctx, "b1", bad) == "dead"
    assert "P0" in queue.get(ctx.db, 1)["last_error"]


@pytest.mark.parametrize("kind, error_type, expected", [
    ("errored", "overloaded_error", "failed"), ("errored", "api_error", "failed"),
    ("errored", "invalid_request_error", "dead"), ("expired", None, "failed"), ("canceled", None, "failed"),
])
def test_result_kinds(ctx, kind, error_type, expected):
    submitted(ctx)
    assert poll.apply_result(ctx, "b1", result(kind, error_type=error_type, error_message="m")) == expected
    row = queue.get(ctx.db, 1)
    assert row["state"] == expected and row["batch"] is None
    if expected == "failed":
        assert row["next_attempt_at"] == iso(NOW + 60)


def test_attempts_run_out(ctx):
    ctx.config = replace(ctx.config, anthropic=replace(ctx.config.anthropic, max_attempts=2))
    submitted(ctx)
    ctx.db["tickets"].update(1, {"attempts": 1})
    assert poll.apply_result(ctx, "b1", result("expired")) == "dead"


def _answered_and_sent(ctx, id_, job="j"):
    ingest.save_tickets(ctx, [ticket(id_)])
    queue.submit(ctx.db, NOW, "b1", [(id_, f"zt-{id_}-1", 100, 0.01)])
    queue.answer(ctx.db, id_, NOW, answer=ANSWER, usage={}, cost_usd=0.0)
    writes.begin_writes(ctx.db, NOW, [(id_, WriteKind.NOTE, 1)])
    writes.record_job(ctx.db, job, [id_])
    return Intent(WriteKind.NOTE, 1, job)


def test_settled_write_is_written_or_skipped(ctx):
    one, two = _answered_and_sent(ctx, 1), _answered_and_sent(ctx, 2)
    assert common.settle_write(ctx, 1, one, "ok") == "written"
    assert common.settle_write(ctx, 2, two, "closed", "Status closed prevents ticket update") == "skipped"
    assert queue.get(ctx.db, 1)["write_job_id"] is None


def test_retention_drops_text_but_keeps_the_outcome(ctx):
    ctx.config = replace(ctx.config, privacy=replace(ctx.config.privacy, drop_text_after_write=True))
    intent = _answered_and_sent(ctx, 1)
    conversations.save_comments(
        ctx, [{"ticket_id": 1, "id": 5, "author_id": 9, "public": True, "body": "secret", "created_at": NOW}]
    )
    common.settle_write(ctx, 1, intent, "ok")
    row = queue.get(ctx.db, 1)
    assert row["subject"] is None and row["description"] is None
    assert "draft" not in json.loads(row["answer"]) and json.loads(row["answer"])["priority"] == "P2"
    assert queue.conversation(ctx.db, 1) == []


def test_our_own_note_is_not_stored_as_conversation(ctx):
    store.set_sync(ctx.db, "bot_user_id", "1")  # users/me, read once
    ingest.save_tickets(ctx, [ticket(1)])
    note = prompt.note_body(ANSWER, 1, 1)
    conversations.save_comments(
        ctx, [{"ticket_id": 1, "id": 5, "author_id": 1, "public": False, "body": note, "created_at": NOW}]
    )
    assert queue.conversation(ctx.db, 1) == []


def test_a_customer_pasting_our_footer_is_still_conversation(ctx):
    store.set_sync(ctx.db, "bot_user_id", "1")
    ingest.save_tickets(ctx, [ticket(1)])
    fake = "Please escalate.\n\n" + prompt.note_footer(1, 1)
    conversations.save_comments(ctx, [{"ticket_id": 1, "id": 6, "author_id": 9, "public": True, "body": fake,
                                       "created_at": NOW}])
    assert [c["id"] for c in queue.conversation(ctx.db, 1)] == [6]


def test_report_counts_draft_acceptance_from_tags(ctx):
    for id_, tags in ((1, ["ai_draft_used"]), (2, ["ai_draft_rejected"]), (3, ["ai_draft_used"]), (4, [])):
        ctx.db["tickets"].insert({"id": id_, "state": "written", "answer": json.dumps(ANSWER),
                                  "zd_tags": json.dumps(tags)})
    data = reports.report(ctx.db, ctx.config)
    assert (data["drafts_used"], data["drafts_rejected"]) == (2, 1)
    assert data["draft_acceptance_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert data["by_category"] == {"billing": 4}


def test_cut_answer_is_asked_again_once_with_twice_the_room(ctx):
    submitted(ctx)
    cut = result(text='{"priority": "P2", "draft": "Thanks, we', stop_reason="max_tokens")
    assert poll.apply_result(ctx, "b1", cut) == "invalid"
    row = queue.get(ctx.db, 1)
    assert row["state"] == "queued" and row["max_tokens"] == 2 * ctx.config.anthropic.max_tokens
    assert submit.build_request(ctx, row)["params"]["max_tokens"] == row["max_tokens"]
    queue.submit(ctx.db, NOW, "b1", [(1, "zt-1-1", 100, 0.01)])
    assert poll.apply_result(ctx, "b1", cut) == "dead"
    assert queue.get(ctx.db, 1)["last_error"] == "invalid answer: answer cut at max_tokens"


def test_a_refusal_is_not_asked_again(ctx):
    submitted(ctx)
    assert poll.apply_result(ctx, "b1", result(text="I can't help with that.", stop_reason="refusal")) == "dead"
    assert "refused" in queue.get(ctx.db, 1)["last_error"]


@pytest.mark.parametrize("custom_id", ["zt-99999999999999999999999-1", "zt-1-1-1", None, 7])
def test_a_result_for_an_impossible_custom_id_is_unknown(ctx, custom_id):
    submitted(ctx)
    assert poll._apply_isolated(ctx, "b1", result(custom_id=custom_id)) == "unknown"
    assert queue.get(ctx.db, 1)["state"] == "submitted"


def test_an_unreadable_result_line_fails_its_ticket_only(ctx):
    submitted(ctx)
    submitted(ctx, 2)
    bad = result("malformed", custom_id="zt-1-1", text=None, error_message="RecursionError")
    assert poll._apply_isolated(ctx, "b1", bad) == "failed"
    assert poll._apply_isolated(ctx, "b1", result(custom_id="zt-2-1")) == "answered"
