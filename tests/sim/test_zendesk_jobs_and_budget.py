"""Job statuses as recorded, show_many for jobs, the bot user, and one export budget per account.

Sources: job-status-working.json (``results: null``, a progress), tickets-update-many-queued.json
(``progress`` and ``results`` null), job-status-completed-with-errors.json (a failed item is
``{index, error, id, details}``); Zendesk Job Statuses docs ("Show Many Job Statuses": ``ids`` up to 100,
``{"job_statuses": [...]}``); Incremental Exports docs ("up to 10 requests per minute to these
endpoints", 30 with High Volume: DESIGN §7) and incremental-export-429.json (the body of the 429).
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.sim.zendesk_store import BOT_USER_ID

AUTH = ("triage-bot@example.com/token", "sim-token")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "zendesk"


def test_jobs_through_show_many_queued_working_completed() -> None:
    clock = ManualClock()
    sim = ZendeskSim(clock=clock, job_complete_after_seconds=10)
    sim.start()
    try:
        ok = sim.add_ticket(subject="a", description="a")
        closed = sim.add_ticket(subject="c", description="c", status="closed")
        url = f"{sim.base_url}/api/v2/tickets/update_many.json"
        body = {"tickets": [{"id": ok["id"], "additional_tags": ["x"]}, {"id": closed["id"], "additional_tags": ["x"]}]}
        first = requests.put(url, json=body, auth=AUTH).json()["job_status"]
        second = requests.put(url, json={"tickets": [{"id": ok["id"], "priority": "low"}]}, auth=AUTH).json()[
            "job_status"
        ]
        many = f"{sim.base_url}/api/v2/job_statuses/show_many.json"
        queued = requests.get(many, params={"ids": f"{first['id']},{second['id']},V3-gone"}, auth=AUTH).json()
        assert list(queued) == ["job_statuses"]
        assert [(j["id"], j["status"], j["progress"], j["results"]) for j in queued["job_statuses"]] == [
            (first["id"], "queued", None, None), (second["id"], "queued", None, None)]  # an unknown id is left out
        clock.advance(6)
        working = requests.get(many, params={"ids": first["id"]}, auth=AUTH).json()["job_statuses"][0]
        assert working["status"] == "working" and working["results"] is None and isinstance(working["progress"], int)
        clock.advance(5)
        done = requests.get(many, params={"ids": first["id"]}, auth=AUTH).json()["job_statuses"][0]
        recorded = json.loads((FIXTURES / "job-status-completed-with-errors.json").read_text())
        failed = done["results"][1]
        assert list(failed) == list(recorded["body"]["job_status"]["results"][0])
        assert "success" not in failed and failed["details"] == "Status: closed prevents ticket update"
        assert done["results"][0]["success"] is True
        too_many = requests.get(many, params={"ids": ",".join(f"V3-{n}" for n in range(101))}, auth=AUTH)
        assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"
    finally:
        sim.stop()


def test_users_me_is_the_token_owner() -> None:
    sim = ZendeskSim(email="bot@example.com")
    sim.start()
    try:
        me = requests.get(f"{sim.base_url}/api/v2/users/me.json", auth=("bot@example.com/token", "sim-token")).json()
        assert me["user"]["id"] == BOT_USER_ID and me["user"]["email"] == "bot@example.com"
        assert me["user"]["role"] == "admin"  # the incremental exports are admin-only
    finally:
        sim.stop()


def _export(sim: ZendeskSim, which: str) -> requests.Response:
    path = {"tickets": "/api/v2/incremental/tickets/cursor.json", "events": "/api/v2/incremental/ticket_events.json"}[
        which
    ]
    return requests.get(f"{sim.base_url}{path}", params={"start_time": 0}, auth=AUTH)


def test_both_exports_share_ten_requests_a_minute() -> None:
    clock = ManualClock()
    sim = ZendeskSim(clock=clock)
    sim.start()
    try:
        statuses = [_export(sim, "tickets" if n % 2 else "events").status_code for n in range(10)]
        assert statuses == [200] * 10
        limited = _export(sim, "tickets")
        recorded = json.loads((FIXTURES / "incremental-export-429.json").read_text())
        assert limited.status_code == 429 and limited.json() == recorded["body"]
        assert limited.headers["retry-after"].isdigit() and 1 <= int(limited.headers["retry-after"]) <= 60
        assert _export(sim, "events").status_code == 429
        clock.advance(60)
        assert _export(sim, "events").status_code == 200
    finally:
        sim.stop()


def test_high_volume_allows_thirty_and_other_tools_spend_the_same_budget() -> None:
    clock = ManualClock()
    sim = ZendeskSim(clock=clock, high_volume=True)
    sim.start()
    try:
        assert sim.use_export_budget(25) == 5  # another integration of the account used 25 this minute
        assert [_export(sim, "events").status_code for _ in range(6)] == [200] * 5 + [429]
        clock.advance(60)
        spent = requests.post(f"{sim.base_url}/_sim/export_budget", json={"calls": 30}).json()
        assert spent == {"remaining": 0}
        assert _export(sim, "tickets").status_code == 429
    finally:
        sim.stop()
