"""Ingest: the cursor-based incremental ticket export into the queue.

A page of tickets and the cursor that follows it are saved in one transaction, so a crash re-reads at
most one page, and re-reading is harmless (new tickets are inserted once, known ones only updated).
Our own write-back changes ``updated_at``, so our tickets come back in the export: they are not queued
again. One ticket that cannot be stored becomes ``dead`` with its reason; the page goes on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import observe, prompt, store
from .. import zendesk as zd
from ..store import Intent, State, pace, writes
from ..store import tickets as queue
from ..timeutil import iso, parse_time
from . import conversations
from .common import (
    TICKET_ERRORS,
    blocked_until,
    eligible,
    export_limit,
    landed_by_tags,
    record_problem,
    settle_landed,
    to_epoch,
    zendesk_stage,
)

if TYPE_CHECKING:
    from ..context import Context

FIRST_START_MARGIN = 300.0  # seconds before the first run: older than the export's "too recent" window
EXPORT_PAGES_PER_RUN = 4
# what a page's known tickets are read for (the checks below, the write intent, observe.py): not their text or
# usage, which doubled the read of a 1,000-ticket page (issue 22)
SEEN_COLUMNS = ("id", "state", "triage_n", "zd_updated_at", "marker_inherited", *queue.INTENT_FIELDS, "answer",
                "written_at", "requester_id")


def ingest(ctx: Context) -> dict[str, Any]:
    """Pull changed tickets (cursor export) into the queue, within the export budget; then read one by one
    the comments of waiting tickets the event export cannot vouch for; with re-triage on, new comments."""
    now = ctx.now()
    if blocked_until(ctx, "ingest") > now:
        return {"stage": "ingest", "waiting": f"rate limited until {iso(blocked_until(ctx, 'ingest'))}"}
    db = ctx.db
    start = start_time(ctx)
    totals: dict[str, Any] = {"stage": "ingest", "pages": 0, "queued": 0, "skipped": 0}
    with zendesk_stage(ctx, "ingest", totals):
        for _ in range(EXPORT_PAGES_PER_RUN):
            if not pace.take(db, "export", ctx.now(), export_limit(ctx)):
                totals["waiting"] = "export budget of this minute spent; the rest is read at the next run"
                break
            cursor = store.get_sync(db, "ticket_cursor")
            page = zd.fetch_ticket_page(ctx.zendesk, cursor=cursor, start_time=None if cursor else int(start))
            with db.atomic():
                stats = save_tickets(ctx, page["tickets"])
                if page["after_cursor"]:
                    store.set_sync(db, "ticket_cursor", page["after_cursor"])  # same transaction as its tickets
            totals["pages"] += 1
            for key, n in stats.items():
                if key in ("queued", "skipped") or (n and key in ("dead", "settled")):
                    totals[key] = totals.get(key, 0) + n
            if page["end_of_stream"]:
                store.set_sync(db, "ingested_at", str(ctx.now()))
                break
        totals["read_one_by_one"] = conversations.read_one_by_one(ctx)
        totals["users_read"] = conversations.learn_roles(ctx)
        if ctx.config.triage.retriage:
            totals["events"] = conversations.sync(ctx)  # a customer's reply requeues a written ticket
    return totals


def start_time(ctx: Context) -> float:
    """Where the exports start: ``zendesk.start``, else shortly before the first run (stored once).

    A start in the future reads as "too recent" forever, silently: it is shown as a problem in ``status``.
    One we stored from a clock that ran ahead is moved back while nothing has been exported yet.
    """
    now = ctx.now()
    start = store.get_sync(ctx.db, "start_time")
    if start is None:
        # Zendesk refuses an export start_time inside its last minute (422 "Too recent start_time")
        first = parse_time(ctx.config.zendesk.start) if ctx.config.zendesk.start else now - FIRST_START_MARGIN
        start = str(int(first))
        store.set_sync(ctx.db, "start_time", start)
    if float(start) > now + 60 and not ctx.config.zendesk.start and store.get_sync(ctx.db, "ticket_cursor") is None:
        start = str(int(now - FIRST_START_MARGIN))
        store.set_sync(ctx.db, "start_time", start)
    future = float(start) > now + 60
    record_problem(ctx, "clock", f"the export start {iso(float(start))} is in the future: nothing is read until "
                                 "then (zendesk.start, or a host clock that ran ahead)" if future else None)
    return float(start)


def save_tickets(ctx: Context, tickets: list[dict[str, Any]]) -> dict[str, int]:
    """Apply one export page to the store (database only). Call inside a transaction.

    The page is written in one statement per kind (row by row, sqlite-utils' per-call overhead was most of
    a 100,000-ticket backfill's ingest). If that fails on one ticket's data, the page is saved ticket by
    ticket and the ones that cannot be stored become dead with the reason.
    """
    try:
        with ctx.db.atomic():
            return _save_page(ctx, tickets)
    except TICKET_ERRORS:
        pass  # one ticket's data: find it below
    stats = {"queued": 0, "skipped": 0, "ignored": 0, "seen": 0, "dead": 0}
    for ticket in tickets:
        try:
            with ctx.db.atomic():
                for key, n in _save_page(ctx, [ticket]).items():
                    stats[key] += n
        except TICKET_ERRORS as exc:
            _poison(ctx, ticket, exc)
            stats["dead"] += 1
    return stats


def _save_page(ctx: Context, tickets: list[dict[str, Any]]) -> dict[str, int]:
    now = ctx.now()
    marker = prompt.marker_tag(ctx.config.triage)
    stats = {"queued": 0, "skipped": 0, "ignored": 0, "seen": 0}
    known = queue.rows_by_id(ctx.db, [t["id"] for t in tickets], SEEN_COLUMNS)
    start = float(store.get_sync(ctx.db, "start_time") or 0)
    gaps = store.gaps_since(ctx.db, min((to_epoch(t.get("created_at")) or 0 for t in tickets), default=0))
    new: list[dict[str, Any]] = []
    seen: list[tuple[str, str, float, int]] = []
    unread: list[int] = []
    landed: list[tuple[int, Intent]] = []

    def flush() -> None:
        queue.insert_new(ctx.db, new)
        queue.update_seen(ctx.db, seen)
        queue.needs_reading(ctx.db, unread)
        new.clear()
        seen.clear()
        unread.clear()

    for t in tickets:
        row = known.get(t["id"])
        ok, why = eligible(t, ctx.config)
        zd_fields = {
            "zd_status": t["status"],
            "zd_tags": json.dumps(t["tags"]),
            "zd_updated_at": float(t.get("generated_timestamp") or to_epoch(t.get("updated_at")) or now),
        }
        if row is None:
            if not ok:
                stats["ignored"] += 1  # never ours: not stored, so closed history does not fill the database
                continue
            created = to_epoch(t.get("created_at"))
            base = {
                "id": t["id"], "subject": t["subject"], "description": t["description"],
                "requester_id": t.get("requester_id"), "zd_created_at": created,
                "changed_at": iso(now), **zd_fields,
                "needs_read": int(_unvouched(created, zd_fields["zd_updated_at"], start, gaps)), "marker_inherited": 0,
            }
            if marker in t["tags"]:
                # A copied marker proves nothing (a follow-up inherits the closed ticket's tags): the ticket is
                # ours only if it holds our note for its own id. Our note changes the ticket after its creation,
                # so one untouched since then cannot hold it; any other one is read before it is sent.
                base["marker_inherited"] = 1
                base["needs_read"] = int(base["needs_read"] or zd_fields["zd_updated_at"] > (created or 0) + 60)
                origin = zd.followup_of(t)
                if origin is not None:
                    store.log_event(ctx.db, now, "follow_up", ticket_id=t["id"],
                                    detail=f"follow-up of #{origin}: triaged as a new ticket")
            new.append({**base, "state": State.QUEUED.value, "queued_at": iso(now)})
            stats["queued"] += 1
            known[t["id"]] = new[-1]  # the same ticket twice in a page is new only once
            continue
        stats["seen"] += 1
        seen.append((zd_fields["zd_status"], zd_fields["zd_tags"], zd_fields["zd_updated_at"], t["id"]))
        if any((row["zd_updated_at"] or 0) < g <= zd_fields["zd_updated_at"] for g in gaps):
            unread.append(t["id"])  # changed in a crowded second the event export was stepped past
        intent = writes.current_intent(row)
        if intent is not None and landed_by_tags(ctx, intent, t["tags"], inherited=bool(row.get("marker_inherited"))):
            # our write shows in the export: settled without asking Zendesk for the job's status (all of the
            # page's at once below: their rows hold an intent, so none of them is skipped or inserted here)
            stats["settled"] = stats.get("settled", 0) + 1
            landed.append((t["id"], intent))
            continue
        if not ok and row["state"] in (State.QUEUED, State.FAILED):
            flush()  # the row as it was written so far, before it moves
            queue.skip(ctx.db, t["id"], now, reason=why)
            if ctx.config.privacy.drop_text_after_write:
                queue.drop_text(ctx.db, t["id"])
            store.log_event(ctx.db, now, "skipped", ticket_id=t["id"], detail=why)
            stats["skipped"] += 1
    flush()
    settle_landed(ctx, landed)
    observe.observe_tickets(ctx, known, tickets)  # what agents changed on tickets we wrote (live agreement)
    return stats


def _unvouched(created: float | None, updated: float, start: float, gaps: list[int]) -> bool:
    """Whether a new ticket's comments must be read one by one: it is older than the event export's start and
    was answered since, or it was changed in a crowded second the export was stepped past."""
    if created is None:
        return True
    if created < start and updated > created + 60:
        return True
    return any(created <= g <= updated for g in gaps)


def _poison(ctx: Context, ticket: dict[str, Any], exc: Exception) -> None:
    """A ticket whose data cannot be stored: dead with the reason (and no text), so it is tagged, not retried."""
    now = ctx.now()
    reason = f"cannot store the ticket: {type(exc).__name__}"
    ticket_id = ticket.get("id") if isinstance(ticket, dict) else None
    if not isinstance(ticket_id, int):
        store.log_event(ctx.db, now, "bad_export_row", detail=reason)
        return
    with ctx.db.atomic():
        row = queue.get(ctx.db, ticket_id)
        if row is None:
            status = ticket.get("status")
            queue.insert_new(ctx.db, [{"id": ticket_id, "state": State.DEAD.value, "dead_at": iso(now),
                                       "changed_at": iso(now), "last_error": reason, "zd_tags": "[]",
                                       "zd_status": status if isinstance(status, str) else None}])
        elif row["state"] in (State.QUEUED, State.SUBMITTED, State.FAILED, State.ANSWERED):
            queue.kill(ctx.db, ticket_id, now, reason=reason)
        store.log_event(ctx.db, now, "dead", ticket_id=ticket_id, detail=reason)
