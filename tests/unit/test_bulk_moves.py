"""Bulk transitions as one ``UPDATE … FROM (VALUES …)`` per chunk of tickets (store/bulk.py, issue 22): one
statement per chunk, not one per ticket; what each ticket gets is what the one-row transition writes, under the
same guards; and the report totals the triggers keep stay the sums over the rows through a random walk of the
service's transitions, bulk and one-row, on both paths (the join, and the one-row statements kept for an older
SQLite)."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from zdtriage import store
from zdtriage.store import bulk, writes
from zdtriage.store import tickets as queue
from zdtriage.store.tickets import IllegalTransition, Intent
from zdtriage.store.totals import DONE, DONE_STATES

NOW = 1_790_000_000.0


@pytest.fixture(params=[True, False], ids=["update-from", "one-row"])
def path(request, monkeypatch) -> bool:
    monkeypatch.setattr(bulk, "UPDATE_FROM", request.param)
    return bool(request.param)


def queued(n: int, db=None):
    db = db or store.open_db(":memory:")
    start = (db.execute("select max(id) from tickets").fetchone()[0] or 0) + 1
    with db.atomic():
        queue.insert_new(db, [{"id": i, "state": "queued", "subject": "s", "zd_status": "open", "zd_tags": "[]",
                               "changed_at": "2026-09-21T00:00:00Z"} for i in range(start, start + n)])
    return db


def updates(db, action) -> int:
    """How many ``update tickets`` statements ``action`` ran (a trigger it fires is traced again with the same
    text: one run of a text is one statement; ``executemany`` traces each row with its own values)."""
    traced: list[str] = []
    db.conn.set_trace_callback(traced.append)
    try:
        action()
    finally:
        db.conn.set_trace_callback(None)
    return sum(1 for i, s in enumerate(traced) if s.startswith("update tickets") and (i == 0 or traced[i - 1] != s))


def test_a_bulk_move_runs_one_statement_per_chunk_not_one_per_ticket():
    db = queued(1200)
    ids = range(1, 1201)
    assert updates(db, lambda: queue.submit(db, NOW, "b1", [(i, f"{i}-1", 100, 0.01) for i in ids])) == 3
    usage = {"input_tokens": 900, "output_tokens": 100}
    assert updates(db, lambda: queue.answer_many(db, NOW, [(i, {"priority": "P2"}, usage, 0.002) for i in ids])) == 3
    assert updates(db, lambda: writes.begin_writes(db, NOW, [(i, "note", 1) for i in ids])) == 3
    assert updates(db, lambda: writes.record_job(db, "job1", list(ids))) == 3
    landed = [(i, Intent("note", 1, "job1")) for i in ids]
    assert updates(db, lambda: writes.landed_many(db, NOW, landed)) == 3
    assert queue.counts(db)["written"] == 1200


def test_the_chunks_shrink_to_the_bound_parameters_sqlite_allows(path):
    db = queued(100)
    db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 60)  # submit: 5 a ticket, 5 for the statement itself
    queue.submit(db, NOW, "b1", [(i, f"{i}-1", 100, 0.01) for i in range(1, 101)])
    assert queue.counts(db)["submitted"] == 100


def test_each_ticket_gets_what_the_one_row_transition_writes(path):
    db = queued(4)
    usage = {"input_tokens": 900, "cache_read_input_tokens": 300}
    answer = {"priority": "P1", "category": "billing", "sentiment": "angry", "draft": "Hello"}
    queue.submit(db, NOW, "b1", [(i, f"{i}-1", 100, 0.01) for i in range(1, 5)])
    assert queue.answer(db, 1, NOW + 1, answer=answer, usage=usage, cost_usd=0.003)
    queue.answer_many(db, NOW + 1, [(i, answer, usage, 0.003) for i in range(2, 5)])
    assert writes.begin_writes(db, NOW + 2, [(i, "note", 1) for i in range(1, 5)]) == [1, 2, 3, 4]
    writes.record_job(db, "job1", [1, 2, 3, 4])
    assert writes.landed(db, NOW + 3, 1, Intent("note", 1, "job1")) == "written"
    assert writes.landed_many(db, NOW + 3, [(i, Intent("note", 1, "job1")) for i in range(2, 5)]) == ["written"] * 3
    one, *many = ({k: v for k, v in queue.get(db, i).items() if k not in ("id", "custom_id")} for i in range(1, 5))
    assert one["state"] == "written" and one["cost_usd"] == pytest.approx(0.003) and one["write_job_id"] is None
    assert many == [one] * 3


def test_the_guards_hold_for_every_ticket_of_a_chunk(path):
    db = queued(6)
    queue.submit(db, NOW, "b1", [(i, f"{i}-1", 100, 0.01) for i in range(1, 4)])
    with pytest.raises(IllegalTransition, match="1 of 3"), db.atomic():  # ticket 4 is queued: all rolled back
        queue.answer_many(db, NOW, [(i, {"priority": "P1"}, None, 0.0) for i in (2, 3, 4)])
    queue.answer_many(db, NOW, [(i, {"priority": "P1"}, None, 0.0) for i in (1, 2, 3)])
    writes.begin_writes(db, NOW, [(i, "note", 1) for i in (1, 2, 3)])
    writes.record_job(db, "job1", [1, 2])
    writes.record_job(db, "job2", [3])
    # an intent of another job, or of another triage, settles nothing; a ticket listed twice moves once
    items = [(1, Intent("note", 1, "job1")), (2, Intent("note", 2, "job1")), (3, Intent("note", 1, "job1")),
             (1, Intent("note", 1, "job1"))]
    assert writes.landed_many(db, NOW, items) == ["written", "stale", "stale", "stale"]
    assert [queue.get(db, i)["state"] for i in (1, 2, 3, 4)] == ["written", "answered", "answered", "queued"]
    assert queue.get(db, 2)["write_job_id"] == "job1" and queue.get(db, 3)["write_job_id"] == "job2"


# -- the report totals through a random walk of transitions ---------------------------------------------------

TAGS = ["ai_draft_used", "ai_draft_rejected", "vip", "ai_triaged", "x_draft_used"]


def _answer(rng: random.Random) -> dict:
    out = {k: rng.choice(v) for k, v in (("priority", ["P1", "P2"]), ("category", ["billing", "bug"]),
                                         ("sentiment", ["calm", "angry"])) if rng.random() < 0.85}
    return {**out, "draft": "Hello"}


def _usage(rng: random.Random) -> dict | None:
    return rng.choice([None, {"input_tokens": rng.randint(0, 900), "cache_read_input_tokens": rng.randint(0, 700),
                              "cache_creation_input_tokens": rng.choice([0, 50])}, {"output_tokens": 3}])


def _ids(db, state: str) -> list[int]:
    return [r[0] for r in db.execute("select id from tickets where state = ? order by id", [state])]


def step(rng: random.Random, db, now: float) -> None:
    """One change of a kind the service makes, bulk or one-row, to random tickets in the states it needs."""
    pick = lambda state: rng.sample(_ids(db, state), min(len(_ids(db, state)), rng.randint(1, 8)))  # noqa: E731
    ids = range(1, (db.execute("select max(id) from tickets").fetchone()[0] or 0) + 1)
    kind = rng.randrange(12)
    if kind == 0:
        queue.submit(db, now, f"b{now}", [(i, f"{i}-x", 100, 0.01) for i in pick("queued")])
        return
    if kind == 1:
        queue.answer_many(db, now, [(i, _answer(rng), _usage(rng), rng.choice([0.0, 0.002]))
                                    for i in pick("submitted")])
        return
    if kind == 2:
        for i in pick("submitted"):
            one = rng.randrange(4)
            if one == 0:
                queue.answer(db, i, now, answer=_answer(rng), usage=_usage(rng), cost_usd=0.001)
            elif one == 1:
                queue.reask(db, i, now, reason="bad", cost_usd=0.001)
            elif one == 2:
                queue.fail(db, i, now, reason="x", next_attempt_at=now, cost_usd=0.0005)
            else:
                queue.kill(db, i, now, reason="x", cost_usd=0.0004)
        return
    if kind == 3:
        queue.promote_due(db, now)
        queue.requeue_batch(db, now, rng.choice(["x", *(r[0] for r in db.execute("select batch from tickets"))]), "r")
        return
    if kind == 4:
        rows = db.execute("select id, state, triage_n from tickets where write_started_at is null and "
                          "(state = 'answered' or (state = 'dead' and failed_tag_at is null))").fetchall()
        began = writes.begin_writes(db, now, [(i, "note" if s == "answered" else "failed_tag", n)
                                              for i, s, n in rng.sample(rows, min(len(rows), 6))])
        if began and rng.random() < 0.7:
            writes.record_job(db, f"job{now}", began)
        return
    if kind == 5:
        rows = db.execute("select * from tickets where write_started_at is not null").fetchall()
        cols = [d[0] for d in db.execute("select * from tickets limit 0").description]
        intents = [(r[0], writes.current_intent(dict(zip(cols, r, strict=True)))) for r in rows]
        items = [(i, intent) for i, intent in rng.sample(intents, min(len(intents), 7)) if intent is not None]
        if rng.random() < 0.3 and items:  # an intent that is no longer the ticket's: replayed one at a time
            items.append((items[0][0], Intent(items[0][1].kind, items[0][1].triage_n + 1, None)))
        writes.landed_many(db, now, items)
        return
    if kind == 6:
        for i, intent in [(r["id"], writes.current_intent(r)) for r in
                          (queue.get(db, i) for i in rng.sample(ids, 3)) if r is not None]:
            if intent is not None:
                writes.settle(db, now, i, intent, rng.choice(["ok", "closed", "error"]), error="e",
                              max_write_attempts=2, max_failed_tag_attempts=2)
        return
    if kind == 7:
        queue.update_seen(db, [("open", json.dumps(rng.sample(TAGS, rng.randint(0, 3))), now, i)
                               for i in rng.sample(ids, 10)])
        return
    if kind == 8:
        for i in pick("written"):
            queue.retriage(db, i, now)
        return
    if kind == 9:
        queue.retry(db, now, dead=True, ids=pick("dead"))
        return
    if kind == 10:
        for i in pick("queued")[:2]:
            queue.skip(db, i, now, reason="closed")
        return
    # retention removes a done ticket's row; ingest brings a new one
    db.execute(f"delete from tickets where id = ? and state in {DONE}", [rng.randint(1, 40)])
    queued(1, db)


def from_rows(db) -> tuple[dict, dict, dict]:
    """The three totals computed afresh from the rows by GROUP BY (not through the triggers' own SQL)."""
    field = "case when state = 'written' and json_valid(answer) then coalesce(json_extract(answer, '$.{}'), '') " \
            "else '' end"
    token = "case when json_valid(usage) then coalesce(json_extract(usage, '$.{}'), 0) else 0 end"
    totals = {tuple(r[:4]): tuple(r[4:]) for r in db.execute(
        f"select state, {field.format('priority')}, {field.format('category')}, {field.format('sentiment')}, "
        f"count(*), sum(coalesce(cost_usd, 0)), sum({token.format('cache_read_input_tokens')}), "
        f"sum({token.format('input_tokens')} + {token.format('cache_creation_input_tokens')}) "
        f"from tickets where state in {DONE} group by 1, 2, 3, 4")}
    durations = dict(db.execute(
        "select cast(round((julianday(written_at) - julianday(submitted_at)) * 864000) as integer), count(*) "
        "from tickets where state = 'written' and written_at is not null and submitted_at is not null group by 1"))
    tags: dict[str, int] = {}
    for (raw,) in db.execute("select zd_tags from tickets where state = 'written'"):
        for tag in set(json.loads(raw or "[]")):
            if tag.endswith(("draft_used", "draft_rejected")):
                tags[tag] = tags.get(tag, 0) + 1
    return totals, durations, tags


def kept(db) -> tuple[dict, dict, dict]:
    rows = db.execute("select state, priority, category, sentiment, tickets, cost_usd, cache_read, input_other "
                      "from report_totals").fetchall()
    for r in rows:  # a key whose tickets all left holds nothing else either
        assert r[4] != 0 or (r[5] == pytest.approx(0, abs=1e-9) and r[6:] == (0, 0)), r
    return ({tuple(r[:4]): tuple(r[4:]) for r in rows if r[4] != 0},
            dict(db.execute("select tenths, tickets from report_durations where tickets != 0")),
            dict(db.execute("select tag, tickets from report_tags where tickets != 0")))


@pytest.mark.parametrize("seed", range(4))
def test_the_totals_stay_a_group_by_of_the_rows_through_a_random_walk(path, seed):
    rng = random.Random(seed)
    db = queued(40)
    now, counted = NOW, set()
    for n in range(400):
        now += rng.uniform(0.05, 120)
        with db.atomic():
            step(rng, db, now)
        counted |= {r[0] for r in db.execute("select state from report_totals where tickets > 0 union all "
                                             "select 'tags' from report_tags where tickets > 0 union all "
                                             "select 'durations' from report_durations where tickets > 0")}
        if n % 40 == 39:
            (totals, durations, tags), (want_totals, want_durations, want_tags) = kept(db), from_rows(db)
            assert totals.keys() == want_totals.keys(), n
            for key, (count, cost, read, other) in totals.items():
                assert (count, read, other) == (want_totals[key][0], *want_totals[key][2:]), (n, key)
                assert cost == pytest.approx(want_totals[key][1], abs=1e-9), (n, key)
            assert (durations, tags) == (want_durations, want_tags), n
    assert counted == {*DONE_STATES, "tags", "durations"}  # every kind of total was kept along the way
