"""Retention (``store.retention.prune``, the daemon's hourly ``prune`` job): what goes, what never goes, that the
file gives its pages back, and that a pruned ticket is not triaged twice when it changes again in Zendesk."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime

import pytest

from zdtriage import batches as anth
from zdtriage import config as config_mod
from zdtriage import daemon, pipeline, prompt, reports, store
from zdtriage import zendesk as zd
from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.store import db as store_db
from zdtriage.store import retention
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso, month_start

DAY = 86400.0
NOW = datetime(2026, 9, 21, 12, tzinfo=UTC).timestamp()
OLD = iso(NOW - 100 * DAY)
RECENT = iso(NOW - 10 * DAY)
STATUSES = ["new", "open", "pending", "hold"]
ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


@pytest.fixture
def db():
    return store.open_db(":memory:")


def add(db, id_, state, changed_at=OLD, comments=2, **fields):
    db["tickets"].insert({"id": id_, "state": state, "changed_at": changed_at, "subject": "s", "zd_status": "open",
                          **fields})
    db["comments"].insert_all({"id": id_ * 100 + k, "ticket_id": id_, "body": "hello", "public": 1,
                               "created_at": NOW - 100 * DAY} for k in range(comments))
    store.log_event(db, NOW - DAY, "skipped", ticket_id=id_)  # recent: it goes with its ticket, not by age


def ids(db):
    return {r["id"] for r in db.query("select id from tickets")}


def prune(db, **kw):
    return retention.prune(db, NOW, keep_days=kw.pop("keep_days", 90), statuses=STATUSES, **kw)


def test_only_finished_tickets_older_than_keep_days_go_with_their_comments_and_events(db):
    add(db, 1, "written")
    add(db, 2, "skipped")
    add(db, 3, "dead", failed_tag_at=OLD)  # failed tag written
    add(db, 4, "dead", zd_status="solved")  # never owed: write-back does not tag a solved ticket
    add(db, 5, "dead")  # still owed its failed tag
    # its failed tag in flight when an agent solved it: not owed any more, but the job's outcome is still due
    add(db, 6, "dead", zd_status="solved", write_started_at=OLD, write_kind="failed_tag", write_job_id="j0")
    for id_, state in enumerate(("queued", "submitted", "answered", "failed"), start=7):
        add(db, id_, state)
    add(db, 11, "written", changed_at=RECENT)
    add(db, 12, "answered", write_started_at=OLD, write_kind="note", write_job_id="j1")
    out = prune(db)
    assert ids(db) == {5, 6, 7, 8, 9, 10, 11, 12}
    assert out["tickets"] == 4 and out["comments"] == 8
    assert {r["ticket_id"] for r in db.query("select ticket_id from comments")} == ids(db)
    assert {r["ticket_id"] for r in db.query("select ticket_id from events")} == ids(db)


def test_keep_days_zero_keeps_everything(db):
    add(db, 1, "written", changed_at=iso(NOW - 3000 * DAY))
    out = prune(db, keep_days=0)
    assert ids(db) == {1} and out["tickets"] == 0 and "kept" in out["note"]


def test_small_transactions_and_the_rest_next_run(db):
    for i in range(1, 8):
        add(db, i, "written", changed_at=iso(NOW - (100 + i) * DAY), comments=0)
    first = prune(db, chunk=2, max_chunks=2)
    assert first["tickets"] == 4 and first["more"] is True
    assert ids(db) == {1, 2, 3}  # the oldest went first
    assert prune(db, chunk=2, max_chunks=2)["tickets"] == 3 and ids(db) == set()


def test_the_report_window_says_what_was_pruned(db):
    add(db, 1, "written")
    add(db, 2, "written", changed_at=RECENT)
    assert reports.report(db, config_mod.parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
                          )["window"]["pruned_before"] is None
    prune(db)
    window = reports.report(db, config_mod.parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV))["window"]
    assert window == {"from": RECENT, "to": RECENT, "pruned_before": iso(NOW - 90 * DAY)}


def test_batches_of_the_current_month_stay_so_monthly_spend_is_right(db):
    start = month_start(NOW)  # 2026-09-01: keep_days 5 would reach into this month
    rows = [("old", NOW - 100 * DAY, "collected"), ("this_month", start + 3600, "collected"),
            ("last_month", start - 3600, "abandoned"), ("still_open", NOW - 100 * DAY, "open")]
    for local_id, created, state in rows:
        db["batches"].insert({"local_id": local_id, "state": state, "created_at": iso(created), "cost_usd": 1.5})
    month = store.spend_since(db, start)
    out = prune(db, keep_days=5)
    assert {r["local_id"] for r in db.query("select local_id from batches")} == {"this_month", "still_open"}
    assert out["batches"] == 2 and store.spend_since(db, start) == month == 1.5


def test_old_comments_of_tickets_never_stored_and_old_events_age_out(db):
    add(db, 1, "queued", comments=1)  # a live ticket keeps even its old comments
    db["comments"].insert_all([
        {"id": 900, "ticket_id": 77, "body": "opted-out ticket", "public": 1, "created_at": NOW - 120 * DAY},
        {"id": 901, "ticket_id": 78, "body": "recent, ticket not stored yet", "public": 1, "created_at": NOW - DAY},
    ])
    store.log_event(db, NOW - 100 * DAY, "batch_created", batch="b1")
    store.log_event(db, NOW - DAY, "batch_created", batch="b2")
    prune(db)
    assert {r["id"] for r in db.query("select id from comments")} == {100, 901}
    assert [r["batch"] for r in db.query("select batch from events where batch is not null")] == ["b2"]
    # the walk remembers where it stopped: the young comment is looked at again next time
    assert store.get_sync(db, retention.COMMENTS_AFTER) == "900"


def test_the_file_gives_its_pages_back(tmp_path):
    db = store.open_db(tmp_path / "state.db")
    assert db.execute("pragma auto_vacuum").fetchone()[0] == 2  # incremental, set by m0010 on a new file
    with db.atomic():
        for i in range(1, 1501):
            add(db, i, "written", comments=3, description="x" * 2000, answer=json.dumps({"draft": "y" * 1500}))
    before = db.execute("pragma page_count").fetchone()[0]
    out = prune(db)
    after = db.execute("pragma page_count").fetchone()[0]
    assert out["tickets"] == 1500 and out["freed_pages"] == before - after
    assert after < before / 10
    db.execute("pragma wal_checkpoint(truncate)")
    assert os.path.getsize(tmp_path / "state.db") == after * db.execute("pragma page_size").fetchone()[0]


def test_a_big_database_is_upgraded_without_a_vacuum(tmp_path, monkeypatch):
    db = store.open_db(tmp_path / "big.db")
    db.execute("drop index idx_tickets_state_changed")  # as if m0010 had never run
    db.execute("delete from _sqlite_migrations where name = 'm0010_query_indexes'")
    db.conn.executescript("pragma auto_vacuum = none; vacuum;")
    assert db.execute("pragma auto_vacuum").fetchone()[0] == 0
    monkeypatch.setattr(store_db, "VACUUM_ON_UPGRADE_MAX_BYTES", 0)
    store.migrations.apply(db)
    assert db.execute("pragma auto_vacuum").fetchone()[0] == 0  # left to the admin (docs/how-it-works.md "Retention")
    assert "idx_tickets_state_changed" in {r["name"] for r in db.query("select name from sqlite_master")}
    monkeypatch.setattr(store_db, "VACUUM_ON_UPGRADE_MAX_BYTES", 1 << 30)
    db.execute("delete from _sqlite_migrations where name = 'm0010_query_indexes'")
    store.migrations.apply(db)
    assert db.execute("pragma auto_vacuum").fetchone()[0] == 2


def test_the_daemon_prunes_hourly_after_the_stages_on_the_single_worker(monkeypatch, db):
    jobs = []

    class Scheduler:
        def __init__(self, executors, **kwargs):
            assert executors["default"]._pool._max_workers == 1
        def add_job(self, func, trigger, seconds, id, name, next_run_time):
            jobs.append((id, seconds, next_run_time, func))
        def start(self):
            pass
        def shutdown(self, wait):
            pass

    monkeypatch.setattr(daemon, "BackgroundScheduler", Scheduler)
    cfg = config_mod.parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    ctx = pipeline.Context(config=cfg, db=db, clock=lambda: NOW)
    stop = threading.Event()
    stop.set()
    daemon.run_forever(ctx, stop)
    assert [j[0] for j in jobs] == ["ingest", "submit", "poll", "writeback", "helpcenter", "prune", "resume"]
    prune_job = jobs[5]  # resume: issue 20; helpcenter: issue 21
    assert prune_job[1] == 3600 and prune_job[2] > max(j[2] for j in jobs[:5])
    add(db, 1, "written")
    prune_job[3]()  # the guarded job: logs its summary, never raises
    assert ids(db) == set()
    monkeypatch.setattr(retention, "prune", lambda *a, **k: 1 / 0)
    prune_job[3]()


# -- through the simulators ------------------------------------------------------------------


@pytest.fixture
def sims(monkeypatch):
    clock = ManualClock(NOW)
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock)
    asim = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=0.0)
    zsim.start()
    asim.start()
    yield zsim, asim, clock
    zsim.stop()
    asim.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


def drive(ctx, clock, rounds=8):
    for _ in range(rounds):
        pipeline.run_once(ctx)
        clock.advance(61)


def test_a_pruned_ticket_that_changes_again_is_skipped_by_its_marker_not_triaged_twice(sims, tmp_path):
    zsim, asim, clock = sims
    cfg = config_mod.parse({
        "zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": zsim.base_url,
                    "start": "2026-01-01T00:00:00Z", "verify_after": "30s"},
        "anthropic": {"base_url": asim.base_url}, "state": {"path": str(tmp_path / "state.db")},
        "triage": {"retriage": True},  # even so: the row that knew our note is gone, the marker decides
    }, ENV)
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), zendesk=zd.make_client(cfg.zendesk),
                           anthropic=anth.make_client(cfg.anthropic), clock=clock)
    zsim.seed(6, 4)
    drive(ctx, clock)
    written = [r["id"] for r in ctx.db.query("select id from tickets where state = 'written' order by id")]
    assert written
    clock.advance(91 * DAY)
    out = daemon.prune(ctx)
    assert out["tickets"] >= len(written) and not ids(ctx.db) & set(written)
    zsim.add_customer_reply(written[0], "Any news? It is still broken.")
    clock.advance(120)
    drive(ctx, clock, rounds=4)
    row = queue.get(ctx.db, written[0])
    assert row["state"] == "skipped" and row["last_error"] == f"already holds our note (triage-id zbt-{written[0]}-1)"
    notes = [c for c in zsim.ticket(written[0])["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]
    assert len(notes) == 1
    assert asim.requests_seen() == len(written) + queue.counts(ctx.db)["dead"]  # nothing was asked twice


def test_one_transaction_costs_the_same_whatever_the_history_behind_it(tmp_path):
    def steps_of_one_chunk(n: int) -> int:
        db = store.open_db(tmp_path / f"{n}.db")
        with db.atomic():
            db.conn.executemany(
                "insert into tickets (id, state, changed_at, zd_status) values (?, 'written', ?, 'open')",
                [(i, iso(NOW - 200 * DAY + i)) for i in range(1, n + 1)],
            )
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        db.conn.set_progress_handler(tick, 100)
        assert prune(db, chunk=100, max_chunks=1)["tickets"] == 100
        db.conn.set_progress_handler(None, 100)
        return steps[0]

    # a statement that read every old ticket per chunk (the planner's choice for `id in (…) and changed_at < ?`)
    # costs thousands of steps more with ten times the history; B-trees one level deeper cost a few
    assert steps_of_one_chunk(20_000) < 1.5 * steps_of_one_chunk(2_000) + 20
