"""Conversations: comments from the ticket-event export (1,000 events a call), and the comments of tickets
it cannot vouch for, read one by one. With re-triage on, a customer reply after our note queues the
ticket again.

The event export is time-based: a page ends at the second of its last event and the next page starts at
that second, inclusive, so events of that second can come twice (comments are stored by id). A second
holding more than a page of events (a bulk update, a macro on 2,000 tickets, an import) comes back as the
same page forever (zenpy#451, zendesk_api_client_rb#168): we step past it, record it as a gap, and read one
by one the comments of the waiting tickets whose events it may have held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import prompt, quality, store
from .. import zendesk as zd
from ..store import State, pace
from ..store import tickets as queue
from ..timeutil import parse_time
from .common import bot_user_id, export_limit, to_epoch

if TYPE_CHECKING:
    from ..pipeline import Context

EVENT_PAGES_PER_RUN = 8  # the export budget or a 429 ends the loop sooner; the rest is read at the next run
ONE_BY_ONE_PER_RUN = 50  # comments calls per run (the account's general limit, not the export's)
# the export leaves out the last minute of changes; past the end of the stream, events are complete up to
# this long before our clock (with room for a clock that differs from Zendesk's)
EXPORT_LAG = 120.0


def save_comments(ctx: Context, comments: list[dict[str, Any]]) -> int:
    """Store comments (database only); returns how many written tickets a customer reply requeued."""
    now = ctx.now()
    bot = bot_user_id(ctx)
    # our own note is not part of the customer's conversation
    theirs = [c for c in comments if not prompt.is_our_note(c["body"], public=c["public"], author_id=c["author_id"],
                                                            bot_user_id=bot, ticket_id=c["ticket_id"])]
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


def events_complete(ctx: Context) -> float:
    """Every comment made before this time (Zendesk's clock) has been read from the event export."""
    return float(store.get_sync(ctx.db, "events_complete") or store.get_sync(ctx.db, "start_time") or 0)


def sync(ctx: Context, max_pages: int = EVENT_PAGES_PER_RUN) -> dict[str, Any]:
    """Read new comments of every ticket from the event export, within the export budget.

    ``caught_up`` is true once the stream has ended. Tickets whose conversation is complete can be sent
    whatever the rest of the export still holds (``tickets.READY``). Raises ZendeskError.
    """
    db = ctx.db
    out: dict[str, Any] = {"pages": 0, "comments": 0, "retriaged": 0, "caught_up": False}
    for _ in range(max_pages):
        now = ctx.now()
        if not pace.take(db, "export", now, export_limit(ctx)):
            out["waiting"] = "export budget of this minute spent"
            break
        since = int(store.get_sync(db, "events_time") or store.get_sync(db, "start_time") or 0)
        page = zd.fetch_comment_events(ctx.zendesk, since)
        out["pages"] += 1
        out["comments"] += len(page["comments"])
        with db.atomic():
            out["retriaged"] += save_comments(ctx, page["comments"])
            if page.get("stuck"):
                # the same page forever: step past the second, remember it, read its tickets one by one
                store.add_gap(db, since, now)
                out["crowded_tickets"] = out.get("crowded_tickets", 0) + queue.crowded_second(db, since)
                store.set_sync(db, "events_time", str(since + 1))
                store.log_event(db, now, "crowded_second", detail=f"{since}: more than a page of events")
                continue
            end = page["end_time"]
            if end and end >= since:
                store.set_sync(db, "events_time", str(end))  # same transaction as its comments
            done = page["end_of_stream"] or not end
            complete = max(end or since, now - EXPORT_LAG) if done else (end or since)
            store.set_sync(db, "events_complete", str(max(complete, events_complete(ctx))))
        if done:
            out["caught_up"] = True
            break
    return out


def read_one_by_one(ctx: Context, limit: int = ONE_BY_ONE_PER_RUN) -> int:
    """Read the comments of waiting tickets the event export cannot vouch for, one comments call each.

    Those are tickets created before the export's start and answered since (their older messages are not
    in it), and tickets a crowded second may have hidden events of. A ticket whose only change was its
    creation holds nothing but its description, so it costs nothing.
    """
    rows = queue.needing_read(ctx.db, limit)
    for row in rows:
        comments = zd.fetch_comments(ctx.zendesk, row["id"])
        with ctx.db.atomic():
            save_comments(ctx, comments)
            queue.comments_read(ctx.db, row["id"], row["zd_updated_at"])
    return len(rows)
