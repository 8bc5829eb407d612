"""Retention: done tickets older than ``state.keep_days`` leave the state database, with their comments and
events, in small transactions; the pages they held go back to the file system. Database only.

Only finished tickets go: ``written``, ``skipped``, and ``dead`` ones whose failed tag is settled (written,
given up, not owed) or never owed (the ticket is no longer in a status we write to); never a ticket with an
open write intent, nor one queued, submitted, answered or failed. A pruned ticket that changes again in
Zendesk comes back through the export as a new row, and its marker tag makes it ``skipped``
(``stages.ingest``): it is never triaged twice.

Batch rows go after the same time, but never one of the current UTC month (monthly spend counts them), nor
one still open. The event log and comments whose ticket was never stored (opted out, closed when first seen)
age out the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..timeutil import iso, month_start
from .records import get_sync, set_sync

if TYPE_CHECKING:
    import sqlite_utils

CHUNK = 500  # tickets per transaction: the daemon's other stages wait for at most one chunk
MAX_CHUNKS = 1_000  # per run (500,000 tickets, ~13 CPU-s): a first prune of a year takes the next six hours
SCAN = 2_000  # comments or events looked at per step
PRUNED_BEFORE = "retention:pruned_before"  # reports.window: done tickets changed before this are gone
COMMENTS_AFTER = "retention:comments_after"  # comment id up to which ticketless comments were pruned
DONE = ("written", "skipped", "dead")


def _candidates(db: sqlite_utils.Database, state: str, cutoff: str, statuses: Sequence[str], limit: int) -> list[int]:
    """Oldest-first ids of ``state`` tickets last changed before ``cutoff`` that may go (idx_tickets_state_changed)."""
    sql = ("select id from tickets where state = ? and changed_at < ? and write_started_at is null"
           f"{_settled(statuses) if state == 'dead' else ''} order by changed_at limit ?")
    return [r[0] for r in db.execute(sql, [state, cutoff, *(statuses if state == "dead" else []), limit])]


def _settled(statuses: Sequence[str]) -> str:
    # a dead ticket's failed tag is settled, or not owed: write-back only tags tickets in these statuses
    return f" and (failed_tag_at is not null or coalesce(zd_status, '') not in ({', '.join('?' for _ in statuses)}))"


def _delete_tickets(
    db: sqlite_utils.Database, ids: list[int], cutoff: str, statuses: Sequence[str]
) -> tuple[int, int, int]:
    marks = ", ".join("?" for _ in ids)
    comments = db.execute(f"delete from comments where ticket_id in ({marks})", ids).rowcount
    events = db.execute(f"delete from events where ticket_id in ({marks})", ids).rowcount
    # the same conditions again, in the same transaction: nothing in flight can go, whatever the caller passed.
    # NOT INDEXED: with 500 ids the planner would rather walk (state, changed_at) over every old ticket
    tickets = db.execute(
        f"delete from tickets not indexed where id in ({marks}) and changed_at < ? and write_started_at is null and "
        f"(state in ('written', 'skipped') or (state = 'dead'{_settled(statuses)}))",
        [*ids, cutoff, *statuses]).rowcount
    return tickets, comments, events


def _orphan_comments(db: sqlite_utils.Database, cutoff: float, steps: int) -> int:
    """Comments older than ``cutoff`` whose ticket is not stored, walked once by id (ids grow with time)."""
    deleted = 0
    after = int(get_sync(db, COMMENTS_AFTER) or 0)
    for _ in range(steps):
        rows = db.execute("select id, ticket_id, created_at from comments where id > ? order by id limit ?",
                          [after, SCAN]).fetchall()
        old = []
        for row in rows:
            if row[2] is not None and row[2] >= cutoff:
                break  # the walk stops at the first comment young enough to keep
            old.append(row)
        if not old:
            break
        with db.atomic():
            ticket_ids = sorted({r[1] for r in old if r[1] is not None})
            stored: set[int] = set()
            for start in range(0, len(ticket_ids), 500):
                part = ticket_ids[start:start + 500]
                stored.update(r[0] for r in db.execute(
                    f"select id from tickets where id in ({', '.join('?' for _ in part)})", part))
            gone = [r[0] for r in old if r[1] not in stored]
            for start in range(0, len(gone), 500):
                part = gone[start:start + 500]
                deleted += db.execute(f"delete from comments where id in ({', '.join('?' for _ in part)})",
                                      part).rowcount
            after = old[-1][0]
            set_sync(db, COMMENTS_AFTER, str(after))
        if len(old) < len(rows) or len(rows) < SCAN:
            break
    return deleted


def _old_rows(db: sqlite_utils.Database, table: str, key: str, where: str, params: list[Any], steps: int) -> int:
    deleted = 0
    for _ in range(steps):
        with db.atomic():
            n = db.execute(f"delete from {table} where {key} in (select {key} from {table} where {where} limit ?)",
                           [*params, SCAN]).rowcount
        deleted += n
        _give_back(db)
        if n < SCAN:
            break
    return deleted


def _give_back(db: sqlite_utils.Database) -> None:
    # executescript steps the pragma to its end (execute() would free a single page); a no-op without
    # auto_vacuum = INCREMENTAL (store/db.py m0010)
    free = db.execute("pragma freelist_count").fetchone()[0]
    if free:
        db.conn.executescript(f"pragma incremental_vacuum({int(free)});")


def prune(db: sqlite_utils.Database, now: float, *, keep_days: int, statuses: Sequence[str],
          chunk: int = CHUNK, max_chunks: int = MAX_CHUNKS) -> dict[str, Any]:
    """Delete what retention lets go (see the module docstring); returns the daemon's summary of the run.

    ``keep_days`` 0 keeps everything. ``statuses`` are ``triage.statuses``: a dead ticket outside them is
    owed no failed tag. At most ``max_chunks`` transactions of ``chunk`` tickets per run (``more`` is true
    when tickets were left for the next run); call it outside a transaction.
    """
    out: dict[str, Any] = {"stage": "prune", "tickets": 0, "comments": 0, "events": 0, "batches": 0,
                           "freed_pages": 0}
    if keep_days <= 0:
        out["note"] = "state.keep_days = 0: everything is kept"
        return out
    pages = db.execute("pragma page_count").fetchone()[0]
    cutoff_epoch = now - keep_days * 86400.0
    cutoff = iso(cutoff_epoch)
    statuses = list(statuses)
    chunks = 0
    for state in DONE:
        while chunks < max_chunks:
            with db.atomic():
                ids = _candidates(db, state, cutoff, statuses, chunk)
                if not ids:
                    break
                tickets, comments, events = _delete_tickets(db, ids, cutoff, statuses)
            chunks += 1
            out["tickets"] += tickets
            out["comments"] += comments
            out["events"] += events
            _give_back(db)
    if chunks >= max_chunks:
        out["more"] = True
    if out["tickets"]:
        previous = get_sync(db, PRUNED_BEFORE)
        set_sync(db, PRUNED_BEFORE, max(cutoff, previous or cutoff))
    out["comments"] += _orphan_comments(db, cutoff_epoch, max_chunks)
    out["events"] += _old_rows(db, "events", "id", "at < ?", [cutoff], max_chunks)
    # spend this month is summed from batch rows: they stay at least until the month is over
    batch_cutoff = min(cutoff, iso(month_start(now)))
    out["batches"] = _old_rows(db, "batches", "local_id", "created_at < ? and state in ('collected', 'abandoned')",
                               [batch_cutoff], max_chunks)
    out["freed_pages"] = max(pages - db.execute("pragma page_count").fetchone()[0], 0)
    return out
