"""The store: migrations, guarded transitions, file mode."""

import os
import stat

import pytest

from integration import store
from integration.store import IllegalTransition, State


@pytest.fixture
def db():
    db = store.open_db(":memory:")
    db["tickets"].insert({"id": 7, "state": "queued", "subject": "s"})
    return db


def test_guarded_transition_moves_and_stamps(db):
    store.transition(db, 7, [State.QUEUED], State.SUBMITTED, 1_767_225_600, batch="b1")
    row = store.get_ticket(db, 7)
    assert row["state"] == "submitted" and row["batch"] == "b1"
    assert row["submitted_at"] == "2026-01-01T00:00:00.000000Z"


def test_illegal_transition_fails_loudly_and_changes_nothing(db):
    with pytest.raises(IllegalTransition, match="queued -> written"):
        store.transition(db, 7, [State.ANSWERED], State.WRITTEN, 0)
    assert store.get_ticket(db, 7)["state"] == "queued"
    assert store.try_transition(db, 7, [State.ANSWERED], State.WRITTEN, 0) is False
    with pytest.raises(IllegalTransition, match="missing"):
        store.transition(db, 99, [State.QUEUED], State.SUBMITTED, 0)


def test_counts_list_every_state(db):
    assert store.counts(db) == {"queued": 1, "submitted": 0, "answered": 0, "written": 0, "failed": 0,
                                "dead": 0, "skipped": 0}


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "s.db"
    store.open_db(path).close()
    db = store.open_db(path)
    assert [m.name for m in store.migrations.applied(db)] == ["m0001_initial"]


def test_database_file_is_private_and_wal(tmp_path):
    path = tmp_path / "state" / "s.db"
    db = store.open_db(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.journal_mode == "wal"


def test_iter_rows_streams_by_keyset(db):
    db["tickets"].insert_all([{"id": i, "state": "queued"} for i in range(100, 2600)])
    ids = [r["id"] for r in store.iter_rows(db, "select id from tickets where state = 'queued'", chunk=100)]
    assert ids == [7, *range(100, 2600)]
