"""Conversations: comments from the ticket-event export (1,000 events a call), and the older comments of
tickets that predate it (one comments call each). With re-triage on, a customer reply after our note
queues the ticket again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import prompt, quality, store
from .. import zendesk as zd
from ..store import State
from ..store import tickets as queue
from ..timeutil import parse_time
from .common import to_epoch

if TYPE_CHECKING:
    from ..pipeline import Context

EVENT_PAGES_PER_SUBMIT = 8  # a 429 ends the loop sooner; the rest is read at the next submit
HISTORIES_PER_RUN = 50


def save_comments(ctx: Context, comments: list[dict[str, Any]]) -> int:
    """Store comment events (database only); returns how many written tickets a customer reply requeued."""
    now = ctx.now()
    # our own note is not part of the customer's conversation
    theirs = [c for c in comments if not prompt.is_our_note(c["body"], c["ticket_id"])]
    store.save_comments(ctx.db, [
        {"id": c["id"], "ticket_id": c["ticket_id"], "author_id": c["author_id"], "public": int(c["public"]),
         "body": c["body"], "created_at": to_epoch(c["created_at"]) or now} for c in theirs])
    quality.observe_replies(ctx, comments)  # the agent's first public reply after our note (draft adoption)
    requeued = 0
    for c in theirs:
        if not ctx.config.triage.retriage or not c["public"]:
            continue
        row = queue.get(ctx.db, c["ticket_id"])
        if (row and row["state"] == State.WRITTEN and row["requester_id"] == c["author_id"]
                and (to_epoch(c["created_at"]) or 0) > parse_time(row["written_at"])
                and row["zd_status"] in ctx.config.triage.statuses
                and queue.retriage(ctx.db, row["id"], now)):
            store.log_event(ctx.db, now, "retriage", ticket_id=row["id"], detail="customer wrote again")
            requeued += 1
    return requeued


def sync(ctx: Context) -> dict[str, Any]:
    """Read new comments of every ticket from the ticket-event export.

    Conversations matter only when requests are built, so this runs at the start of submit, not at
    every ingest: on a busy day that halves the export calls. ``caught_up`` is false while pages
    remain (a backlog, or the export's rate limit); submit then waits rather than send a ticket
    without its latest replies. Raises ZendeskError.
    """
    start = store.get_sync(ctx.db, "start_time") or "0"
    out: dict[str, Any] = {"comments": 0, "retriaged": 0, "caught_up": False}
    for _ in range(EVENT_PAGES_PER_SUBMIT):
        since = int(store.get_sync(ctx.db, "events_time") or start)
        page = zd.fetch_comment_events(ctx.zendesk, since)
        with ctx.db.atomic():
            out["retriaged"] += save_comments(ctx, page["comments"])
            if page["end_time"] and page["end_time"] >= since:
                store.set_sync(ctx.db, "events_time", str(page["end_time"]))  # same transaction as its comments
        out["comments"] += len(page["comments"])
        if page["end_of_stream"] or not page["end_time"]:
            out["caught_up"] = True
            break
    return out


def fetch_missing(ctx: Context, limit: int = HISTORIES_PER_RUN) -> int:
    """Read the comments of queued tickets that predate the event export and had replies.

    The event export only knows comments made since our start time. A ticket created before it
    and updated since (an old ticket the customer answered) may hold older messages: only those
    tickets cost one comments call each. A ticket whose only update was its creation has nothing
    but its description, so it costs nothing.
    """
    start = float(store.get_sync(ctx.db, "start_time") or 0)
    ids = queue.needing_history(ctx.db, start, limit)
    for ticket_id in ids:
        comments = zd.fetch_comments(ctx.zendesk, ticket_id)
        with ctx.db.atomic():
            save_comments(ctx, comments)
            queue.mark_history_fetched(ctx.db, ticket_id)
    return len(ids)
