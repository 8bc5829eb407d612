"""Write intents: what write-back is about to send for a ticket, and what became of it.

An intent names its kind (the note and tags of an answer, or the failed tag of a dead ticket) and the
triage it belongs to; it is recorded before the Zendesk call and its job id after. An outcome settles only
the intent it was sent for: one for an intent that no longer exists (the ticket was revived, re-triaged, or
settled already) is ``"stale"`` and changes nothing. The transitions used here are declared in
``tickets.TRANSITIONS`` like every other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlite_utils

from ..timeutil import iso
from . import reads
from .db import WRITABLE, WRITABLE_ORDER
from .tickets import IllegalTransition, Intent, WriteKind, _move, _move_many, _move_many_if, get, kill


def begin_writes(db: sqlite_utils.Database, now: float, intents: Sequence[tuple[int, str, int]]) -> list[int]:
    """Record ``(ticket_id, kind, triage_n)`` intents before the Zendesk call (one statement per kind).

    Returns the ids whose intent was recorded: a ticket that moved since it was read (``zdtriage retry
    --dead`` landing between the fresh read and here) is left out, and the others go on without it."""
    began: list[int] = []
    for kind, name in ((WriteKind.NOTE, "begin_note"), (WriteKind.FAILED_TAG, "begin_failed_tag")):
        items: list[tuple[int, dict[str, Any]]] = [
            (ticket_id, {"write_kind": kind.value, "write_triage_n": triage_n, "write_started_at": iso(now)})
            for ticket_id, k, triage_n in intents if k == kind]
        try:
            with db.atomic():
                _move_many(db, name, now, items)
            began += [ticket_id for ticket_id, _ in items]
        except IllegalTransition:
            # rare: one ticket at a time, so the one that moved is the only one left out
            began += [
                ticket_id for ticket_id, values in items if _move(db, name, ticket_id, now, strict=False, **values)
            ]
    return began


def record_job(db: sqlite_utils.Database, job_id: str, ticket_ids: Sequence[int]) -> None:
    """The update_many job that carries these tickets' open intents."""
    _move_many(db, "record_job", 0.0, [(ticket_id, {"write_job_id": job_id}) for ticket_id in ticket_ids])


def cancel_writes(db: sqlite_utils.Database, ticket_ids: Sequence[int]) -> None:
    """The call was refused before anything was applied (429, 401, 4xx): the intents are dropped."""
    for ticket_id in ticket_ids:
        _move(db, "cancel_write", ticket_id, 0.0, strict=False)


def _intent(intent: Intent) -> dict[str, Any]:
    expect = {"write_kind": intent.kind, "write_triage_n": intent.triage_n}
    if intent.job_id is not None:
        expect["write_job_id"] = intent.job_id
    return expect


def not_owed(db: sqlite_utils.Database, ticket_id: int, now: float, *, reason: str) -> bool:
    """A dead ticket solved, closed or opted out before its failed tag was sent: the tag is not owed."""
    return _move(db, "failed_tag_not_owed", ticket_id, now, failed_tag_at=iso(now), last_error=reason[:300])


def forget_job(db: sqlite_utils.Database, ticket_id: int, intent: Intent) -> bool:
    """The job vanished or said nothing of this ticket: keep the intent, to be verified in Zendesk."""
    return _move(db, "forget_job", ticket_id, 0.0, strict=False, expect=_intent(intent))


def release(db: sqlite_utils.Database, ticket_id: int, intent: Intent) -> bool:
    """Verified in Zendesk that the write did not land: drop the intent so it is sent again."""
    return _move(db, "cancel_write", ticket_id, 0.0, strict=False, expect=_intent(intent))


def settle(db: sqlite_utils.Database, now: float, ticket_id: int, intent: Intent, outcome: str, *,
           error: str = "", max_write_attempts: int, max_failed_tag_attempts: int,
           retry_at: float | None = None) -> str:
    """Record what became of the write ``intent`` of one ticket.

    ``outcome``: ``"ok"`` (landed), ``"closed"`` (the ticket can no longer be updated) or ``"error"`` (sent
    again not before ``retry_at``, the write backoff).
    Returns what happened to the ticket: written, skipped, retry, dead, failed_tagged, failed_tag_error,
    failed_tag_given_up, or ``"stale"`` when the ticket has no such intent any more (nothing changes).
    """
    expect = _intent(intent)
    error = error[:300]
    if intent.kind == WriteKind.FAILED_TAG:
        if outcome in ("ok", "closed"):
            return landed(db, now, ticket_id, intent)
        if not _move(db, "failed_tag_refused", ticket_id, now, strict=False, expect=expect,
                     last_error=f"failed tag: {error}"):
            return "stale"
        row = get(db, ticket_id)
        if row and row["failed_tag_attempts"] >= max_failed_tag_attempts:
            # refused again and again (e.g. a 422 on that ticket): stop resending; last_error keeps the reason
            _move(db, "failed_tag_written", ticket_id, now, failed_tag_at=iso(now))
            return "failed_tag_given_up"
        return "failed_tag_error"
    if outcome == "ok":
        return landed(db, now, ticket_id, intent)
    if outcome == "closed":
        return "skipped" if _move(db, "skip", ticket_id, now, strict=False, expect=expect,
                                  last_error=error) else "stale"
    if not _move(db, "write_failed", ticket_id, now, strict=False, expect=expect, last_error=f"write-back: {error}",
                 next_attempt_at=iso(retry_at if retry_at is not None else now)):
        return "stale"
    row = get(db, ticket_id)
    if row and row["write_attempts"] >= max_write_attempts:
        kill(db, ticket_id, now, reason=f"write-back: {error}")
        return "dead"
    return "retry"


def landed(db: sqlite_utils.Database, now: float, ticket_id: int, intent: Intent) -> str:
    """The write ``intent`` of one ticket landed: ``settle(..., "ok")``; ``written``, ``failed_tagged`` or
    ``stale``."""
    if intent.kind == WriteKind.FAILED_TAG:
        return "failed_tagged" if _move(db, "failed_tag_written", ticket_id, now, strict=False,
                                        expect=_intent(intent), failed_tag_at=iso(now)) else "stale"
    return "written" if _move(db, "written", ticket_id, now, strict=False, expect=_intent(intent)) else "stale"


class _Short(Exception):
    """Some write of a group had no such intent any more: the group is rolled back and replayed one by one."""


def landed_many(db: sqlite_utils.Database, now: float, items: Sequence[tuple[int, Intent]]) -> list[str]:
    """:func:`landed` for many ``(ticket_id, intent)``, one statement per kind of write (an export page shows
    hundreds of our writes: issue 22); the outcome of each, in order. A group where one intent is gone (the
    ticket moved meanwhile, or is listed twice) is replayed one at a time, so each gets its own outcome."""
    out: dict[int, str] = {}
    groups: dict[tuple[str, bool], list[int]] = {}
    for index, (_, intent) in enumerate(items):
        groups.setdefault((intent.kind, intent.job_id is not None), []).append(index)
    for (kind, _), indexes in groups.items():
        name, values, done = (("failed_tag_written", {"failed_tag_at": iso(now)}, "failed_tagged")
                              if kind == WriteKind.FAILED_TAG else ("written", {}, "written"))
        try:
            with db.atomic():
                moves = [(items[i][0], values, _intent(items[i][1])) for i in indexes]
                if _move_many_if(db, name, now, moves) != len(moves):
                    raise _Short
            out.update((i, done) for i in indexes)
        except _Short:
            out.update((i, landed(db, now, *items[i])) for i in indexes)
    return [out[i] for i in range(len(items))]



# -- reads -----------------------------------------------------------------------------


def current_intent(row: Mapping[str, Any]) -> Intent | None:
    """The open write intent of a stored row, if any."""
    if row.get("write_started_at") is None or row.get("write_kind") is None:
        return None
    return Intent(row["write_kind"], row["write_triage_n"], row.get("write_job_id"))


def open_jobs(db: sqlite_utils.Database, sent_before: float | None = None, now: float | None = None) -> list[str]:
    """Job ids that carry open write intents (with ``sent_before``: only jobs sent before that time; with
    ``now`` also those stamped more than a minute after it, by a clock that has since been set back, so a
    job is never left unchecked until the clock catches up)."""
    sql, params = "select write_job_id, min(write_started_at) as sent from tickets where write_job_id is not null", []
    sql += " group by write_job_id"
    if sent_before is not None:
        sql += " having sent <= ?" if now is None else " having (sent <= ? or sent > ?)"
        params += [iso(sent_before)] if now is None else [iso(sent_before), iso(now + 60)]
    return [r["write_job_id"] for r in reads.rows(db, sql, params)]


def open_intents(db: sqlite_utils.Database) -> dict[str | None, str]:
    """Every job id that carries open write intents, and ``None`` when intents without a job id are open, each
    with its first intent's stamp: one read of the open-intent index, so a write-back minute with nothing in
    flight costs next to nothing (issue 22). ``open_jobs`` and ``unsure_writes`` select among these."""
    return {job: sent for job, sent in db.execute(
        "select write_job_id, min(write_started_at) from tickets where write_started_at is not null "
        "group by write_job_id").fetchall()}


def job_members(db: sqlite_utils.Database, job_id: str) -> list[dict[str, Any]]:
    return reads.rows(db, "select * from tickets where write_job_id = ?", [job_id])


def unsure_writes(db: sqlite_utils.Database, before: float, now: float) -> list[dict[str, Any]]:
    """Intents recorded before ``before`` with no job id: a crash or timeout hid whether they landed.
    One stamped after ``now`` came from a clock that ran ahead: it is checked too, not left forever."""
    return reads.rows(db, "select * from tickets where write_started_at is not null and write_job_id is null "
                     "and (write_started_at <= ? or write_started_at > ?)", [iso(before), iso(now + 60)])


def writable(db: sqlite_utils.Database, statuses: Sequence[str], limit: int, now: float | None = None,
             max_backoff: float = 3600.0) -> list[dict[str, Any]]:
    """Answered tickets, and dead ones still owed their failed tag, with no open intent, fairest first:
    writes Zendesk never refused before the ones it did, answers before failed tags, oldest first. So a
    pile of refused writes can never take the whole allowance from new answers. With ``now``, an answer
    whose write was refused waits for its backoff (a retry time beyond ``max_backoff`` came from a clock
    that ran ahead, and is due)."""
    wait, params = "", []
    if now is not None:
        wait = ("and (state != 'answered' or next_attempt_at is null or next_attempt_at <= ? "
                "or next_attempt_at > ?) ")
        params = [iso(now), iso(now + max_backoff)]
    # walked in order on its own index (m0050), to the first ``limit``: no read and sort of every waiting row
    return reads.rows(
        db,
        f"select * from tickets indexed by idx_tickets_writable where {WRITABLE} and (state = 'answered' or "
        f"zd_status in ({', '.join('?' for _ in statuses)})) {wait}order by {WRITABLE_ORDER} limit ?",
        [*statuses, *params, limit])
