"""Running totals for ``report`` over the whole history, kept by SQLite triggers in the same transaction as
every change of a ticket row. Database only.

A year of tickets holds millions of rows; the report over all of them would read every row's answer and
usage JSON (seconds of CPU, the file read end to end). The triggers add each done ticket's part when a row
is inserted or changed and take it back when it changes again or is deleted (retention), so the totals are
always the sums over the rows as they are, and ``report`` without ``--since`` reads a few hundred rows:

- ``report_totals``: per state (and, for written tickets, per answered priority, category and sentiment)
  the tickets, their cost and the input tokens read from the cache or not;
- ``report_durations``: written tickets per tenth of a second of submit-to-written time;
- ``report_tags``: written tickets per draft-feedback tag (any prefix; ``report`` reads its own).

The triggers are installed by migration m0011. ``sqlite-utils``' ``transform()`` recreates a table without
its triggers: a migration that transforms ``tickets`` must call :func:`install` again
(tests/unit/test_reports_sql.py fails otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

    from .reader import Reader

DONE_STATES = ("written", "dead", "skipped", "answered")  # the tickets ``report`` counts
DONE = f"({', '.join(repr(s) for s in DONE_STATES)})"
TRIGGERS = ("report_totals_insert", "report_totals_delete", "report_totals_update", "report_durations_update",
            "report_tags_update")


def json_value(row: str, column: str, path: str) -> str:
    """SQL for ``row.column``'s JSON value at ``path``; an unreadable value counts as absent (a trigger that
    raised would fail the ticket's own write, and ``report`` reads the rows the same way)."""
    return f"(case when json_valid({row}.{column}) then json_extract({row}.{column}, '{path}') end)"


def _totals(row: str, sign: str, source: str = "") -> str:
    # each JSON column is parsed once (one json_valid, one json_extract of all its paths into a small array) and
    # not at all when the row counts nothing: the trigger runs for every answer and every write, and twelve
    # parses of the answer's text a row were most of what it cost (issue 22). Same values as json_value().
    answer = (f"case when {row}.state = 'written' and json_valid({row}.answer) then "
              f"json_extract({row}.answer, '$.priority', '$.category', '$.sentiment') end")
    usage = (f"case when json_valid({row}.usage) then json_extract({row}.usage, '$.cache_read_input_tokens', "
             "'$.input_tokens', '$.cache_creation_input_tokens') end")
    keys = ", ".join(f"coalesce(json_extract(a, '$[{i}]'), '')" for i in range(3))
    read, other = "coalesce(json_extract(u, '$[0]'), 0)", "coalesce(json_extract(u, '$[1]'), 0) + " \
        "coalesce(json_extract(u, '$[2]'), 0)"
    return ("insert into report_totals (state, priority, category, sentiment, tickets, cost_usd, cache_read, "
            "input_other) "
            f"select st, {keys}, {sign}1, {sign}c, {sign}({read}), {sign}({other}) from ("
            f"select {row}.state as st, coalesce({row}.cost_usd, 0) as c, {answer} as a, {usage} as u{source} "
            f"where {row}.state in {DONE}) where true on conflict (state, priority, category, sentiment) do update set "
            "tickets = tickets + excluded.tickets, cost_usd = cost_usd + excluded.cost_usd, "
            "cache_read = cache_read + excluded.cache_read, input_other = input_other + excluded.input_other;")


def _durations(row: str, sign: str, source: str = "") -> str:
    tenths = f"cast(round((julianday({row}.written_at) - julianday({row}.submitted_at)) * 864000) as integer)"
    return (
        f"insert into report_durations (tenths, tickets) select {tenths}, {sign}1{source} "
        f"where {row}.state = 'written' "
        f"and julianday({row}.written_at) is not null and julianday({row}.submitted_at) is not null "
        "on conflict (tenths) do update set tickets = tickets + excluded.tickets;"
    )


def json_list(row: str, column: str) -> str:
    """SQL for ``row.column`` if it holds a JSON list, else an empty one (for ``json_each``)."""
    return (f"(case when json_valid({row}.{column}) and json_type({row}.{column}) = 'array' then {row}.{column} "
            "else '[]' end)")


def _tags(row: str, sign: str, source: str = "") -> str:
    tags = json_list(row, "zd_tags")
    # distinct: a tag listed twice is still one ticket (the report's definition is a set of tags)
    return (f"insert into report_tags (tag, tickets) select tag, {sign}count(*) from (select distinct {row}.rowid, "
            f"value as tag{source or ' from'} json_each({tags}) where {row}.state = 'written' and type = 'text' "
            r"and (value like '%draft\_used' escape '\' or value like '%draft\_rejected' escape '\')) "
            "where true group by tag on conflict (tag) do update set tickets = tickets + excluded.tickets;")


def _all(row: str, sign: str) -> str:
    return " ".join(part(row, sign) for part in (_totals, _durations, _tags))


def install(db: sqlite_utils.Database) -> None:
    """Create the totals tables and triggers (again), and fill the totals from the rows as they are.

    Call inside a transaction: rows written between the fill and the triggers would be missed otherwise.
    """
    for name in TRIGGERS:
        db.execute(f"drop trigger if exists {name}")
    for table in ("report_totals", "report_durations", "report_tags"):
        db.execute(f"drop table if exists {table}")
    db.execute(
        "create table report_totals (state text not null, priority text not null, category text not null, "
        "sentiment text not null, tickets integer not null, cost_usd real not null, cache_read integer not null, "
        "input_other integer not null, primary key (state, priority, category, sentiment))"
    )
    db.execute("create table report_durations (tenths integer primary key, tickets integer not null)")
    db.execute("create table report_tags (tag text primary key, tickets integer not null)")
    # the triggers' own statements over the existing rows: each row is one more insert, as if it were new
    db.execute(_totals("t", "", " from tickets t"))
    db.execute(_durations("t", "", " from tickets t"))
    db.execute(_tags("t", "", " from tickets t,"))
    # WHEN: most writes (a re-read of tags, a ticket queued or sent) touch no total, and then run nothing
    done = f"in {DONE}"
    drafts = "(instr({row}.zd_tags, 'draft_used') or instr({row}.zd_tags, 'draft_rejected'))"
    tagged = " or ".join(f"({row}.state = 'written' and {drafts.format(row=row)})" for row in ("old", "new"))
    db.execute(f"create trigger report_totals_insert after insert on tickets when new.state {done} "
               f"begin {_all('new', '')} end")
    db.execute(f"create trigger report_totals_delete after delete on tickets when old.state {done} "
               f"begin {_all('old', '-')} end")
    db.execute("create trigger report_totals_update after update of state, answer, usage, cost_usd on tickets "
               f"when old.state {done} or new.state {done} begin {_totals('old', '-')} {_totals('new', '')} end")
    db.execute("create trigger report_durations_update after update of state, written_at, submitted_at on tickets "
               "when old.state = 'written' or new.state = 'written' "
               f"begin {_durations('old', '-')} {_durations('new', '')} end")
    db.execute(f"create trigger report_tags_update after update of state, zd_tags on tickets when {tagged} "
               f"begin {_tags('old', '-')} {_tags('new', '')} end")


def read(db: Reader) -> dict[str, Any]:
    """The totals as ``report`` needs them: per-state rows (a few hundred at most) and draft-tag counts."""
    return {
        "totals": db.execute("select state, priority, category, sentiment, tickets, cost_usd, cache_read, input_other "
                             "from report_totals where tickets != 0").fetchall(),
        "tags": dict(db.execute("select tag, tickets from report_tags where tickets > 0").fetchall()),
    }


def done_counts(db: Reader) -> dict[str, int]:
    """Tickets per done state (written, dead, skipped, answered) from the totals, not from the rows."""
    return {r[0]: r[1] for r in db.execute("select state, sum(tickets) from report_totals group by state")}


def durations(db: Reader) -> Iterator[tuple[int, int]]:
    """``(tenths of a second, written tickets)`` of submit-to-written time, ascending, streamed."""
    yield from db.execute("select tenths, tickets from report_durations where tickets > 0 order by tenths")


def installed(db: Reader) -> bool:
    """Whether every trigger is in place (a transform of ``tickets`` would have dropped them)."""
    names = {r[0] for r in db.execute("select name from sqlite_master where type = 'trigger'")}
    return set(TRIGGERS) <= names
