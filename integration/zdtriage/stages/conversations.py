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

import re
from typing import TYPE_CHECKING, Any

from .. import observe, prompt, store
from .. import zendesk as zd
from ..store import State, pace, users
from ..store import tickets as queue
from ..timeutil import parse_time
from .common import bot_user_id, export_limit, to_epoch

if TYPE_CHECKING:
    from ..context import Context

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
    observe.observe_replies(ctx, comments)  # the agent's first public reply after our note (draft adoption)
    requeued = 0
    for c in theirs:
        merged = _merged_in(c["body"])
        if not ctx.config.triage.retriage or not (c["public"] or merged):
            continue
        row = queue.get(ctx.db, c["ticket_id"])
        if (row and row["state"] == State.WRITTEN and (row["requester_id"] == c["author_id"] or merged)
                and (to_epoch(c["created_at"]) or 0) > parse_time(row["written_at"])
                and row["zd_status"] in ctx.config.triage.statuses
                and queue.retriage(ctx.db, row["id"], now)):
            store.log_event(ctx.db, now, "retriage", ticket_id=row["id"],
                            detail=f"ticket #{merged} merged into it" if merged else "customer wrote again")
            requeued += 1
    return requeued


# The comment Zendesk adds to the target of a merge, by the agent who merged (Zendesk help "Merging tickets":
# 'Request #<id> "<subject>" was closed and merged into this request.'); an agent may edit it, and then the
# merge is not noticed (no re-triage, nothing wrong written).
_MERGED = re.compile(r"\ARequest #(\d{1,19}) .{0,600}? was closed and merged into this request\.", re.DOTALL)


def _merged_in(body: Any) -> int | None:
    m = _MERGED.match(body.lstrip()) if isinstance(body, str) else None
    return int(m.group(1)) if m else None


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
    out["users_read"] = learn_roles(ctx)  # the authors of what was just read, before anything is sent
    return out


def read_one_by_one(ctx: Context, limit: int = ONE_BY_ONE_PER_RUN) -> int:
    """Read the comments of waiting tickets the event export cannot vouch for, one comments call each.

    Those are tickets created before the export's start and answered since (their older messages are not
    in it), and tickets a crowded second may have hidden events of. A ticket whose only change was its
    creation holds nothing but its description, so it costs nothing.

    A ticket first seen with our marker (copied into a follow-up, or left by a state database we lost) is
    skipped here only when it holds our note for its own id; otherwise it is triaged like any new ticket.
    """
    rows = queue.needing_read(ctx.db, limit)
    for row in rows:
        comments = zd.fetch_comments(ctx.zendesk, row["id"])
        ours = _our_note(ctx, row["id"], comments) if row["marker_inherited"] else None
        with ctx.db.atomic():
            save_comments(ctx, comments)
            queue.comments_read(ctx.db, row["id"], row["zd_updated_at"])
            if ours is not None:
                now = ctx.now()
                reason = f"already holds our note ({ours})"
                queue.skip(ctx.db, row["id"], now, reason=reason)
                store.log_event(ctx.db, now, "skipped", ticket_id=row["id"], detail=reason)
    return len(rows)


ROLE_CALLS_PER_RUN = 5  # users/show_many calls (100 users each) per run: the account's general limit


def learn_roles(ctx: Context, calls: int = ROLE_CALLS_PER_RUN) -> int:
    """Read once, and keep, the role of every author of a waiting ticket's public comments not known yet
    (``users/show_many``): the prompt labels a message by its author's role. A user Zendesk leaves out
    (deleted) is kept as ``unknown``, which the prompt puts on the customer's side. Returns users read."""
    ids = users.unknown_authors(ctx.db, calls * zd.UPDATE_MANY_LIMIT)
    for start in range(0, len(ids), zd.UPDATE_MANY_LIMIT):
        chunk = ids[start:start + zd.UPDATE_MANY_LIMIT]
        roles = zd.fetch_user_roles(ctx.zendesk, chunk)
        with ctx.db.atomic():
            users.save_roles(ctx.db, ctx.now(), {i: roles.get(i, "unknown") for i in chunk})
    return len(ids)


_TRIAGE_ID = re.compile(r"triage-id zbt-\d+-\d+")


def _our_note(ctx: Context, ticket_id: int, comments: list[dict[str, Any]]) -> str | None:
    """The triage id of our note for this very ticket among its comments, if there is one."""
    bot = bot_user_id(ctx)
    for c in comments:
        if prompt.is_our_note(c["body"], public=c["public"], author_id=c["author_id"], bot_user_id=bot,
                              ticket_id=ticket_id):
            return str(_TRIAGE_ID.findall(c["body"])[-1])  # the footer, its last line, names it
    return None
