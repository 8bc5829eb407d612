"""Write-back and ingest settle and read in bulk (issue 22): the writes an export page shows landed are settled
one statement per kind, a write group's provided articles and macros come in one query, and the outcome of
each ticket stays what the one-row code gave (a ticket whose intent is gone is ``stale`` alone)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from zdtriage import pipeline, prompt, store
from zdtriage.config import parse
from zdtriage.stages import ingest, writeback
from zdtriage.store import Intent, WriteKind, writes
from zdtriage.store import articles as help_center
from zdtriage.store import tickets as queue

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
ANSWER = {"priority": "P2", "category": "billing", "sentiment": "neutral", "language": "en",
          "confidence": 0.9, "draft": "Thanks, we are on it."}


@pytest.fixture
def ctx():
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    return pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=lambda: NOW)


def _ticket(i, tags=(), updated="2026-09-01T00:00:00Z"):
    return {"id": i, "subject": "Invoice", "description": "charged twice", "status": "open", "tags": list(tags),
            "requester_id": 9, "created_at": "2026-09-01T00:00:00Z", "updated_at": updated,
            "generated_timestamp": 1_789_000_000}


def _answered(ctx, ids, answer=ANSWER):
    ingest.save_tickets(ctx, [_ticket(i) for i in ids])
    queue.submit(ctx.db, NOW - 1800, "b1", [(i, f"zt-{i}-1", 100, 0.01) for i in ids])
    for i in ids:
        queue.answer(ctx.db, i, NOW - 900, answer=answer, usage={}, cost_usd=0.001)


def _sent(ctx, ids, job="job1"):
    """Notes sent for ``ids`` in one job, as write-back records them."""
    writes.begin_writes(ctx.db, NOW - 600, [(i, WriteKind.NOTE.value, 1) for i in ids])
    writes.record_job(ctx.db, job, ids)


def _count_execute(ctx, monkeypatch, needle):
    """How many one-statement calls (``db.execute`` and ``db.query``) run SQL containing ``needle``."""
    calls: list[str] = []
    for name in ("execute", "query"):
        real = getattr(ctx.db, name)

        def counted(sql, *args, real=real, **kw):
            if needle in sql:
                calls.append(sql)
            return real(sql, *args, **kw)

        monkeypatch.setattr(ctx.db, name, counted)
    return calls


def test_an_export_page_settles_our_landed_writes_in_one_statement(ctx, monkeypatch):
    ids = list(range(1, 41))
    _answered(ctx, ids)
    _sent(ctx, ids)
    marker = prompt.marker_tag(ctx.config.triage)
    moves = _count_execute(ctx, monkeypatch, "update tickets set")
    with ctx.db.atomic():
        stats = ingest.save_tickets(ctx, [_ticket(i, [marker], "2026-09-01T01:00:00Z") for i in ids])
    assert stats["settled"] == 40
    assert {queue.get(ctx.db, i)["state"] for i in ids} == {"written"}
    assert all(queue.get(ctx.db, i)["write_job_id"] is None for i in ids)
    assert len(moves) <= 1, moves[:3]  # before: one UPDATE a ticket (40)


def test_a_ticket_twice_in_a_page_is_written_once_and_stale_once(ctx):
    _answered(ctx, [1, 2, 3])
    _sent(ctx, [1, 2, 3])
    marker = prompt.marker_tag(ctx.config.triage)
    page = [_ticket(i, [marker], "2026-09-01T01:00:00Z") for i in (1, 2, 2, 3)]
    with ctx.db.atomic():
        assert ingest.save_tickets(ctx, page)["settled"] == 4
    assert {queue.get(ctx.db, i)["state"] for i in (1, 2, 3)} == {"written"}
    stale = list(ctx.db.query("select ticket_id, detail from events where action = 'stale'"))
    assert stale == [{"ticket_id": 2, "detail": "note write"}]


def test_landed_many_gives_each_ticket_the_outcome_of_the_one_row_settle(ctx):
    _answered(ctx, [1, 2, 3, 4])
    _sent(ctx, [1, 2, 3])
    queue.kill(ctx.db, 4, NOW, reason="x")
    writes.begin_writes(ctx.db, NOW, [(4, WriteKind.FAILED_TAG.value, 1)])  # no job id yet: no job check
    items = [(1, Intent("note", 1, "job1")), (2, Intent("note", 2, "job1")),  # 2: another triage's intent
             (3, Intent("note", 1, "job1")), (4, Intent("failed_tag", 1))]
    assert writes.landed_many(ctx.db, NOW, items) == ["written", "stale", "written", "failed_tagged"]
    assert [queue.get(ctx.db, i)["state"] for i in (1, 2, 3, 4)] == ["written", "answered", "written", "dead"]
    assert queue.get(ctx.db, 2)["write_job_id"] == "job1"  # the stale one is left as it was
    assert queue.get(ctx.db, 4)["failed_tag_at"] is not None and queue.get(ctx.db, 4)["write_kind"] is None


def _with_articles(ctx, ids):
    help_center.save(ctx.db, [{"id": 7, "locale": "en-us", "title": "Refunds", "body": "How refunds work",
                               "html_url": "https://help.example.com/hc/articles/7", "section_id": 1, "labels": "",
                               "updated_at": "2026-09-01T00:00:00Z"}], "run1")
    for i in ids:
        help_center.remember(ctx.db, i, 1, [{"id": 7, "locale": "en-us", "title": "Refunds",
                                             "html_url": "https://help.example.com/hc/articles/7"}])


def test_a_write_group_reads_what_its_requests_held_in_one_query(ctx, monkeypatch):
    ids = list(range(1, 21))
    _answered(ctx, ids, {**ANSWER, "sources": [7]})
    _with_articles(ctx, ids)
    ctx.config = replace(ctx.config, writeback=replace(ctx.config.writeback, mode="full"))
    monkeypatch.setattr(writeback.zd, "fetch_tickets", lambda client, ids, **kw: [
        {"id": i, "status": "open", "tags": [], "updated_at": "2026-09-01T00:00:00Z"} for i in ids])
    bodies: dict[int, str] = {}

    def write(client, updates):
        bodies.update((u["id"], u["comment"]["body"]) for u in updates)
        return "job1"

    monkeypatch.setattr(writeback.zd, "write_updates", write)
    reads = _count_execute(ctx, monkeypatch, "from ticket_articles")
    out = {"jobs_sent": 0, "results": {}}
    writeback.send(ctx, 0, out)
    assert out["jobs_sent"] == 1 and sorted(bodies) == ids
    # the cited article is in every note, as the one-row reads gave it
    assert all("- Refunds <https://help.example.com/hc/articles/7>" in b for b in bodies.values())
    assert len(reads) == 1, reads[:3]  # before: one read a ticket (20)


def test_update_for_alone_still_reads_the_store(ctx):
    _answered(ctx, [1], {**ANSWER, "sources": [7]})
    _with_articles(ctx, [1])
    row = queue.get(ctx.db, 1)
    body = writeback.update_for(ctx, row, [])["comment"]["body"]
    assert body == writeback.update_for(ctx, row, [], help_center.provided_many(ctx.db, [(1, 1)])[1, 1])["comment"][
        "body"]
    assert "help.example.com/hc/articles/7" in body
    assert json.loads(row["answer"])["sources"] == [7]


def test_a_minute_with_nothing_to_write_costs_next_to_nothing(ctx):
    ingest.save_tickets(ctx, [_ticket(i) for i in (1, 2)])  # queued: nothing owed to Zendesk
    ctx.zendesk = SimpleNamespace(job_status=None)  # never called: nothing is in flight
    writeback.writeback(ctx)
    statements: list[str] = []
    ctx.db.conn.set_trace_callback(statements.append)
    out = writeback.writeback(ctx)
    ctx.db.conn.set_trace_callback(None)
    assert out == {"stage": "writeback", "jobs_sent": 0, "results": {}}
    # before: 21 (open jobs read twice, unsure intents, the pace, the writable rows: a savepoint each)
    assert len(statements) <= 8, statements
    assert not any("from pace" in s for s in statements)


def test_open_jobs_and_their_first_stamps_come_from_one_read(ctx):
    _answered(ctx, [1, 2, 3, 4])
    writes.begin_writes(ctx.db, NOW - 600, [(1, "note", 1), (2, "note", 1)])
    writes.record_job(ctx.db, "job1", [1, 2])
    writes.begin_writes(ctx.db, NOW - 60, [(3, "note", 1), (4, "note", 1)])
    writes.record_job(ctx.db, "job2", [3])
    intents = writes.open_intents(ctx.db)
    assert intents == {"job1": "2026-09-21T14:03:20.000000Z", "job2": "2026-09-21T14:12:20.000000Z",
                       None: "2026-09-21T14:12:20.000000Z"}
    assert sorted(j for j in intents if j) == sorted(writes.open_jobs(ctx.db))


def test_one_unreadable_request_record_fails_its_ticket_alone(ctx, monkeypatch):
    ids = [1, 2, 3]
    _answered(ctx, ids, {**ANSWER, "sources": [7]})
    _with_articles(ctx, ids)
    ctx.db.execute("update ticket_articles set articles = '[{broken' where ticket_id = 2")
    monkeypatch.setattr(writeback.zd, "fetch_tickets", lambda client, ids, **kw: [
        {"id": i, "status": "open", "tags": [], "updated_at": "2026-09-01T00:00:00Z"} for i in ids])
    sent: list[int] = []
    monkeypatch.setattr(writeback.zd, "write_updates", lambda client, updates: sent.extend(u["id"] for u in updates)
                        or "job1")
    out = {"jobs_sent": 0, "results": {}}
    writeback.send(ctx, 0, out)
    assert sent == [1, 3] and out["results"] == {"error": 1}
    assert queue.get(ctx.db, 2)["state"] == "dead"
    assert "cannot build the update: JSONDecodeError" in queue.get(ctx.db, 2)["last_error"]
