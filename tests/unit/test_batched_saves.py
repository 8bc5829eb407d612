"""save_tickets / save_comments write a page in one statement each (bench/README.md, figure 2):
the cases where row-by-row order used to matter still behave as before."""

from __future__ import annotations

import json

import pytest

from zdtriage import pipeline, store
from zdtriage.config import parse
from zdtriage.stages import conversations, ingest
from zdtriage.store import tickets as queue

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0


@pytest.fixture
def ctx():
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    return pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=lambda: NOW)


def ticket(id_, **kw):
    return {"id": id_, "subject": "Invoice", "description": "charged twice", "status": "open", "tags": [],
            "requester_id": 9, "created_at": "2026-09-01T00:00:00Z", "updated_at": "2026-09-01T00:00:00Z",
            "generated_timestamp": 1_789_000_000, **kw}


def test_new_rows_get_the_column_defaults(ctx):
    ingest.save_tickets(ctx, [ticket(1), ticket(2, tags=["ai_triaged"])])
    queued, marked = queue.get(ctx.db, 1), queue.get(ctx.db, 2)
    assert (queued["state"], queued["triage_n"], queued["attempts"], queued["cost_usd"]) == ("queued", 1, 0, 0.0)
    assert queued["marker_inherited"] == 0
    # a marker alone proves nothing: its comments are read (needs_read) before it is sent or skipped
    assert (marked["state"], marked["triage_n"], marked["marker_inherited"], marked["needs_read"]) == (
        "queued",
        1,
        1,
        1,
    )


def test_the_same_ticket_twice_in_a_page_is_new_once_and_its_last_version_wins(ctx):
    stats = ingest.save_tickets(ctx, [ticket(1), ticket(1, tags=["vip"], generated_timestamp=1_789_000_100)])
    assert stats == {"queued": 1, "skipped": 0, "ignored": 0, "seen": 1}
    row = queue.get(ctx.db, 1)
    assert row["state"] == "queued" and json.loads(row["zd_tags"]) == ["vip"] and row["zd_updated_at"] == 1_789_000_100


def test_a_ticket_new_then_closed_in_the_same_page_is_skipped(ctx):
    stats = ingest.save_tickets(ctx, [ticket(1), ticket(1, status="closed")])
    assert stats["queued"] == 1 and stats["skipped"] == 1
    row = queue.get(ctx.db, 1)
    assert row["state"] == "skipped" and row["zd_status"] == "closed" and row["last_error"] == "status closed"


def test_seen_tickets_are_refreshed_and_new_ones_queued_in_one_page(ctx):
    ingest.save_tickets(ctx, [ticket(1)])
    stats = ingest.save_tickets(ctx, [ticket(1, status="pending"), ticket(2)])
    assert stats == {"queued": 1, "skipped": 0, "ignored": 0, "seen": 1}
    assert queue.get(ctx.db, 1)["zd_status"] == "pending"
    assert queue.get(ctx.db, 2)["state"] == "queued"


def test_a_comment_seen_again_replaces_the_stored_one(ctx):
    ingest.save_tickets(ctx, [ticket(1)])
    comment = {"id": 50, "ticket_id": 1, "author_id": 9, "public": True, "body": "first", "created_at": NOW - 10}
    conversations.save_comments(ctx, [comment, {**comment, "body": "edited"}])
    conversations.save_comments(ctx, [{**comment, "id": 51, "body": "again", "created_at": NOW - 5}])
    assert [c["body"] for c in queue.conversation(ctx.db, 1)] == ["edited", "again"]
