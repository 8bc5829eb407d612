"""The SQLite queue and state machine (sqlite-utils). Database only: no network here.

Ticket states (DESIGN §6)::

    queued     waiting to be sent in a batch
    submitted  inside a batch that has not been collected yet
    answered   a valid answer is stored, waiting for write-back
    written    tags and note are on the ticket in Zendesk (terminal)
    failed     a retryable failure; goes back to queued once ``next_attempt_at`` has passed
    dead       gave up (invalid request, too many attempts); only ``zdtriage retry --dead`` revives it
    skipped    not ours to triage: closed, deleted, opted out, or already triaged (terminal)

Every transition is a guarded ``UPDATE ... WHERE id = ? AND state IN (...)``; a transition
from a state the caller did not expect raises :class:`IllegalTransition`, so a bug or a race
shows up loudly instead of writing twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .timeutil import iso


class State(StrEnum):
    QUEUED = "queued"  # waiting to be sent
    SUBMITTED = "submitted"  # inside an uncollected batch
    ANSWERED = "answered"  # valid answer stored, not yet written
    WRITTEN = "written"  # tags + note confirmed in Zendesk
    FAILED = "failed"  # retryable, waits for next_attempt_at
    DEAD = "dead"  # gave up
    SKIPPED = "skipped"  # closed, deleted, opted out, already triaged


ALL_STATES = [s.value for s in State]


class IllegalTransition(RuntimeError):
    """A guarded update found the row in a state the caller did not expect."""


migrations = Migrations("zdtriage")


@migrations()
def m0001_initial(db: sqlite_utils.Database) -> None:
    db["tickets"].create(
        {
            "id": int,  # the Zendesk ticket id
            "state": str,
            "subject": str,
            "description": str,
            "requester_id": int,
            "zd_status": str,
            "zd_tags": str,  # JSON list, as last seen in Zendesk
            "zd_created_at": float,  # epoch seconds
            "zd_updated_at": float,  # generated_timestamp of the last export row we saw
            "triage_n": int,  # 1 for the first triage, 2.. for re-triage
            "attempts": int,  # batch attempts for this triage
            "invalid_answers": int,
            "last_error": str,
            "next_attempt_at": str,
            "batch": str,  # batches.local_id while submitted
            "custom_id": str,
            "input_chars": int,
            "history_fetched": int,  # 1 once comments older than the event export were read
            "answer": str,  # JSON: the validated answer
            "usage": str,  # JSON: usage of the result
            "cost_usd": float,
            "reserved_usd": float,
            "write_started_at": str,  # write-back intent recorded before the Zendesk call
            "write_job_id": str,  # update_many job that carries our write
            "write_attempts": int,
            "failed_tag_at": str,  # when the ai_failed tag of a dead ticket reached Zendesk
            "queued_at": str,
            "submitted_at": str,
            "answered_at": str,
            "written_at": str,
            "failed_at": str,
            "dead_at": str,
            "skipped_at": str,
            "changed_at": str,
        },
        pk="id",
        not_null={"state"},
        defaults={"triage_n": 1, "attempts": 0, "invalid_answers": 0, "write_attempts": 0, "cost_usd": 0.0, "reserved_usd": 0.0},
    )
    db["tickets"].create_index(["state"])
    db["tickets"].create_index(["batch"])
    db["tickets"].create_index(["write_job_id"])
    db["comments"].create(
        {"id": int, "ticket_id": int, "author_id": int, "public": int, "body": str, "created_at": float},
        pk="id",
    )
    db["comments"].create_index(["ticket_id", "created_at"])
    db["batches"].create(
        {
            "local_id": str,  # ours, recorded before the create call
            "batch_id": str,  # Anthropic's, recorded after it
            "state": str,  # creating | open | collected | abandoned
            "model": str,
            "request_count": int,
            "bytes": int,
            "reserved_usd": float,
            "cost_usd": float,
            "counts": str,  # JSON request_counts when ended
            "created_at": str,
            "expires_at": str,
            "ended_at": str,
            "collected_at": str,
            "error": str,
        },
        pk="local_id",
        defaults={"cost_usd": 0.0, "reserved_usd": 0.0},
    )
    db["batches"].create_index(["batch_id"], unique=True)
    db["batches"].create_index(["state"])
    db["sync"].create({"key": str, "value": str}, pk="key")
    db["events"].create(
        {"id": int, "at": str, "action": str, "ticket_id": int, "batch": str, "detail": str},
        pk="id",
    )
    db["events"].create_index(["at"])
    db["events"].create_index(["ticket_id"])


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating with mode 0600) the state database, enable WAL, apply migrations."""
    if str(path) != ":memory:":
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # the database holds ticket text: readable by the service user only
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
    else:
        db = sqlite_utils.Database(memory=True)
    db.conn.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db)
    return db


# -- small helpers ---------------------------------------------------------------------


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default


def log_event(db: sqlite_utils.Database, now: float, action: str, *, ticket_id: int | None = None,
              batch: str | None = None, detail: str = "") -> None:
    """Append one line to the event log (no ticket text, ever)."""
    db["events"].insert({"at": iso(now), "action": action, "ticket_id": ticket_id, "batch": batch, "detail": detail[:500]})


def get_sync(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    rows = list(db.query("select value from sync where key = ?", [key]))
    return rows[0]["value"] if rows else default


def set_sync(db: sqlite_utils.Database, key: str, value: str | None) -> None:
    if value is None:
        db.execute("delete from sync where key = ?", [key])
    else:
        db["sync"].upsert({"key": key, "value": value}, pk="key")


def transition(db: sqlite_utils.Database, ticket_id: int, from_states: Iterable[str], to: State, now: float,
               **changes: Any) -> None:
    """Move one ticket from one of ``from_states`` to ``to``; raise IllegalTransition otherwise."""
    from_states = list(from_states)
    stamp = iso(now)
    values = {"state": to.value, f"{to.value}_at": stamp, "changed_at": stamp, **changes}
    assignments = ", ".join(f"[{k}] = ?" for k in values)
    marks = ", ".join("?" for _ in from_states)
    cursor = db.execute(
        f"update tickets set {assignments} where id = ? and state in ({marks})",
        [*values.values(), ticket_id, *from_states],
    )
    if cursor.rowcount != 1:
        row = list(db.query("select state from tickets where id = ?", [ticket_id]))
        found = row[0]["state"] if row else "missing"
        raise IllegalTransition(f"ticket {ticket_id}: {found} -> {to.value} (expected one of {from_states})")


def try_transition(db: sqlite_utils.Database, ticket_id: int, from_states: Iterable[str], to: State, now: float,
                   **changes: Any) -> bool:
    """Like :func:`transition` but returns False instead of raising (idempotent replays)."""
    try:
        transition(db, ticket_id, from_states, to, now, **changes)
    except IllegalTransition:
        return False
    return True


def get_ticket(db: sqlite_utils.Database, ticket_id: int) -> dict[str, Any] | None:
    rows = list(db.query("select * from tickets where id = ?", [ticket_id]))
    return rows[0] if rows else None


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Tickets per state, every state present."""
    out = {s: 0 for s in ALL_STATES}
    for row in db.query("select state, count(*) as n from tickets group by state"):
        out[row["state"]] = row["n"]
    return out


def conversation(db: sqlite_utils.Database, ticket_id: int) -> list[dict[str, Any]]:
    """Stored comments of a ticket, oldest first."""
    return list(db.query(
        "select id, author_id, public, body, created_at from comments where ticket_id = ? order by created_at, id",
        [ticket_id],
    ))


def iter_rows(db: sqlite_utils.Database, sql: str, params: list[Any] | None = None, *, chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Stream a query's rows by keyset pages of ``id`` so memory stays flat on big queues."""
    last = -1
    while True:
        rows = list(db.query(f"{sql} and id > ? order by id limit {chunk}", [*(params or []), last]))
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]
