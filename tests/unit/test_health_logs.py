"""Stage lines as operators read them (issue 14 item 5): a stage is logged when it ends with its figures and the
stable `action`; idle runs are DEBUG, work INFO, failures WARNING; a dead ticket and a budget hold get WARNING
lines of their own with the ticket id and the reason. Also the daemon's guard: a crash is logged and counted."""

from __future__ import annotations

import json
import logging

import pytest

from zdtriage import daemon, logs

IDLE = [
    {"stage": "ingest", "pages": 1, "queued": 0, "skipped": 0, "read_one_by_one": 0, "seconds": 0.2},
    {"stage": "submit", "batches": 0, "submitted": 0, "held_for_budget": 0, "retrying": 0, "adopted": 0,
     "requeued": 0, "waiting": "nothing queued", "seconds": 0.01},
    {"stage": "poll", "open": 2, "collected": 0, "results": {}, "seconds": 0.3},
    {"stage": "writeback", "jobs_sent": 0, "results": {}, "seconds": 0.0},
    {"stage": "submit", "ingest": {"pages": 1}, "events": {"pages": 1, "caught_up": True}, "submitted": 0},
]
BUSY = [
    {"stage": "ingest", "pages": 1, "queued": 13, "skipped": 0},
    {"stage": "ingest", "pages": 1, "queued": 0, "settled": 13},
    {"stage": "submit", "submitted": 0, "events": {"pages": 1, "comments": 35, "caught_up": True}},
    {"stage": "poll", "open": 0, "collected": 1, "results": {"answered": 13}},
    {"stage": "writeback", "jobs_sent": 0, "results": {}, "note": "10 write jobs in flight; the rest waits"},
]


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("summary", IDLE)
def test_a_stage_that_did_nothing_is_quiet_at_info_and_shown_at_debug(summary, capsys):
    assert not daemon.did_something(summary)
    logs.setup("json", "INFO")
    daemon.log_summary(summary)
    assert json_lines(capsys) == []
    logs.setup("json", "DEBUG")
    daemon.log_summary(summary)
    (line,) = json_lines(capsys)
    assert line["level"] == "DEBUG" and line["action"] == summary["stage"]
    assert line["message"] == f"{summary['stage']}: nothing to do"


@pytest.mark.parametrize("summary", BUSY)
def test_a_stage_that_did_work_logs_at_info_with_every_figure(summary, capsys):
    assert daemon.did_something(summary)
    logs.setup("json", "INFO")
    daemon.log_summary(summary)
    (line,) = json_lines(capsys)
    assert (
        line["level"] == "INFO" and line["action"] == summary["stage"] and line["message"] == f"{summary['stage']} done"
    )
    assert line["figures"] == {k: v for k, v in summary.items() if k != "stage"}


def test_a_failed_stage_is_a_warning_naming_the_error(capsys):
    logs.setup("json", "WARNING")
    daemon.log_summary({"stage": "ingest", "pages": 0, "error": "Zendesk refused the credentials (401 on /api/v2/…)"})
    (line,) = json_lines(capsys)
    assert line["level"] == "WARNING" and line["message"].startswith("ingest failed: Zendesk refused")
    assert line["figures"]["error"].startswith("Zendesk refused")


def test_dead_tickets_and_a_budget_hold_get_warning_lines_with_ids_and_reasons(capsys):
    logs.setup("json", "WARNING")  # the stage line itself is INFO; these must pass a WARNING filter alone
    daemon.log_summary({
        "stage": "submit", "submitted": 4, "held_for_budget": 2, "held_ids": [31, 32],
        "dead_tickets": [{"ticket_id": 12, "reason": "request refused: requests.0.custom_id: …"},
                         {"ticket_id": 13, "reason": "answers refused twice"}],
        "budget_hold": {"since": "2026-09-21T10:00:00.000000Z", "at": "2026-09-21T10:00:00.000000Z", "tickets": 2,
                        "ticket_ids": [31, 32],
                        "reason": "2 ticket(s) held in the queue: the budget (daily $5.00) is reached"},
    })
    lines = json_lines(capsys)
    dead = [line for line in lines if line["action"] == "dead"]
    assert [(d["ticket_id"], d["reason"], d["stage"], d["level"]) for d in dead] == [
        (12, "request refused: requests.0.custom_id: …", "submit", "WARNING"),
        (13, "answers refused twice", "submit", "WARNING")]
    (hold,) = [line for line in lines if line["action"] == "budget_hold"]
    assert hold["level"] == "WARNING" and hold["ticket_ids"] == [31, 32] and hold["tickets"] == 2
    assert "daily $5.00" in hold["message"]


def test_text_lines_put_the_figures_after_the_message(capsys):
    logs.setup("text", "INFO")
    daemon.log_summary({"stage": "poll", "open": 0, "collected": 1, "results": {"answered": 13}, "seconds": 0.5})
    err = capsys.readouterr().err
    assert " INFO poll done " in err and "collected=1" in err and 'results={"answered": 13}' in err


def test_the_guard_logs_a_crash_counts_it_and_keeps_going(capsys):
    logs.setup("json", "INFO")
    crashed, reported = [], []

    def boom():
        raise ZeroDivisionError("a bug")

    daemon.guarded("poll", boom, reported.append, crashed.append)()  # must not raise
    (line,) = json_lines(capsys)
    assert line["action"] == "poll_crash" and line["level"] == "ERROR" and "ZeroDivisionError" in line["exc"]
    assert crashed == ["poll"] and reported == []
    daemon.guarded("poll", lambda: {"stage": "poll", "collected": 1}, reported.append, crashed.append)()
    assert reported == [{"stage": "poll", "collected": 1}]
