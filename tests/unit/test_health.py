"""Heartbeats and the health verdict (issue 14 item 3): stale stages, the account hold, batches near expiry, a
service that is not running, and what /healthz and `status --check` are built from. In-memory database,
times passed in."""

from __future__ import annotations

import json

import pytest

from zdtriage import config as config_mod
from zdtriage import health, store
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso, parse_time

NOW = 1_790_000_000.0
ENV = {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}


@pytest.fixture
def db():
    return store.open_db(":memory:")


@pytest.fixture
def cfg(tmp_path):
    return config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com"},
                             "state": {"path": str(tmp_path / "s.db")}}, ENV)


def beat_all(db, at, *, skip=()):
    for stage in health.STAGES:
        if stage not in skip:
            health.started(db, stage, at - 1)
            health.finished(db, stage, at, error=None, worked=stage == "writeback")


def test_a_heartbeat_keeps_start_success_and_the_last_error_with_its_message(db):
    health.started(db, "poll", NOW)
    health.finished(db, "poll", NOW + 2, error=None)
    health.started(db, "poll", NOW + 60)
    health.finished(db, "poll", NOW + 61, error="Anthropic answered 500")
    beat = health.heartbeat(db, "poll")
    assert beat["first_start"] == NOW and beat["last_start"] == NOW + 60
    assert beat["last_success"] == NOW + 2
    assert beat["last_error"] == {"at": NOW + 61, "message": "Anthropic answered 500"}
    health.finished(db, "poll", NOW + 120, error=None)  # a later success keeps the error for status to show
    assert health.heartbeat(db, "poll")["last_error"]["at"] == NOW + 61


def test_fresh_heartbeats_are_healthy_and_name_the_last_write_back(db, cfg):
    beat_all(db, NOW - 120)
    verdict = health.check(db, cfg, NOW)
    assert verdict.healthy and verdict.problems == ()
    assert verdict.line() == "healthy: every stage succeeded within its period; last write-back 2 min ago"


def test_a_stage_without_success_for_five_periods_but_at_least_ten_minutes_is_stale(db, cfg):
    beat_all(db, NOW)
    health.started(db, "writeback", NOW + 60)
    health.finished(db, "writeback", NOW + 60, error="Zendesk answered 500")
    # writeback runs every minute: 5 periods are 5 min, the floor makes it 10
    assert health.check(db, cfg, NOW + 599).healthy
    for stage in ("ingest", "submit", "poll"):  # the others keep succeeding
        health.finished(db, stage, NOW + 14 * 60, error=None)
    verdict = health.check(db, cfg, NOW + 14 * 60)
    assert not verdict.healthy
    assert verdict.line() == ("unhealthy: writeback has not succeeded for 14 min (period 1 min): "
                              "Zendesk answered 500")


def test_a_slow_stage_gets_five_of_its_own_periods(tmp_path):
    cfg = config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com"},
                            "schedule": {"ingest_every": "30m"}}, ENV)
    assert health.stale_after(cfg, "ingest") == 5 * 1800
    assert health.stale_after(cfg, "poll") == 600


def test_a_stage_that_never_succeeded_is_measured_from_its_first_start(db, cfg):
    beat_all(db, NOW, skip=("submit",))
    health.started(db, "submit", NOW - 900)
    health.finished(db, "submit", NOW - 900, error="Anthropic answered 401: invalid x-api-key")
    for stage in ("ingest", "poll", "writeback"):
        health.finished(db, stage, NOW + 300, error=None)
    line = health.check(db, cfg, NOW + 300).line()
    assert line == ("unhealthy: submit has failed on every run since it first ran 20 min ago: "
                    "Anthropic answered 401: invalid x-api-key")


def test_every_stage_stale_and_nothing_ended_lately_means_the_service_is_not_running(db, cfg):
    beat_all(db, NOW)
    line = health.check(db, cfg, NOW + 3 * 3600).line()
    assert line == ("unhealthy: no stage has succeeded within its period; the last run ended 3.0 h ago: "
                    "is the service (zdtriage run) running?")


def test_every_stage_failing_while_running_shows_the_most_overdue_with_its_error(db, cfg):
    beat_all(db, NOW)
    for stage in health.STAGES:
        health.finished(db, stage, NOW + 3600, error=f"{stage}: cannot reach Zendesk")
    verdict = health.check(db, cfg, NOW + 3600)
    assert not verdict.healthy and len(verdict.problems) == 4
    # 60 min is six of submit's ten-minute limit and 1.2 of ingest's fifty: submit comes first
    assert verdict.reason.startswith("submit has not succeeded for 60 min (period 1 min): submit: cannot reach")
    assert verdict.problems[-1].startswith("ingest has not succeeded for 60 min (period 10 min)")
    assert verdict.reason.endswith("(and 3 more problem(s): see zdtriage status)")


def test_a_database_where_no_stage_ever_ran_is_unhealthy(db, cfg):
    assert (
        health.check(db, cfg, NOW).line() == "unhealthy: no stage has ever run: is the service (zdtriage run) running?"
    )


def test_the_account_hold_comes_first(db, cfg):
    beat_all(db, NOW)
    reason = "Anthropic answered 400: Your credit balance is too low to access the Anthropic API."
    store.set_sync(db, "hold:submit", json.dumps({"since": NOW - 3600, "until": NOW + 300, "reason": reason}))
    verdict = health.check(db, cfg, NOW + 30)
    assert not verdict.healthy
    assert verdict.line() == (f"unhealthy: submitting held since 2026-09-21 13:13 UTC: {reason} "
                              "(`zdtriage resume` tries again at once after the cause is fixed)")


def _batch(db, local, batch_id, created, *, ended=None):
    db["batches"].insert({"local_id": local, "batch_id": batch_id, "state": "open", "created_at": iso(created),
                          "expires_at": iso(created + 86400), "ended_at": iso(ended) if ended else None,
                          "request_count": 1})


def test_a_batch_open_for_more_than_20_hours_is_unhealthy_with_its_time_left(db, cfg):
    beat_all(db, NOW)
    _batch(db, "a", "msgbatch_young", NOW - 19.9 * 3600)
    _batch(db, "b", "msgbatch_ended", NOW - 22 * 3600, ended=NOW - 3600)  # results are there: not expiring
    assert health.check(db, cfg, NOW).healthy
    _batch(db, "c", "msgbatch_old", NOW - 20.5 * 3600)
    assert health.check(db, cfg, NOW).line() == "unhealthy: batch msgbatch_old open 20.5 h, expires in 3.5 h"


def test_healthz_is_the_body_the_sidebar_reads(db, cfg):
    beat_all(db, NOW - 60)
    health.finished(db, "poll", NOW - 30, error="Anthropic answered 529")
    body = health.healthz(db, cfg, NOW)
    assert body["healthy"] is True and body["checked_at"] == iso(NOW)
    assert body["last_writeback_success"] == iso(NOW - 60)
    assert set(body["stages"]) == set(health.STAGES)
    assert body["stages"]["poll"]["last_error"] == {"at": iso(NOW - 30), "message": "Anthropic answered 529"}
    assert body["stages"]["ingest"] == {"last_start": iso(NOW - 61), "last_success": iso(NOW - 60), "last_error": None}
    json.dumps(body)  # JSON as it stands
    parse_time(body["checked_at"])  # Date.parse in the sidebar reads ISO-8601


def test_probe_says_unhealthy_without_a_database_and_never_creates_one(cfg, tmp_path):
    body = health.probe(cfg, NOW)
    assert body["healthy"] is False and body["reason"].startswith("no state database at ")
    assert body["last_writeback_success"] is None and body["stages"] == {}
    assert not (tmp_path / "s.db").exists()


def test_dead_tickets_since_an_event_and_the_latest_ten(db):
    queue.insert_new(db, [{"id": 100 + i, "state": "queued"} for i in range(12)])
    mark = health.last_event_id(db)
    for i in range(12):
        queue.kill(db, 100 + i, NOW + i, reason=f"reason {i}")
        store.log_event(db, NOW + i, "dead", ticket_id=100 + i, detail=f"reason {i}")
    store.log_event(db, NOW, "skipped", ticket_id=1, detail="closed")
    dead = health.dead_since(db, mark)
    assert [d["ticket_id"] for d in dead] == list(range(100, 112)) and dead[0]["reason"] == "reason 0"
    assert health.dead_since(db, health.last_event_id(db)) == []
    recent = health.recent_dead(db)
    assert recent["total"] == 12 and len(recent["latest"]) == 10
    assert recent["latest"][0] == {"id": 111, "reason": "reason 11", "at": iso(NOW + 11)}


def test_a_budget_hold_warns_when_it_begins_and_once_an_hour_and_clears_when_nothing_is_held(db):
    summary = {"stage": "submit", "held_for_budget": 3, "held_ids": [7, 8, 9],
               "note": "3 ticket(s) held in the queue: the budget (daily $5.00) is reached"}
    first = health.note_budget_hold(db, NOW, summary)
    assert first == {"since": iso(NOW), "at": iso(NOW), "tickets": 3, "ticket_ids": [7, 8, 9],
                     "reason": summary["note"]}
    assert health.note_budget_hold(db, NOW + 60, summary) is None  # the same hold a minute later: no new warning
    assert health.budget_hold(db)["at"] == iso(NOW + 60)
    again = health.note_budget_hold(db, NOW + 3600, summary)
    assert again is not None and again["since"] == iso(NOW)
    # a submit that stopped before the budget (policy waiting) with tickets queued keeps it
    queue.insert_new(db, [{"id": 7, "state": "queued"}])
    health.note_budget_hold(db, NOW + 3700, {"stage": "submit", "held_for_budget": 0, "waiting": "2 queued; …"})
    assert health.budget_hold(db) is not None
    # one that reached the budget and held nothing clears it
    health.note_budget_hold(db, NOW + 3800, {"stage": "submit", "held_for_budget": 0, "submitted": 3})
    assert health.budget_hold(db) is None


def test_stages_not_reached_yet_are_fine_until_their_limit_then_named(db, cfg):
    health.started(db, "ingest", NOW)  # a first ingest of a large backlog keeps the single worker busy
    assert health.check(db, cfg, NOW + 300).healthy
    health.finished(db, "ingest", NOW + 700, error=None)
    verdict = health.check(db, cfg, NOW + 700)
    assert not verdict.healthy and len(verdict.problems) == 3
    assert verdict.problems[0] == "submit has never run; the first stage started 12 min ago"


def test_stages_failing_on_every_run_since_the_start_are_named_at_once_within_their_grace(db, cfg):
    # right after install, every Zendesk call fails: never "every stage succeeded" (issue 20 item 3)
    for stage in health.STAGES:
        health.started(db, stage, NOW)
        health.finished(db, stage, NOW + 1, error="cannot reach Zendesk: ConnectionError")
    verdict = health.check(db, cfg, NOW + 5)
    assert not verdict.healthy and len(verdict.problems) == 4
    assert {p.split(" ")[0] for p in verdict.problems} == set(health.STAGES)
    assert all("has failed on every run since it first ran" in p for p in verdict.problems)
    assert verdict.reason.endswith("cannot reach Zendesk: ConnectionError (and 3 more problem(s): see zdtriage status)")


def test_last_write_back_counts_only_a_run_that_wrote_or_confirmed_something(db, cfg):
    beat_all(db, NOW - 600)  # the write-back of 10 min ago sent a job
    health.started(db, "writeback", NOW - 60)
    health.finished(db, "writeback", NOW - 60, error=None, worked=False)  # nothing to do
    verdict = health.check(db, cfg, NOW)
    assert verdict.line() == "healthy: every stage succeeded within its period; last write-back 10 min ago"
    assert health.healthz(db, cfg, NOW)["last_writeback_success"] == iso(NOW - 600)
    assert health.worked("writeback", {"jobs_sent": 0, "results": {"written": 2}})
    assert health.worked("writeback", {"jobs_sent": 1, "results": {}})
    assert not health.worked("writeback", {"jobs_sent": 0, "results": {"stale": 3, "resend": 1}})
    assert not health.worked("poll", {"results": {"written": 1}})


def test_a_fresh_service_that_wrote_nothing_says_so(db, cfg):
    for stage in health.STAGES:
        health.started(db, stage, NOW)
        health.finished(db, stage, NOW + 1, error=None)
    assert health.check(db, cfg, NOW + 5).line() == (
        "healthy: every stage succeeded within its period; nothing written back yet")
    assert health.healthz(db, cfg, NOW + 5)["last_writeback_success"] is None


def _ticket(db, ticket_id, state, changed):
    db["tickets"].insert({"id": ticket_id, "state": state, "subject": "s", "changed_at": iso(changed)}, replace=True)


def test_write_back_without_progress_for_two_verify_periods_is_unhealthy(db, cfg):
    # issue 23 item 3: every stage succeeds (jobs sent, statuses read), yet nothing lands: stuck or refused jobs
    period = cfg.zendesk.verify_after
    beat_all(db, NOW - 30)
    _ticket(db, 1, "written", NOW - 2 * period - 60)
    _ticket(db, 2, "answered", NOW - 2 * period - 30)
    _ticket(db, 3, "answered", NOW - 60)
    verdict = health.check(db, cfg, NOW)
    assert not verdict.healthy
    assert verdict.reason.startswith("write-back has written nothing for 23 min while 2 answer(s) wait")
    assert "\n" not in verdict.line()
    _ticket(db, 4, "written", NOW - period)  # one landed within the two periods: progress
    assert health.check(db, cfg, NOW).healthy


def test_answers_younger_than_two_verify_periods_or_pilot_mode_are_not_a_stall(db, cfg, tmp_path):
    period = cfg.zendesk.verify_after
    beat_all(db, NOW - 30)
    _ticket(db, 2, "answered", NOW - 2 * period + 30)  # never written anything yet, but not waiting long
    assert health.check(db, cfg, NOW).healthy
    _ticket(db, 2, "answered", NOW - 3 * period)
    assert not health.check(db, cfg, NOW).healthy
    pilot = config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}, "writeback": {"mode": "off"},
                              "state": {"path": str(tmp_path / "s.db")}}, ENV)
    assert health.check(db, pilot, NOW).healthy
