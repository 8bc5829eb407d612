"""Reading the state database without sqlite-utils: what ``status``, ``report`` and ``status --check`` need.

sqlite-utils (with dateutil and its plugin scan through ``importlib.metadata``) was a third of their start-up
CPU (issue 22), and they only read. The read functions they call take a :class:`Reader`: sqlite-utils'
``Database`` is one, and so is a :class:`ReadConnection`, a plain ``sqlite3.Connection`` opened read-only
with the one more method they use, :meth:`ReadConnection.query`. Writes and migrations stay sqlite-utils'.
Database only: no network here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations


class Reader(Protocol):
    """What a read-only query function may call: ``execute`` (a cursor of tuples) and ``query`` (dicts)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor: ...

    def query(self, sql: str, params: Any = ..., /) -> Iterator[dict[str, Any]]: ...


class ReadConnection(sqlite3.Connection):
    """A ``sqlite3.Connection`` with sqlite-utils' ``query``: the same rows, as dicts, for the same call."""

    def query(self, sql: str, params: Any = None, /) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params or ())
        keys = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=True))


Step = TypeVar("Step", bound="Callable[[sqlite_utils.Database], None]")


class Schema:
    """The schema's migrations in order, registered like sqlite-utils' ``Migrations`` (``@schema()``) but
    without importing it: a reader compares :attr:`names` with what a database has applied. Everything
    else (``apply``, ``pending``, ``applied``) is sqlite-utils' ``Migrations``, built on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._steps: list[tuple[str, Callable[[sqlite_utils.Database], None], bool]] = []
        self._built: Migrations | None = None

    def __call__(self, *, name: str | None = None, transactional: bool = True) -> Callable[[Step], Step]:
        def register(fn: Step) -> Step:
            step = name or fn.__name__
            if step in self.names:
                raise ValueError(f"Migration '{step}' is already registered in set '{self.name}'")
            self._steps.append((step, fn, transactional))
            self._built = None
            return fn

        return register

    @property
    def names(self) -> list[str]:
        """Every migration's name, in the order they apply."""
        return [step for step, _, _ in self._steps]

    @property
    def migrations(self) -> Migrations:
        """sqlite-utils' ``Migrations`` holding the same steps (imported here, for writers only)."""
        if self._built is None:
            from sqlite_utils.migrations import Migrations

            built = Migrations(self.name)
            for step, fn, transactional in self._steps:
                built(name=step, transactional=transactional)(fn)
            self._built = built
        return self._built

    def apply(self, db: sqlite_utils.Database) -> None:
        self.migrations.apply(db)

    def pending(self, db: sqlite_utils.Database) -> list[Migrations._Migration]:
        return self.migrations.pending(db)

    def applied(self, db: sqlite_utils.Database) -> list[Migrations._AppliedMigration]:
        return self.migrations.applied(db)

    def missing(self, db: Reader) -> list[str]:
        """The migrations ``db`` has not applied, read with plain SQL (the table sqlite-utils keeps them in)."""
        table = "_sqlite_migrations"  # sqlite_utils.migrations.Migrations.migrations_table
        if db.execute("select 1 from sqlite_master where type = 'table' and name = ?", [table]).fetchone() is None:
            return self.names
        done = {r[0] for r in db.execute(f"select name from {table} where migration_set = ?", [self.name])}
        return [step for step in self.names if step not in done]
