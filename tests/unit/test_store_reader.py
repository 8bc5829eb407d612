"""``store.open_reader``: the read-only connection of ``status``, ``report`` and ``status --check`` (issue 22).

It reads without sqlite-utils, and must say what ``open_db(readonly=True)`` says for every database it cannot
use, give the read functions the same rows, and know the migrations without building sqlite-utils' set.
"""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from zdtriage import health, reports, store
from zdtriage.config import parse
from zdtriage.timeutil import iso

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
CONFIG = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)


def both_errors(path) -> tuple[str, str]:
    errors = []
    for opener in (store.open_reader, lambda p: store.open_db(p, readonly=True)):
        with pytest.raises(store.StoreError) as caught:
            opener(path)
        errors.append(str(caught.value))
    return errors[0], errors[1]


def test_a_missing_database_is_the_same_error_and_stays_missing(tmp_path):
    reader, utils = both_errors(tmp_path / "none.db")
    assert reader == utils and reader.startswith("no state database at ")
    assert not (tmp_path / "none.db").exists()


def test_a_file_that_is_no_database_is_the_same_error(tmp_path):
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    reader, utils = both_errors(tmp_path / "s.db")
    assert reader == utils and "is not a readable SQLite database" in reader


@pytest.mark.parametrize("make", ["not ours", "older"])
def test_a_database_without_every_migration_is_from_an_older_version(tmp_path, make):
    path = tmp_path / "s.db"
    if make == "not ours":  # an SQLite file, but no migration of ours ever ran on it
        sqlite3.connect(path).execute("create table t (x)").connection.close()
    else:
        db = store.open_db(path)
        db.execute("delete from _sqlite_migrations where name = ?", [store.migrations.names[-1]])
        db.conn.close()
    reader, utils = both_errors(path)
    assert reader == utils and "is from an older version: run the service once to upgrade it" in reader


def test_the_reader_knows_the_migrations_sqlite_utils_applies(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    applied = [m.name for m in store.migrations.applied(db)]
    assert applied == store.migrations.names == [m.name for m in store.migrations.migrations._migrations]
    assert store.migrations.missing(db) == [] and store.migrations.pending(db) == []
    assert store.migrations.missing(store.open_reader(tmp_path / "s.db")) == []


def test_the_reader_cannot_write(tmp_path):
    store.open_db(tmp_path / "s.db").conn.close()
    reader = store.open_reader(tmp_path / "s.db")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("delete from tickets")


def random_row(rng: random.Random, id_: int) -> dict:
    state = rng.choice(["queued", "submitted", "answered", "written", "dead", "failed", "skipped"])
    submitted = NOW - rng.uniform(0, 40 * 86400)
    answer = {"priority": rng.choice(["P1", "P2"]), "category": rng.choice(["billing", "other"]),
              "sentiment": rng.choice(["neutral", "angry"])}
    return {
        "id": id_, "state": state, "cost_usd": round(rng.uniform(0, 0.01), 6),
        "submitted_at": iso(submitted), "written_at": iso(submitted + rng.uniform(60, 7200)),
        "changed_at": iso(submitted + rng.uniform(0, 9000)),
        "dead_at": iso(submitted + 100) if state == "dead" else None,
        "last_error": "bad answer" if state == "dead" else None,
        "answer": json.dumps(answer) if state in ("answered", "written") else None,
        "zd_tags": json.dumps(rng.sample(["ai_draft_used", "ai_draft_rejected", "x"], 1)),
        "usage": json.dumps({"input_tokens": rng.randint(0, 3000), "output_tokens": 100}),
    }


@pytest.mark.parametrize("seed", range(3))
def test_status_report_and_health_read_the_same_through_either(tmp_path, seed):
    rng = random.Random(seed)
    db = store.open_db(tmp_path / "s.db")
    db["tickets"].insert_all(random_row(rng, i) for i in range(1, 300))
    db.execute("insert into batches (local_id, batch_id, state, created_at) values ('l1', 'msgbatch_1', 'open', ?)",
               [iso(NOW - 21 * 3600)])
    health.started(db, "ingest", NOW - 50)
    health.finished(db, "ingest", NOW - 40, error="timed out")
    reader = store.open_reader(tmp_path / "s.db")
    assert isinstance(reader, sqlite3.Connection)
    for since in (None, iso(NOW - 10 * 86400)):
        assert reports.report(reader, CONFIG, since=since) == reports.report(db, CONFIG, since=since)
    assert reports.status(reader, CONFIG, NOW) == reports.status(db, CONFIG, NOW)
    assert health.check(reader, CONFIG, NOW) == health.check(db, CONFIG, NOW)
    assert health.recent_dead(reader) == health.recent_dead(db) and health.recent_dead(db)["total"] > 0
    every = "select * from tickets order by id"
    assert list(reader.query(every)) == list(db.query(every))
