"""Many rows changed in one statement: ``UPDATE … FROM (VALUES …) AS v``, joined on the row's id.

``executemany`` of a one-row UPDATE runs one statement a row. A statement that sets ``tickets.state`` (NOT NULL)
and fires the report totals' triggers (store/totals.py) opens a statement journal of its own, and its trigger
programs, even when no trigger's WHEN holds: per row that was most of a transition's cost. On the 20,000-ticket
backlog (bench.backlog, same hour) statements of up to 500 joined rows took submit 1.38 -> 0.60 CPU-s, the
answers 3.33 -> 2.09 and the landed writes 3.86 -> 1.47 (issue 22). Ingest's ``update_seen`` (no state, and
no trigger's WHEN holds) measured no gain and keeps ``executemany``. Database only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

# UPDATE … FROM came with SQLite 3.33 (2020); an older library keeps the one-row statements
UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
ROWS = 500  # rows per statement, fewer when their parameters would not fit


def values(rows: int, width: int) -> str:
    """`` from (values (?, …), …) as v``: ``rows`` rows of ``width`` parameters, columns ``v.column1``…"""
    one = f"({', '.join('?' * width)})"
    return f" from (values {', '.join([one] * rows)}) as v"


def update(conn: sqlite3.Connection, sql: Callable[[int], str], head: Sequence[Any], rows: Sequence[Sequence[Any]],
           tail: Sequence[Any] = ()) -> int:
    """Run ``sql(n)`` (an UPDATE with :func:`values` of ``n`` rows) for the ``rows`` in chunks, with the
    parameters ``head`` before and ``tail`` after each chunk's; the rows changed. The caller makes sure no id
    is listed twice (the join would change the row once, with either row's values)."""
    if not rows:
        return 0
    room = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - len(head) - len(tail)
    size, changed = max(1, min(ROWS, room // len(rows[0]))), 0
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        changed += conn.execute(sql(len(part)), [*head, *(x for row in part for x in row), *tail]).rowcount
    return changed
