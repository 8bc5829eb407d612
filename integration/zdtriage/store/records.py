"""Everything in the state database that is not a ticket's state: batch rows, comments, sync values and
the event log. Database only: no network here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..timeutil import iso
from . import reads

if TYPE_CHECKING:
    import sqlite_utils

    from .reader import Reader


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default


# -- sync values (cursors, blocks, problems) -------------------------------------------


def get_sync(db: Reader, key: str, default: str | None = None) -> str | None:
    found: str | None = reads.value(db, "select value from sync where key = ?", [key], default)
    return found


def set_sync(db: sqlite_utils.Database, key: str, value: str | None) -> None:
    if value is None:
        db.execute("delete from sync where key = ?", [key])
    else:
        # plain SQL: sqlite-utils' upsert reads the table's schema first, 0.4 ms a call, and this runs after every
        # Zendesk response (the account gate) and every export page (issue 22)
        db.execute("insert into sync (key, value) values (?, ?) on conflict (key) do update set value = excluded.value",
                   [key, value])


def sync_like(db: Reader, prefix: str) -> dict[str, str]:
    """Every sync value whose key starts with ``prefix``, keyed by the rest of the key."""
    return {r["key"][len(prefix):]: r["value"]
            for r in db.query("select key, value from sync where key like ?", [prefix.replace("%", "") + "%"])}


# -- event log -------------------------------------------------------------------------


def log_event(db: sqlite_utils.Database, now: float, action: str, *, ticket_id: int | None = None,
              batch: str | None = None, detail: str = "") -> None:
    """Append one line to the event log (no ticket text, ever)."""
    db.table("events").insert(
        {"at": iso(now), "action": action, "ticket_id": ticket_id, "batch": batch, "detail": detail[:500]}
    )


# -- comments --------------------------------------------------------------------------


def conversations(db: Reader, ticket_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The stored comments of many tickets, each ticket's oldest first, as ``tickets.conversation`` gives one
    ticket's (one query per 500 tickets: submit reads a page of the queue at once, issue 22)."""
    out: dict[int, list[dict[str, Any]]] = {}
    ids = sorted(set(ticket_ids))
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ", ".join("?" * len(part))
        for c in reads.rows(db, "select ticket_id, id, author_id, public, body, created_at from comments "
                                f"where ticket_id in ({marks}) order by ticket_id, created_at, id", part):
            out.setdefault(c.pop("ticket_id"), []).append(c)
    return out


def save_comments(db: sqlite_utils.Database, rows: Sequence[dict[str, Any]]) -> None:
    """Store comments by id: a comment read twice (export overlap, a re-read) is stored once."""
    db.table("comments").insert_all(rows, pk="id", replace=True)


# -- batch rows ------------------------------------------------------------------------


def insert_batch(db: sqlite_utils.Database, now: float, local_id: str, *, model: str, request_count: int,
                 reserved_usd: float, size: int) -> None:
    """Record a batch before its create call (``creating``), so a crash in between can be reconciled."""
    db.table("batches").insert({"local_id": local_id, "state": "creating", "model": model,
                                "request_count": request_count, "reserved_usd": reserved_usd, "bytes": size,
                                "created_at": iso(now)})


def open_batch(db: sqlite_utils.Database, local_id: str, batch_id: str, expires_at: float) -> None:
    db.table("batches").update(local_id, {"batch_id": batch_id, "state": "open", "expires_at": iso(expires_at)})


def abandon_batch(db: sqlite_utils.Database, local_id: str, error: str) -> None:
    db.table("batches").update(local_id, {"state": "abandoned", "error": error[:300]})


def note_batch_error(db: sqlite_utils.Database, local_id: str, error: str) -> None:
    """The last error polling this batch met (it stays open and is polled again)."""
    db.table("batches").update(local_id, {"error": error[:300]})


def end_batch(db: sqlite_utils.Database, local_id: str, ended_at: float, counts: dict[str, int]) -> None:
    _update_batch(db, local_id, ended_at=iso(ended_at), counts=json.dumps(counts))


def collect_batch(db: sqlite_utils.Database, now: float, local_id: str) -> None:
    _update_batch(db, local_id, state="collected", collected_at=iso(now))


def _update_batch(db: sqlite_utils.Database, local_id: str, **values: Any) -> None:
    # one UPDATE: sqlite-utils' Table.update() reads the table's schema and the row first, 0.4 ms a call,
    # twice for each batch poll collects (issue 22); a batch that is not stored still raises NotFoundError
    sets = ", ".join(f"[{name}] = ?" for name in values)
    if db.execute(f"update batches set {sets} where local_id = ?", [*values.values(), local_id]).rowcount != 1:
        from sqlite_utils.db import NotFoundError  # only a batch not stored needs it

        raise NotFoundError(f"batch {local_id}")


def add_batch_cost(db: sqlite_utils.Database, local_id: str, cost: float) -> None:
    db.execute("update batches set cost_usd = cost_usd + ? where local_id = ?", [cost, local_id])


def batches_in(db: sqlite_utils.Database, state: str, *, created_before: float | None = None,
               now: float | None = None) -> list[dict[str, Any]]:
    """Batch rows in ``state``, oldest first; with ``created_before``, only those created before it (or
    stamped after ``now``, by a clock that ran ahead)."""
    sql, params = "select * from batches where state = ?", [state]
    if created_before is not None:
        sql += " and (created_at <= ? or created_at > ?)"
        params += [iso(created_before), iso((now if now is not None else created_before) + 60)]
    return reads.rows(db, sql + " order by created_at", params)


def known_batch_ids(db: sqlite_utils.Database) -> set[str]:
    return {r["batch_id"] for r in db.query("select batch_id from batches where batch_id is not null")}


def spend_since(db: Reader, since: float) -> float:
    """Actual cost of batches created since ``since`` (epoch)."""
    return float(next(db.query("select coalesce(sum(cost_usd), 0) as s from batches where created_at >= ?",
                               [iso(since)]))["s"])


# -- event export gaps -----------------------------------------------------------------


def add_gap(db: sqlite_utils.Database, second: int, now: float) -> None:
    """A second of the event export skipped because more than a page of events shared it."""
    db.table("event_gaps").insert({"second": second, "at": iso(now)}, replace=True)


def gaps_since(db: sqlite_utils.Database, second: float) -> list[int]:
    """Skipped seconds from ``second`` on, oldest first (a handful at most: crowded seconds are rare)."""
    return [r["second"] for r in db.query("select second from event_gaps where second >= ? order by second",
                                          [int(second)])]
