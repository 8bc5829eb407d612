"""Write groups are filled before they are sent (issue 22): a few answers wait, while a batch is still open,
for the answers it will bring, at most ``schedule.max_wait``; a full enough group, or no open batch, goes at once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zdtriage import pipeline, store
from zdtriage.config import parse
from zdtriage.stages import ingest, writeback
from zdtriage.store import tickets as queue
from zdtriage.store import writes

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
ANSWER = {"priority": "P2", "category": "billing", "sentiment": "neutral", "language": "en",
          "confidence": 0.9, "draft": "Thanks, we are on it."}


class Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sent(monkeypatch):
    groups: list[list[int]] = []
    monkeypatch.setattr(writeback.zd, "fetch_tickets", lambda client, ids, **kw: [
        {"id": i, "status": "open", "tags": [], "updated_at": "2026-09-01T00:00:00Z"} for i in ids])

    def write(client, updates):
        groups.append([u["id"] for u in updates])
        return f"job{len(groups)}"

    monkeypatch.setattr(writeback.zd, "write_updates", write)
    return groups


def _ctx(clock, answered: int, open_batch: bool):
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)  # max_wait 10 min
    ctx = pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=clock)
    ids = list(range(1, answered + 1))
    ingest.save_tickets(ctx, [{"id": i, "subject": "Invoice", "description": "charged twice", "status": "open",
                               "tags": [], "requester_id": 9, "created_at": "2026-09-01T00:00:00Z",
                               "updated_at": "2026-09-01T00:00:00Z", "generated_timestamp": 1_789_000_000}
                              for i in ids])
    queue.submit(ctx.db, NOW - 1800, "b1", [(i, f"zt-{i}-1", 100, 0.01) for i in ids])
    for i in ids:
        queue.answer(ctx.db, i, NOW, answer=ANSWER, usage={}, cost_usd=0.001)
    if open_batch:
        ctx.db["batches"].insert({"local_id": "b2", "batch_id": "msgbatch_2", "state": "open", "cost_usd": 0.0,
                                  "created_at": "2026-09-21T00:00:00.000000Z"})
    return ctx


def _send(ctx):
    out = {"jobs_sent": 0, "results": {}}
    writeback.send(ctx, 0, out)
    return out


def test_a_small_group_waits_for_an_open_batch_then_goes_after_max_wait(clock, sent):
    ctx = _ctx(clock, 3, open_batch=True)
    assert "wait to be joined" in _send(ctx).get("note", "")
    assert sent == []  # before: a 3-ticket show_many and update_many at once
    clock.now = NOW + 599
    _send(ctx)
    assert sent == []
    clock.now = NOW + 600  # not beyond its limit
    assert _send(ctx)["jobs_sent"] == 1
    assert sent == [[1, 2, 3]]


def test_a_small_group_goes_at_once_when_no_batch_is_open(clock, sent):
    ctx = _ctx(clock, 3, open_batch=False)
    assert _send(ctx)["jobs_sent"] == 1 and sent == [[1, 2, 3]]


def test_a_batch_worth_of_answers_goes_at_once(clock, sent):
    ctx = _ctx(clock, writeback.SMALL_GROUP, open_batch=True)
    assert _send(ctx)["jobs_sent"] == 1 and len(sent[0]) == writeback.SMALL_GROUP


def test_a_finished_job_settles_in_one_transaction_and_a_bad_ticket_alone(clock, sent, monkeypatch):
    """Issue 22: a job's tickets are settled without a savepoint each; one that cannot be settled still fails
    alone (dead with the reason), the others are written."""
    ctx = _ctx(clock, 30, open_batch=False)
    assert _send(ctx)["jobs_sent"] == 1
    clock.now = NOW + ctx.config.zendesk.verify_after + 1
    monkeypatch.setattr(writeback.zd, "fetch_jobs", lambda client, ids: iter([{
        "id": job, "status": "completed",
        "results": [{"id": i, "index": i - 1, "success": True, "error": None, "details": ""} for i in range(1, 31)]}
        for job in ids]))
    real, real_many = writeback.settle_write, writeback.settle_landed

    def settle(ctx, ticket_id, intent, outcome, error=""):
        if ticket_id == 7:
            raise KeyError("surprise")
        return real(ctx, ticket_id, intent, outcome, error)

    def settle_many(ctx, items):  # the landed writes of the job, at once: ticket 7 among them
        if any(ticket_id == 7 for ticket_id, _ in items):
            raise KeyError("surprise")
        return real_many(ctx, items)

    monkeypatch.setattr(writeback, "settle_write", settle)
    monkeypatch.setattr(writeback, "settle_landed", settle_many)
    results: dict[str, int] = {}
    statements: list[str] = []
    ctx.db.conn.set_trace_callback(statements.append)
    writeback.settle_jobs(ctx, results)
    ctx.db.conn.set_trace_callback(None)
    assert results == {"written": 29, "error": 1}
    assert queue.get(ctx.db, 7)["state"] == "dead" and "KeyError" in queue.get(ctx.db, 7)["last_error"]
    assert {queue.get(ctx.db, i)["state"] for i in range(1, 31) if i != 7} == {"written"}

    # without the bad ticket: no savepoint per ticket (before: one each)
    ctx2 = _ctx(clock, 30, open_batch=False)
    clock.now = NOW
    _send(ctx2)
    clock.now = NOW + ctx.config.zendesk.verify_after + 1
    monkeypatch.setattr(writeback, "settle_write", real)
    monkeypatch.setattr(writeback, "settle_landed", real_many)
    statements.clear()
    one_row: list[int] = []
    one_move = writes._move

    def counted(db, name, ticket_id, *args, **kwargs):  # a one-row transition, noted
        one_row.append(ticket_id)
        return one_move(db, name, ticket_id, *args, **kwargs)

    monkeypatch.setattr(writes, "_move", counted)
    ctx2.db.conn.set_trace_callback(statements.append)
    writeback.settle_jobs(ctx2, results := {})
    ctx2.db.conn.set_trace_callback(None)
    assert results == {"written": 30}
    assert sum(s.startswith("SAVEPOINT") for s in statements) <= 5  # before: 34
    assert one_row == []  # the 30 landed writes in one statement (before: a one-row move each)


def test_a_small_group_never_waits_longer_than_verify_after(clock, sent):
    """Health calls answers unwritten for twice zendesk.verify_after a stall: the wait stays below it."""
    ctx = _ctx(clock, 3, open_batch=True)
    ctx.config = replace(ctx.config, zendesk=replace(ctx.config.zendesk, verify_after=120.0))
    clock.now = NOW + 119
    _send(ctx)
    assert sent == []
    clock.now = NOW + 120
    assert _send(ctx)["jobs_sent"] == 1
