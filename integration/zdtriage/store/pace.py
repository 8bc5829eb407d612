"""Call budgets kept in the state database, so every run shares them: the daemon, repeated ``run --once``,
a restart. Zendesk's incremental exports allow 10 requests a minute for the whole account (30 with High
Volume), and ticket updates 100 a minute (300): a budget found by hitting 429s is one spent for every
other tool of the account too. Each bucket counts what was taken in the last ``window`` seconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..frozen import Record
from . import reads

if TYPE_CHECKING:
    import sqlite_utils

    from .reader import Reader

WINDOW = 60.0
ACCOUNT = "account"  # the bucket of every Zendesk call we made (the account's shared API limit)
SEEN = "zendesk_limit"  # sync key: the account's limit headers last read, with when (stages/account.py)


def used(db: Reader, bucket: str, now: float, window: float = WINDOW) -> int:
    """What ``bucket`` spent in the ``window`` seconds before ``now`` (stamps after ``now``, left by a clock
    that ran ahead, do not count)."""
    return int(reads.value(db, "select coalesce(sum(n), 0) from pace where bucket = ? and at > ? and at <= ?",
                           [bucket, now - window, now], 0))


def room(db: sqlite_utils.Database, bucket: str, now: float, limit: int, window: float = WINDOW) -> int:
    """How much of ``limit`` is still free now."""
    return max(limit - used(db, bucket, now, window), 0)


def take(db: sqlite_utils.Database, bucket: str, now: float, limit: int, n: int = 1, window: float = WINDOW) -> bool:
    """Spend ``n`` of ``bucket`` now if it fits under ``limit``; False (nothing spent) if it does not.

    Recorded before the call it pays for, and committed at once: a crash after the call still counts it.
    """
    if used(db, bucket, now, window) + n > limit:
        return False
    with db.atomic():
        db.execute("delete from pace where bucket = ? and (at <= ? or at > ?)", [bucket, now - window, now + window])
        db.execute("insert into pace (bucket, at, n) values (?, ?, ?)", [bucket, now, n])
    return True


def free_at(db: sqlite_utils.Database, bucket: str, now: float, limit: int, n: int = 1,
            window: float = WINDOW) -> float:
    """The earliest time ``n`` more fits under ``limit`` (``now`` if it fits now)."""
    rows = list(db.query("select at, n from pace where bucket = ? and at > ? and at <= ? order by at",
                         [bucket, now - window, now]))
    spent = sum(r["n"] for r in rows)
    for row in rows:
        if spent + n <= limit:
            break
        spent -= row["n"]
        now = row["at"] + window
    return now


class Seen(Record):
    """The account's Zendesk API limit as the last response said it."""

    limit: int
    remaining: int
    at: float  # our clock when read
    reset_at: float  # when Zendesk refills the window (``at`` + a minute when it did not say)
    others_per_minute: float = 0.0  # what the account's other apps and people spend, as last estimated


def last_seen(db: Reader) -> Seen | None:
    """The last limit headers read, or None before the first response."""
    rows = reads.rows(db, "select value from sync where key = ?", [SEEN])
    try:
        value: Any = json.loads(rows[0]["value"]) if rows else None  # None: the TypeError below
        return Seen(int(value["limit"]), int(value["remaining"]), float(value["at"]), float(value["reset_at"]),
                    float(value.get("others_per_minute", 0.0)))
    except (KeyError, TypeError, ValueError):
        return None


def account_limit(db: Reader, now: float) -> dict[str, Any] | None:
    """For ``status`` and the metrics: ``{limit, remaining, age_seconds, used_last_minute}`` (the last seen
    headers and our calls of the last minute), None before the first response."""
    seen = last_seen(db)
    if seen is None:
        return None
    return {"limit": seen.limit, "remaining": seen.remaining, "age_seconds": round(max(now - seen.at, 0.0)),
            "used_last_minute": used(db, ACCOUNT, now), "others_per_minute": round(seen.others_per_minute)}
