"""The store: migrations, file mode, and the ticket state machine declared in ``store.tickets.TRANSITIONS``.

Every declared transition is applied from every state: from its sources it moves (and stamps), from any
other state it raises and changes nothing.
"""

import os
import stat

import pytest

from zdtriage import store
from zdtriage.store import TRANSITIONS, IllegalTransition, Intent, State, WriteKind, writes
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SAMPLE = {"batch": "b1", "custom_id": "zt-7-1", "input_chars": 10, "reserved_usd": 0.5, "answer": "{}",
          "usage": "{}", "cost_usd": 0.25, "last_error": "why", "next_attempt_at": iso(NOW + 60),
          "write_kind": "note", "write_triage_n": 1, "write_started_at": iso(NOW), "write_job_id": "j1",
          "failed_tag_at": iso(NOW), "max_tokens": 1024}


@pytest.fixture
def db():
    return store.open_db(":memory:")


def _row(db, state, **fields):
    db["tickets"].insert({"id": 7, "state": state, "subject": "s", **fields}, replace=True)
    return queue.get(db, 7)


def _guarded_row(db, transition, state):
    # a row that meets the transition's further guard, so only the state decides
    started = iso(NOW - 10) if "write_started_at is not null" in transition.guard else None
    return _row(db, state, write_started_at=started, cost_usd=1.0, attempts=2, triage_n=1)


CASES = [(name, state) for name in TRANSITIONS for state in State]


@pytest.mark.parametrize("name, state", CASES, ids=[f"{n}-from-{s.value}" for n, s in CASES])
def test_every_declared_transition_from_every_state(db, name, state):
    t = TRANSITIONS[name]
    before = _guarded_row(db, t, state)
    values = {k: SAMPLE[k] for k in (*t.sets, *t.adds)}
    if state not in t.sources:
        with pytest.raises(IllegalTransition, match=f"{name} from {state.value}"):
            queue._move(db, name, 7, NOW, **values)
        assert queue.get(db, 7) == before  # a refused transition changes nothing
        assert queue._move(db, name, 7, NOW, strict=False, **values) is False
        return
    assert queue._move(db, name, 7, NOW, **values) is True
    after = queue.get(db, 7)
    target = t.target or state
    assert after["state"] == target.value
    if t.target is not None:
        assert after[f"{target.value}_at"] == after["changed_at"] == "2026-01-01T00:00:00.000000Z"
    for key in t.sets:
        assert after[key] == SAMPLE[key]
    for key in t.adds:
        assert after[key] == pytest.approx(before[key] + SAMPLE[key])
    for key in t.bumps:
        assert after[key] == (before[key] or 0) + 1
    for key in t.clears:
        assert after[key] in (None, 0, 0.0)


def test_a_transition_refuses_fields_it_does_not_declare(db):
    _row(db, "queued")
    with pytest.raises(ValueError, match="does not set"):
        queue._move(db, "promote", 7, NOW, answer="{}")


def test_missing_ticket_is_named(db):
    with pytest.raises(IllegalTransition, match="missing"):
        queue.kill(db, 99, NOW, reason="x")


def test_counts_list_every_state(db):
    _row(db, "queued")
    assert queue.counts(db) == {"queued": 1, "submitted": 0, "answered": 0, "written": 0, "failed": 0,
                                "dead": 0, "skipped": 0}


def test_bulk_submit_is_all_or_nothing(db):
    db["tickets"].insert_all([{"id": 1, "state": "queued"}, {"id": 2, "state": "answered"}])
    with pytest.raises(IllegalTransition, match="1 of 2"), db.atomic():
        queue.submit(db, NOW, "b1", [(1, "zt-1-1", 5, 0.1), (2, "zt-2-1", 5, 0.1)])
    assert queue.get(db, 1)["state"] == "queued"


def test_retry_drops_the_write_intent_of_a_revived_ticket(db):
    _row(db, "dead", write_kind="failed_tag", write_triage_n=1, write_started_at=iso(NOW), write_job_id="j1",
         failed_tag_attempts=2, attempts=4)
    assert queue.retry(db, NOW, dead=True) == 1
    row = queue.get(db, 7)
    assert row["state"] == "queued" and row["attempts"] == 0 and row["failed_tag_attempts"] == 0
    assert all(row[k] is None for k in queue.INTENT_FIELDS)
    assert writes.open_jobs(db) == []


def test_retry_without_dead_leaves_dead_tickets(db):
    _row(db, "dead")
    assert queue.retry(db, NOW) == 0 and queue.get(db, 7)["state"] == "dead"


def test_an_outcome_settles_only_the_intent_it_was_sent_for(db):
    _row(db, "answered", triage_n=2, write_kind="note", write_triage_n=2, write_started_at=iso(NOW), write_job_id="j2")
    limits = {"max_write_attempts": 5, "max_failed_tag_attempts": 3}
    for stale in (
        Intent(WriteKind.FAILED_TAG, 2, "j2"),
        Intent(WriteKind.NOTE, 1, "j2"),
        Intent(WriteKind.NOTE, 2, "j1"),
    ):
        assert writes.settle(db, NOW, 7, stale, "ok", **limits) == "stale"
    assert queue.get(db, 7)["state"] == "answered"
    assert writes.settle(db, NOW, 7, Intent(WriteKind.NOTE, 2, "j2"), "ok", **limits) == "written"
    assert writes.settle(db, NOW, 7, Intent(WriteKind.NOTE, 2, "j2"), "ok", **limits) == "stale"  # a replay


def test_write_errors_count_then_the_ticket_dies(db):
    _row(db, "answered", write_attempts=0)
    intent = Intent(WriteKind.NOTE, 1)
    outcomes = []
    for _ in range(3):
        writes.begin_writes(db, NOW, [(7, WriteKind.NOTE, 1)])
        outcomes.append(writes.settle(db, NOW, 7, intent, "error", error="422", max_write_attempts=3,
                                     max_failed_tag_attempts=3))
    assert outcomes == ["retry", "retry", "dead"]
    assert queue.get(db, 7)["last_error"] == "write-back: 422"


def test_a_refused_failed_tag_is_given_up_after_a_few_attempts(db):
    _row(db, "dead")
    outcomes = []
    for _ in range(3):
        writes.begin_writes(db, NOW, [(7, WriteKind.FAILED_TAG, 1)])
        outcomes.append(writes.settle(db, NOW, 7, Intent(WriteKind.FAILED_TAG, 1), "error", error="422",
                                     max_write_attempts=5, max_failed_tag_attempts=3))
    assert outcomes == ["failed_tag_error", "failed_tag_error", "failed_tag_given_up"]
    assert writes.writable(db, ["new", "open"], 10) == []


def test_begin_write_refuses_a_ticket_that_already_has_an_intent(db):
    _row(db, "answered", write_kind="note", write_triage_n=1, write_started_at=iso(NOW))
    # left out (not sent twice), and the intent it has is kept as it was
    assert writes.begin_writes(db, NOW + 5, [(7, WriteKind.NOTE, 1)]) == []
    assert queue.get(db, 7)["write_started_at"] == iso(NOW)


def test_begin_writes_leaves_out_a_ticket_revived_meanwhile_and_keeps_the_group(db):
    # `retry --dead` between write-back's fresh read and its intents: the revived ticket is queued now
    _row(db, "answered", id=1)
    _row(db, "queued", id=2)
    _row(db, "answered", id=3)
    began = writes.begin_writes(db, NOW, [(1, WriteKind.NOTE, 1), (2, WriteKind.FAILED_TAG, 1), (3, WriteKind.NOTE, 1)])
    assert sorted(began) == [1, 3]
    assert queue.get(db, 2)["write_started_at"] is None
    assert queue.get(db, 3)["write_started_at"] == iso(NOW)


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "s.db"
    store.open_db(path).close()
    db = store.open_db(path)
    names = [m.name for m in store.migrations.applied(db)]
    assert names[:3] == ["m0001_initial", "m0002_write_intent", "m0003_answer_room"]
    assert len(names) == len(set(names)) and store.migrations.pending(db) == []


def test_database_file_is_private_and_wal(tmp_path):
    path = tmp_path / "state" / "s.db"
    db = store.open_db(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.journal_mode == "wal"


def test_iter_rows_streams_by_keyset(db):
    db["tickets"].insert_all([{"id": i, "state": "queued"} for i in range(100, 2600)])
    ids = [r["id"] for r in queue.iter_rows(db, "select id from tickets where state = 'queued'", chunk=100)]
    assert ids == list(range(100, 2600))


def test_write_back_serves_new_answers_before_refused_writes_and_failed_tags(db):
    rows = [{"id": i, "state": "dead", "failed_tag_attempts": 2, "write_attempts": 0, "changed_at": iso(NOW - 9000 + i)}
            for i in range(1, 101)]  # a hundred refused failed tags, the oldest rows
    rows += [{"id": 200, "state": "answered", "write_attempts": 3, "changed_at": iso(NOW - 5000)},
             {"id": 300, "state": "answered", "changed_at": iso(NOW - 10)},
             {"id": 301, "state": "answered", "changed_at": iso(NOW - 20)},
             {"id": 400, "state": "dead", "changed_at": iso(NOW - 30)}]
    db["tickets"].insert_all([{"failed_tag_attempts": 0, "write_attempts": 0, "zd_status": "open", **r} for r in rows])
    assert [r["id"] for r in writes.writable(db, ["open"], 4)] == [301, 300, 400, 200]
