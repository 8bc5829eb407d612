"""submit reads the queue's comments and their authors a page at a time (issue 22): two reads for a page of
tickets, not two a ticket, and the same requests as reading each ticket's own."""

from __future__ import annotations

from zdtriage import pipeline, store
from zdtriage.config import parse
from zdtriage.stages import ingest, submit
from zdtriage.store import tickets as queue
from zdtriage.store import users

ENV = {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}


class Clock:
    now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def _ctx(n: int) -> pipeline.Context:
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    ctx = pipeline.Context(config=cfg, db=store.open_db(":memory:"), clock=Clock())
    ingest.save_tickets(ctx, [{"id": i, "subject": f"Invoice {i}", "description": "charged twice", "status": "open",
                               "tags": [], "requester_id": 9, "created_at": "2026-09-01T00:00:00Z",
                               "updated_at": "2026-09-01T00:00:00Z", "generated_timestamp": 1_789_000_000}
                              for i in range(1, n + 1)])
    comments = [{"id": 1000 * i + k, "ticket_id": i, "author_id": (9, 77, 88)[k % 3], "public": int(k != 2),
                 "body": f"message {k} of ticket {i}", "created_at": 1_789_000_000 + 60 * k}
                for i in range(1, n + 1) if i % 4 for k in range(3)]  # every fourth ticket: its description alone
    store.save_comments(ctx.db, comments)
    users.save_roles(ctx.db, Clock.now, {77: "agent", 88: "end-user"})
    return ctx


def test_a_page_of_the_queue_costs_two_reads_of_comments_and_authors() -> None:
    ctx = _ctx(60)
    statements: list[str] = []
    ctx.db.conn.set_trace_callback(statements.append)
    built = list(submit.queued_requests(ctx))
    ctx.db.conn.set_trace_callback(None)
    assert len(built) == 60
    reads = [s for s in statements if "from comments" in s.lower() or "from users" in s.lower()]
    assert len(reads) == 2  # before: one of each a ticket (105)


def test_the_requests_are_those_of_one_ticket_at_a_time() -> None:
    ctx = _ctx(30)
    paged = {row["id"]: request for row, request, _ in submit.queued_requests(ctx)}
    rows = queue.rows_by_id(ctx.db, list(paged))
    one = {i: submit.build_request(ctx, rows[i]) for i in paged}  # its own conversation and roles, read alone
    assert paged == one
    assert store.conversations(ctx.db, [5, 4, 99]) == {5: queue.conversation(ctx.db, 5)}  # 4: no comment stored
