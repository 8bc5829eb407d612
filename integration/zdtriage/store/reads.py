"""Plain reads on the state database's own connection.

sqlite-utils' ``Database.query()`` runs every statement inside a SAVEPOINT and a RELEASE, so that one which turns
out to write can be undone: three statements a read. The pipeline's reads are small lookups made thousands of
times a day (a ticket's comments, a sync value, the open batches each minute), and that wrapper was a fifth of
their cost (issue 22). Every statement passed here is a SELECT of ours, sent through ``execute`` (sqlite-utils'
adds no savepoint there, and a :class:`~.reader.ReadConnection` has the same call); writes keep going through
sqlite-utils.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reader import Reader


def rows(db: Reader, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Every row of one SELECT, as dicts keyed by column name."""
    cursor = db.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def first(db: Reader, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The first row of one SELECT as a dict, or None."""
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    cursor.close()  # the statement ends here, whatever rows it still had
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def value(db: Reader, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
    """The first column of the first row of one SELECT, or ``default``."""
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    cursor.close()
    return default if row is None else row[0]
