"""The ticket state machine: every change of a ticket's state or of its write intent is one function here.

States (DESIGN §6)::

    queued     waiting to be sent in a batch
    submitted  inside a batch that has not been collected yet
    answered   a valid answer is stored, waiting for write-back
    written    tags and note are on the ticket in Zendesk (terminal, until a re-triage)
    failed     a retryable failure; goes back to queued once ``next_attempt_at`` has passed
    dead       gave up (invalid request, too many attempts); only ``zdtriage retry --dead`` revives it
    skipped    not ours to triage: closed, deleted, opted out, or already triaged (terminal)

The transitions are declared once, in :data:`TRANSITIONS` (from → to, the fields each sets, adds to,
counts up and clears). Each is a guarded ``UPDATE … WHERE id = ? AND state IN (…)``: a ticket found in a
state the caller did not expect raises :class:`IllegalTransition` (or, where a replay is expected, returns
False), so a bug or a race shows up instead of writing twice.

Write intents (what write-back is about to send for a ticket) change through the transitions declared
here too; ``writes`` holds the functions that use them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from ..frozen import Record
from ..timeutil import iso
from . import bulk, reads
from .records import conversations

if TYPE_CHECKING:
    import sqlite_utils

    from .reader import Reader


class State(StrEnum):
    QUEUED = "queued"  # waiting to be sent
    SUBMITTED = "submitted"  # inside an uncollected batch
    ANSWERED = "answered"  # valid answer stored, not yet written
    WRITTEN = "written"  # tags + note confirmed in Zendesk
    FAILED = "failed"  # retryable, waits for next_attempt_at
    DEAD = "dead"  # gave up
    SKIPPED = "skipped"  # closed, deleted, opted out, already triaged


ALL_STATES = [s.value for s in State]


class WriteKind(StrEnum):
    NOTE = "note"  # the answer's tags and internal note
    FAILED_TAG = "failed_tag"  # the failed tag of a dead ticket, no note


class IllegalTransition(RuntimeError):
    """A guarded update found the row in a state the caller did not expect."""


class Intent(NamedTuple):
    """What one write was sent for: ``job_id`` is None while the job id is not known (crash, timeout)."""

    kind: str
    triage_n: int
    job_id: str | None = None


INTENT_FIELDS = ("write_kind", "write_triage_n", "write_started_at", "write_job_id")
_IN_BATCH = ("batch", "reserved_usd")
_COUNTERS = {"reserved_usd": 0.0, "attempts": 0, "invalid_answers": 0, "write_attempts": 0, "failed_tag_attempts": 0}


class Transition(Record):
    """One declared change. ``target`` None means the state stays (a write-intent change)."""

    name: str
    sources: tuple[State, ...]
    target: State | None
    sets: tuple[str, ...] = ()  # fields the caller passes
    adds: tuple[str, ...] = ()  # fields the caller's amount is added to (cost)
    bumps: tuple[str, ...] = ()  # counters incremented by one
    clears: tuple[str, ...] = ()  # fields reset: counters to 0, the rest to NULL
    guard: str = ""  # a further condition on the row


def _t(name: str, sources: Sequence[State], target: State | None, *, sets: Sequence[str] = (),
       adds: Sequence[str] = (), bumps: Sequence[str] = (), clears: Sequence[str] = (), guard: str = "") -> Transition:
    return Transition(name, tuple(sources), target, tuple(sets), tuple(adds), tuple(bumps), tuple(clears), guard)


S = State
TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    # batches
    _t("submit", [S.QUEUED], S.SUBMITTED, sets=["batch", "custom_id", "input_chars", "reserved_usd"],
       clears=["next_attempt_at"]),
    _t("requeue", [S.SUBMITTED], S.QUEUED, sets=["last_error"], clears=_IN_BATCH),
    _t("answer", [S.SUBMITTED], S.ANSWERED, sets=["answer", "usage"], adds=["cost_usd"],
       clears=[*_IN_BATCH, "last_error"]),
    _t("reask", [S.SUBMITTED], S.QUEUED, sets=["last_error", "max_tokens"], adds=["cost_usd"],
       bumps=["attempts", "invalid_answers"], clears=_IN_BATCH),
    _t("fail", [S.SUBMITTED], S.FAILED, sets=["last_error", "next_attempt_at"], adds=["cost_usd"], bumps=["attempts"],
       clears=_IN_BATCH),
    _t("promote", [S.FAILED], S.QUEUED),
    # giving up, and not ours
    _t("kill", [S.QUEUED, S.SUBMITTED, S.FAILED, S.ANSWERED], S.DEAD, sets=["last_error"], adds=["cost_usd"],
       clears=[*_IN_BATCH, *INTENT_FIELDS, "failed_tag_at", "failed_tag_attempts"]),
    _t("skip", [S.QUEUED, S.FAILED, S.ANSWERED], S.SKIPPED, sets=["last_error"], clears=[*_IN_BATCH, *INTENT_FIELDS]),
    # back to the queue
    _t("retriage", [S.WRITTEN], S.QUEUED, bumps=["triage_n"],
       clears=["attempts", "invalid_answers", "write_attempts", "answer", "last_error", "max_tokens", *INTENT_FIELDS]),
    _t("retry", [S.FAILED, S.DEAD], S.QUEUED,
       clears=["attempts", "invalid_answers", "write_attempts", "next_attempt_at", "failed_tag_at",
               "failed_tag_attempts", "max_tokens", *INTENT_FIELDS]),
    # write-back: the intent is recorded before the call, its job after, and settled by the job's outcome
    _t("begin_note", [S.ANSWERED], None, sets=["write_kind", "write_triage_n", "write_started_at"],
       guard="write_started_at is null"),
    _t("begin_failed_tag", [S.DEAD], None, sets=["write_kind", "write_triage_n", "write_started_at"],
       guard="write_started_at is null and failed_tag_at is null"),
    _t("record_job", [S.ANSWERED, S.DEAD], None, sets=["write_job_id"], guard="write_started_at is not null"),
    _t("forget_job", [S.ANSWERED, S.DEAD], None, clears=["write_job_id"]),
    _t("cancel_write", [S.ANSWERED, S.DEAD], None, clears=INTENT_FIELDS),
    _t("write_failed", [S.ANSWERED], None, sets=["last_error", "next_attempt_at"], bumps=["write_attempts"],
       clears=INTENT_FIELDS),  # next_attempt_at: the write backoff (an answered ticket has no other use for it)
    _t("written", [S.ANSWERED], S.WRITTEN, clears=INTENT_FIELDS),
    _t("failed_tag_written", [S.DEAD], None, sets=["failed_tag_at"], clears=INTENT_FIELDS),
    _t("failed_tag_refused", [S.DEAD], None, sets=["last_error"], bumps=["failed_tag_attempts"], clears=INTENT_FIELDS),
    _t("failed_tag_not_owed", [S.DEAD], None, sets=["failed_tag_at", "last_error"], clears=INTENT_FIELDS),
)}
del S


@lru_cache(maxsize=256)
def _sql(t: Transition, keys: tuple[str, ...], expect: tuple[str, ...], where: str = "id = ?", rows: int = 0) -> str:
    """The guarded UPDATE of transition ``t`` setting ``keys``; parameters in the order of :func:`_params`.
    ``rows``: one statement for that many tickets, each a row ``(id, *keys, *expect)`` of a VALUES list joined
    on the id (parameters: :func:`_params` of no values, the rows, the sources; see :func:`_move_many_if`)."""
    unknown = set(keys) - set(t.sets) - set(t.adds)
    if unknown:
        raise ValueError(f"transition {t.name} does not set {sorted(unknown)}")
    width = len(keys) + len(expect)  # a row's own values, in order: parameters, or its VALUES columns after the id
    own = iter([f"v.column{i}" for i in range(2, 2 + width)] if rows else ["?"] * width)
    parts = ["[state] = ?", f"[{t.target.value}_at] = ?", "[changed_at] = ?"] if t.target is not None else []
    parts += [f"[{k}] = coalesce([{k}], 0) + {next(own)}" if k in t.adds else f"[{k}] = {next(own)}" for k in keys]
    parts += [f"[{k}] = coalesce([{k}], 0) + 1" for k in t.bumps]
    parts += [f"[{k}] = ?" for k in t.clears]
    if not parts:
        raise ValueError(f"transition {t.name} changes nothing")
    guard = f" and ({t.guard})" if t.guard else ""
    checks = "".join(f" and [{k}] is {next(own)}" for k in expect)
    source, where = (bulk.values(rows, 1 + width), "tickets.id = v.column1") if rows else ("", where)
    return (f"update tickets set {', '.join(parts)}{source} where ({where}) "
            f"and state in ({', '.join('?' for _ in t.sources)}){guard}{checks}")


# a bulk move stamps every row with the same ``now``: formatted once, not once per row (issue 22)
_stamp = lru_cache(maxsize=4)(iso)


def _params(t: Transition, now: float, values: Mapping[str, Any]) -> list[Any]:
    """Parameters of the SET clause of :func:`_sql` (same key order as ``values``)."""
    stamp = _stamp(now)
    head = [t.target.value, stamp, stamp] if t.target is not None else []
    return [*head, *values.values(), *(_COUNTERS.get(k) for k in t.clears)]


def _sources(t: Transition) -> list[str]:
    return [s.value for s in t.sources]


def _move(db: sqlite_utils.Database, name: str, ticket_id: int, now: float, *, strict: bool = True,
          expect: Mapping[str, Any] | None = None, **values: Any) -> bool:
    """Apply the transition ``name`` to one ticket; IllegalTransition (or False when not ``strict``)."""
    t = TRANSITIONS[name]
    expect = dict(expect or {})
    sql = _sql(t, tuple(values), tuple(expect))
    params = [*_params(t, now, values), ticket_id, *_sources(t), *expect.values()]
    if db.execute(sql, params).rowcount == 1:
        return True
    if not strict:
        return False
    row = get(db, ticket_id)
    found = row["state"] if row else "missing"
    raise IllegalTransition(f"ticket {ticket_id}: {name} from {found} (allowed from "
                            f"{', '.join(_sources(t))}{'; intent ' + str(expect) if expect else ''})")


def _move_many(
    db: sqlite_utils.Database, name: str, now: float, items: Sequence[tuple[int, Mapping[str, Any]]]
) -> None:
    """Apply ``name`` to several tickets (one statement per ``bulk.ROWS``, :func:`_move_many_if`); all of them or
    IllegalTransition."""
    moved = _move_many_if(db, name, now, [(ticket_id, values, {}) for ticket_id, values in items])
    if moved != len(items):
        raise IllegalTransition(f"{name}: {len(items) - moved} of {len(items)} tickets were not in "
                                f"{', '.join(_sources(TRANSITIONS[name]))}")


def _move_where(db: sqlite_utils.Database, name: str, now: float, where: str, params: Sequence[Any],
                **values: Any) -> int:
    """Apply ``name`` to every ticket in one of its source states that also matches ``where``."""
    t = TRANSITIONS[name]
    return db.execute(_sql(t, tuple(values), (), where), [*_params(t, now, values), *params, *_sources(t)]).rowcount


def _move_many_if(db: sqlite_utils.Database, name: str, now: float,
                  items: Sequence[tuple[int, Mapping[str, Any], Mapping[str, Any]]]) -> int:
    """Apply ``name`` to each ``(ticket_id, values, expect)`` whose ticket is in a source state and still holds
    ``expect`` (as :func:`_move` with ``strict=False``, the same keys in every item), in one statement per
    ``bulk.ROWS`` tickets; returns how many moved, so a caller that needs each ticket's outcome replays the
    items one at a time when short. A ticket listed twice (each row must see the one before it), or a SQLite
    without UPDATE … FROM: one-row UPDATEs."""
    if not items:
        return 0
    t = TRANSITIONS[name]
    keys, checks, sources = tuple(items[0][1]), tuple(items[0][2]), _sources(t)
    rows = [(ticket_id, *(values[k] for k in keys), *(expect[k] for k in checks)) for ticket_id, values, expect
            in items]
    if bulk.UPDATE_FROM and len({row[0] for row in rows}) == len(rows):
        return bulk.update(db.conn, lambda n: _sql(t, keys, checks, rows=n), _params(t, now, {}), rows, sources)
    return int(db.conn.executemany(_sql(t, keys, checks), [
        [*_params(t, now, dict(zip(keys, row[1:], strict=False))), row[0], *sources, *row[1 + len(keys):]]
        for row in rows]).rowcount)


# -- creating tickets (ingest) ---------------------------------------------------------


def insert_new(db: sqlite_utils.Database, rows: Sequence[dict[str, Any]]) -> None:
    """Store tickets seen for the first time, each ``queued`` or ``skipped`` (already triaged elsewhere)."""
    for row in rows:
        if row.get("state") not in (State.QUEUED, State.SKIPPED, State.DEAD):
            raise IllegalTransition(f"ticket {row.get('id')}: a new ticket starts queued, skipped or dead")
    db.table("tickets").insert_all(rows)


def update_seen(db: sqlite_utils.Database, rows: Sequence[tuple[str, str, float, int]]) -> None:
    """What Zendesk says of known tickets now: ``(zd_status, zd_tags JSON, zd_updated_at, id)``. No state change."""
    db.conn.executemany("update tickets set zd_status = ?, zd_tags = ?, zd_updated_at = ? where id = ?", rows)


def needs_reading(db: sqlite_utils.Database, ticket_ids: Sequence[int]) -> None:
    """These tickets' comments must be read one by one before they are sent (a crowded second of the event
    export may have held some of them)."""
    db.conn.executemany("update tickets set needs_read = 1 where id = ? and state in ('queued', 'failed')",
                        [(i,) for i in ticket_ids])


def crowded_second(db: sqlite_utils.Database, second: int) -> int:
    """Flag every waiting ticket whose events the skipped ``second`` may have held: created by then and
    changed since."""
    return db.execute("update tickets set needs_read = 1 where state in ('queued', 'failed') "
                      "and zd_updated_at >= ? and coalesce(zd_created_at, 0) <= ?", [second, second + 1]).rowcount


def comments_read(db: sqlite_utils.Database, ticket_id: int, as_of: float | None) -> None:
    """The ticket's comments were read one by one: complete as of its change at ``as_of`` (Zendesk's time)."""
    db.execute("update tickets set needs_read = 0, history_fetched = 1, comments_read_at = ? where id = ?",
               [as_of, ticket_id])


def drop_text(db: sqlite_utils.Database, ticket_id: int) -> None:
    """Retention: keep a done ticket's outcome but not the customer's words (nor the draft, which quotes them)."""
    row = get(db, ticket_id)
    if row is None:
        return
    answer = json.loads(row["answer"]) if row["answer"] else None
    if answer:
        answer.pop("draft", None)
    db.execute("update tickets set subject = null, description = null, answer = ? where id = ?",
               [json.dumps(answer) if answer else None, ticket_id])
    db.execute("delete from comments where ticket_id = ?", [ticket_id])


# -- batches: submit, answer, fail -----------------------------------------------------


def submit(db: sqlite_utils.Database, now: float, batch: str, items: Sequence[tuple[int, str, int, float]]) -> None:
    """Move ``(ticket_id, custom_id, input_chars, reserved_usd)`` tickets from queued into ``batch``."""
    _move_many(db, "submit", now, [(ticket_id, {"batch": batch, "custom_id": custom_id, "input_chars": chars,
                                                "reserved_usd": reserved})
                                   for ticket_id, custom_id, chars, reserved in items])


def requeue_batch(db: sqlite_utils.Database, now: float, batch: str, reason: str) -> int:
    """Every ticket still submitted in ``batch`` back to the queue, no attempt counted."""
    return _move_where(db, "requeue", now, "batch = ?", [batch], last_error=reason[:300])


def answer(db: sqlite_utils.Database, ticket_id: int, now: float, *, answer: Mapping[str, Any],
           usage: Mapping[str, Any] | None, cost_usd: float) -> bool:
    return _move(db, "answer", ticket_id, now, answer=json.dumps(answer), usage=json.dumps(usage), cost_usd=cost_usd)


def answer_many(db: sqlite_utils.Database, now: float,
                items: Sequence[tuple[int, Mapping[str, Any], Mapping[str, Any] | None, float]]) -> None:
    """:func:`answer` for ``(ticket_id, answer, usage, cost_usd)`` tickets in one statement (poll's chunk of
    results, issue 22); all of them or IllegalTransition, and then nothing of the caller's transaction stays."""
    _move_many(db, "answer", now, [(ticket_id, {"answer": json.dumps(body), "usage": json.dumps(usage),
                                                "cost_usd": cost_usd})
                                   for ticket_id, body, usage, cost_usd in items])


def reask(db: sqlite_utils.Database, ticket_id: int, now: float, *, reason: str, cost_usd: float = 0.0,
          max_tokens: int | None = None) -> bool:
    """An answer that was not valid: back to the queue with the attempt and the invalid answer counted
    (``max_tokens``: the room the next answer gets, when this one was cut)."""
    return _move(db, "reask", ticket_id, now, last_error=reason[:300], cost_usd=cost_usd, max_tokens=max_tokens)


def fail(db: sqlite_utils.Database, ticket_id: int, now: float, *, reason: str, next_attempt_at: float,
         cost_usd: float = 0.0) -> bool:
    return _move(db, "fail", ticket_id, now, last_error=reason[:300], next_attempt_at=iso(next_attempt_at),
                 cost_usd=cost_usd)


def kill(db: sqlite_utils.Database, ticket_id: int, now: float, *, reason: str, cost_usd: float = 0.0) -> bool:
    """Give up on a ticket (it will get the failed tag); raises from written, skipped or dead."""
    return _move(db, "kill", ticket_id, now, last_error=reason[:300], cost_usd=cost_usd)


def skip(db: sqlite_utils.Database, ticket_id: int, now: float, *, reason: str) -> bool:
    return _move(db, "skip", ticket_id, now, last_error=reason[:300])


def promote_due(db: sqlite_utils.Database, now: float, max_backoff: float = 3600.0) -> int:
    """Failed tickets whose backoff has passed, back to the queue; a retry time further away than any
    backoff was stamped by a clock that ran ahead, and is due now."""
    return _move_where(db, "promote", now, "next_attempt_at is null or next_attempt_at <= ? or next_attempt_at > ?",
                       [iso(now), iso(now + max_backoff)])


def retriage(db: sqlite_utils.Database, ticket_id: int, now: float) -> bool:
    """A written ticket the customer answered: queued again as the next triage."""
    return _move(db, "retriage", ticket_id, now, strict=False)


def retry(db: sqlite_utils.Database, now: float, *, dead: bool = False, ids: Sequence[int] = ()) -> int:
    """``zdtriage retry``: failed (and with ``dead``, dead) tickets back to the queue, counters reset.

    Any write intent is dropped with them: a failed-tag job still in flight settles nothing when it ends.
    """
    where = "state = 'failed'" if not dead else "state in ('failed', 'dead')"
    params: list[Any] = []
    if ids:
        where += f" and id in ({', '.join('?' for _ in ids)})"
        params += list(ids)
    return _move_where(db, "retry", now, where, params)


# -- reads -----------------------------------------------------------------------------


def get(db: sqlite_utils.Database, ticket_id: int) -> dict[str, Any] | None:
    return reads.first(db, "select * from tickets where id = ?", [ticket_id])


def rows_by_id(db: sqlite_utils.Database, ids: Sequence[int],
               columns: Sequence[str] = ("*",)) -> dict[int, dict[str, Any]]:
    """The stored rows of these tickets (``columns`` of them, ``id`` among them), one query per 500 ids."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start:start + 500])
        out.update((r["id"], r) for r in reads.rows(
            db, f"select {', '.join(columns)} from tickets where id in ({', '.join('?' * len(part))})", part))
    return out


def counts(db: Reader) -> dict[str, int]:
    """Tickets per state, every state present."""
    out = {s: 0 for s in ALL_STATES}
    for row in db.query("select state, count(*) as n from tickets group by state"):
        out[row["state"]] = row["n"]
    return out


def count(db: Reader, state: State) -> int:
    return int(next(db.query("select count(*) as n from tickets where state = ?", [state.value]))["n"])


def conversation(db: sqlite_utils.Database, ticket_id: int) -> list[dict[str, Any]]:
    """Stored comments of a ticket, oldest first (``records.conversations`` of one ticket)."""
    return conversations(db, [ticket_id]).get(ticket_id, [])


def iter_rows(db: sqlite_utils.Database, sql: str, params: list[Any] | None = None, *,
              chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Stream a query's rows by keyset pages of ``id`` so memory stays flat on big queues.

    ``sql`` must end in a ``where`` clause (``… and id > ?`` is appended).
    """
    last = -1
    while True:
        rows = reads.rows(db, f"{sql} and id > ? order by id limit {chunk}", [*(params or []), last])
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]


def reserved_total(db: Reader) -> float:
    """Worst-case dollars reserved by tickets inside open batches."""
    return float(next(db.query(
        "select coalesce(sum(reserved_usd), 0) as s from tickets where state = 'submitted'"))["s"])


def needing_read(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """Waiting tickets whose comments must be read one by one, oldest first."""
    return list(
        db.query(
            "select id, zd_updated_at, marker_inherited from tickets "
            "where needs_read = 1 and state in ('queued', 'failed') order by zd_created_at, id limit ?",
            [limit],
        )
    )


# a waiting ticket's conversation is known when the event export has been read past its last change, when
# its only change was its creation (the description is the whole conversation), or when its comments were
# read one by one since that change
READY = ("needs_read = 0 and (zd_updated_at < ? or zd_updated_at <= coalesce(zd_created_at, 0) + 1 "
         "or zd_updated_at <= coalesce(comments_read_at, -1))")


class Waiting(TypedDict):
    queued: int
    ready: int
    oldest: float | None  # None when nothing waits


def waiting(db: Reader, events_complete: float) -> Waiting:
    """The queue as the submit policy sees it: how many wait, how many are ready, since when the oldest waits
    (arrival for a first triage, the customer's reply for a re-triage, and for a ticket asked again — an
    invalid answer, a retry after its backoff — the moment it was queued again: it joins the next regular
    batch instead of starting its own 1-2 ticket batch at once, issue 22)."""
    row = reads.first(
        db, f"select count(*) as n, coalesce(sum({READY}), 0) as ready, "
        "min(case when attempts > 0 and queued_at is not null "
        "then round((julianday(queued_at) - 2440587.5) * 86400.0, 3) "
        "when triage_n > 1 then zd_updated_at else coalesce(zd_created_at, zd_updated_at) end) as oldest "
        "from tickets where state = 'queued'", [events_complete]) or {"n": 0, "ready": 0, "oldest": None}
    return {"queued": row["n"], "ready": row["ready"], "oldest": row["oldest"]}
