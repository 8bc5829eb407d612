"""Evaluations (``zdtriage evaluate``), their items, and the live observations of what agents did with our
answers. Database only: no network here.

An evaluation's batch is a row of the shared ``batches`` table, so its cost counts in the daily and monthly
spend like any other; it is in state ``evaluating`` while it runs, which the pipeline's poll and crash
reconciliation never touch (they read ``open`` and ``creating`` rows), and its worst case stays reserved
(:func:`reserved_open`) until the results are in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from ..timeutil import iso
from .records import add_batch_cost, collect_batch

if TYPE_CHECKING:
    import sqlite_utils

    from .reader import Reader

RUNNING_STATE = "evaluating"  # the batch row's state while its evaluation runs


def item_custom_id(evaluation_id: int, ticket_id: int) -> str:
    """``ev-<evaluation>-<ticket>``: never a pipeline ``zt-`` id, so a stray result can never touch a ticket."""
    return f"ev-{evaluation_id}-{ticket_id}"


def create(db: sqlite_utils.Database, now: float, *, local_id: str, since: str, max_tickets: int, model: str,
           prompt_hash: str, fingerprint: str, settings: Mapping[str, Any], subdomain: str,
           items: Sequence[Mapping[str, Any]], reserved_usd: float, size: int) -> int:
    """Store an evaluation, its items and its batch row (worst case reserved) before the create call.

    ``items``: ``{ticket_id, zd_status, raw_priority, raw_category, truth_priority, truth_category}``.
    Returns the evaluation id; each item's ``custom_id`` is :func:`item_custom_id`.
    """
    with db.atomic():
        db.table("batches").insert({"local_id": local_id, "state": RUNNING_STATE, "model": model,
                                    "request_count": len(items), "reserved_usd": reserved_usd, "bytes": size,
                                    "created_at": iso(now)})
        evaluation_id = cast(int, db.table("evaluations").insert({
            "state": "creating", "created_at": iso(now), "since": since, "max_tickets": max_tickets, "model": model,
            "prompt_hash": prompt_hash, "fingerprint": fingerprint, "settings": json.dumps(settings, sort_keys=True),
            "subdomain": subdomain, "batch": local_id, "tickets": len(items), "estimate_usd": reserved_usd,
        }).last_pk)  # sqlite-utils types it Optional: after an insert it is the new rowid
        db.table("evaluation_items").insert_all(
            ({**item, "evaluation_id": evaluation_id, "custom_id": item_custom_id(evaluation_id, item["ticket_id"]),
              "result": "pending", "cost_usd": 0.0} for item in items),
            pk=("evaluation_id", "ticket_id"))
    return int(evaluation_id)


def started(db: sqlite_utils.Database, evaluation_id: int, batch_id: str, expires_at: float) -> None:
    """The batch exists at Anthropic: record its id (what a resumed ``evaluate`` polls)."""
    row = get(db, evaluation_id)
    with db.atomic():
        db.table("batches").update(row["batch"], {"batch_id": batch_id, "expires_at": iso(expires_at)})
        db.execute("update evaluations set state = 'running' where id = ? and state = 'creating'", [evaluation_id])


def abandon(db: sqlite_utils.Database, now: float, evaluation_id: int, error: str) -> None:
    """Give up on an evaluation (its batch was refused, or its create was never confirmed)."""
    row = get(db, evaluation_id)
    with db.atomic():
        db.execute("update evaluations set state = 'abandoned', error = ?, finished_at = ? where id = ?",
                   [error[:300], iso(now), evaluation_id])
        db.execute("update batches set state = 'abandoned', error = ? where local_id = ?", [error[:300], row["batch"]])


def record_result(db: sqlite_utils.Database, custom_id: str, *, result: str, ai_priority: str | None = None,
                  ai_category: str | None = None, confidence: float | None = None, error: str | None = None,
                  cost_usd: float = 0.0) -> bool:
    """Apply one result to its item, once: a replayed result stream changes nothing (False)."""
    with db.atomic():
        cursor = db.execute(
            "update evaluation_items set result = ?, ai_priority = ?, ai_category = ?, confidence = ?, error = ?, "
            "cost_usd = ? where custom_id = ? and result = 'pending'",
            [result, ai_priority, ai_category, confidence, (error or "")[:300] or None, cost_usd, custom_id])
        if cursor.rowcount != 1:
            return False
        batch = next(db.query("select e.batch from evaluations e join evaluation_items i on i.evaluation_id = e.id "
                              "where i.custom_id = ?", [custom_id]))["batch"]
        add_batch_cost(db, batch, cost_usd)
    return True


def finish(db: sqlite_utils.Database, now: float, evaluation_id: int) -> None:
    """All results read: items without one are ``missing``, the reservation is released to the cost."""
    row = get(db, evaluation_id)
    with db.atomic():
        db.execute("update evaluation_items set result = 'missing' where evaluation_id = ? and result = 'pending'",
                   [evaluation_id])
        db.execute("update evaluations set state = 'done', finished_at = ? where id = ?", [iso(now), evaluation_id])
        collect_batch(db, now, row["batch"])


# -- reads -----------------------------------------------------------------------------


def get(db: Reader, evaluation_id: int) -> dict[str, Any]:
    """The evaluation with its batch's id and cost (``batch_id``, ``cost_usd``)."""
    rows = list(db.query("select e.*, b.batch_id, b.cost_usd, b.created_at as batch_created_at from evaluations e "
                         "left join batches b on b.local_id = e.batch where e.id = ?", [evaluation_id]))
    if not rows:
        raise KeyError(evaluation_id)
    return rows[0]


def unfinished(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest evaluation still creating or running, if any (a resumed ``evaluate`` finishes it)."""
    rows = list(db.query("select id from evaluations where state in ('creating', 'running') order by id desc limit 1"))
    return get(db, rows[0]["id"]) if rows else None


def done(db: Reader, limit: int = 20) -> list[dict[str, Any]]:
    """Finished evaluations, newest first."""
    return [get(db, r["id"]) for r in db.query(
        "select id from evaluations where state = 'done' order by id desc limit ?", [limit])]


def items(db: Reader, evaluation_id: int) -> list[dict[str, Any]]:
    """An evaluation's items (ticket, the agent's values, the answer), by ticket id."""
    return list(db.query("select * from evaluation_items where evaluation_id = ? order by ticket_id", [evaluation_id]))


def reserved_open(db: Reader) -> float:
    """Worst-case dollars reserved by evaluations whose batch is still running."""
    return float(next(db.query("select coalesce(sum(reserved_usd), 0) as s from batches where state = ?",
                               [RUNNING_STATE]))["s"])


# -- live observations -----------------------------------------------------------------


def observation(db: sqlite_utils.Database, ticket_id: int, triage_n: int, field: str) -> dict[str, Any] | None:
    """One stored observation, if any."""
    rows = list(db.query("select * from live_observations where ticket_id = ? and triage_n = ? and field = ?",
                         [ticket_id, triage_n, field]))
    return rows[0] if rows else None


def observations_of(db: sqlite_utils.Database, ticket_ids: Sequence[int]) -> dict[tuple[int, int, str], dict[str, Any]]:
    """Stored observations of these tickets, keyed ``(ticket_id, triage_n, field)``, one query per 500 ids."""
    out: dict[tuple[int, int, str], dict[str, Any]] = {}
    for start in range(0, len(ticket_ids), 500):
        part = list(ticket_ids[start:start + 500])
        for r in db.query(f"select * from live_observations where ticket_id in ({', '.join('?' * len(part))})", part):
            out[(r["ticket_id"], r["triage_n"], r["field"])] = r
    return out


_OBSERVATION = ("ticket_id", "triage_n", "field", "ours", "baseline", "theirs", "outcome", "source", "similarity",
                "written_at", "observed_at")


def save_observations(db: sqlite_utils.Database, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace observations (keyed by ticket, triage and field), in one statement: ingest calls
    this for every export page, so it must cost little on a 100,000-ticket backlog."""
    if rows:
        db.conn.executemany(
            f"insert or replace into live_observations ({', '.join(_OBSERVATION)}) "
            f"values ({', '.join('?' for _ in _OBSERVATION)})", [[r.get(k) for k in _OBSERVATION] for r in rows])


def save_observation(db: sqlite_utils.Database, row: Mapping[str, Any]) -> None:
    """Insert or replace one observation."""
    save_observations(db, [row])


def observations_since(db: Reader, since: str | None) -> list[dict[str, Any]]:
    """Observations of triages written since ``since`` (all when None)."""
    if since:
        return list(db.query("select * from live_observations where written_at >= ?", [since]))
    return list(db.query("select * from live_observations"))
