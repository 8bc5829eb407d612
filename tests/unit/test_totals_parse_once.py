"""The report totals' update trigger parses each JSON column of a row once (m0051, issue 22); what it sums is held
to the rows by tests/unit/test_reports_sql.py (random changes, unreadable JSON among them)."""

from __future__ import annotations

from zdtriage import store


def test_the_update_trigger_reads_each_json_column_once_a_side() -> None:
    db = store.open_db(":memory:")
    (sql,) = [r[0] for r in db.execute("select sql from sqlite_master where name = 'report_totals_update'")]
    for row in ("old", "new"):
        assert sql.count(f"json_valid({row}.answer)") == 1 and sql.count(f"json_extract({row}.answer") == 1
        assert sql.count(f"json_valid({row}.usage)") == 1 and sql.count(f"json_extract({row}.usage") == 1
    assert "m0051_totals_parse_once" in {r[0] for r in db.execute("select name from _sqlite_migrations")}
