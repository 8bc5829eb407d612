"""The account's API limit in the Zendesk simulator (issue 23 items 2 and 8).

Sources: DESIGN §7 and Zendesk's "Rate limits" docs (per minute over all endpoints, Team 200,
Growth/Professional 400, Enterprise 700, High Volume 2,500, shared with every app of the account; every
response carries ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining``; a 429 carries ``Retry-After``); the recorded
responses of fixtures/real/zendesk (header names, lower-cased); zenpy#336 and dust-tt/dust#8860 (an agent's
token gets 403 Forbidden on the incremental export, which is admin-only).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from zdtriage.sim import zendesk_shapes as shapes
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim

AUTH = ("triage-bot@example.com/token", "sim-token")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "zendesk"
WINDOW_START = 1_790_000_040.0  # a multiple of 60


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WINDOW_START + 40)  # 20 s before the sim's next fixed window


def _sim(clock: ManualClock, **kwargs) -> ZendeskSim:
    sim = ZendeskSim(clock=clock, **kwargs)
    sim.start()
    return sim


def _get(sim: ZendeskSim, path: str) -> requests.Response:
    return requests.get(f"{sim.base_url}{path}", auth=AUTH)


def test_every_response_says_the_plans_limit_and_what_is_left(clock) -> None:
    sim = _sim(clock, plan="team")
    try:
        ticket = sim.add_ticket(subject="a", description="a")
        paths = ["/api/v2/users/me.json", f"/api/v2/tickets/{ticket['id']}.json",
                 f"/api/v2/tickets/{ticket['id']}/comments.json", "/api/v2/tickets/show_many.json?ids=1",
                 "/api/v2/tickets/999999.json"]  # a 404 counts and says it too
        answers = [_get(sim, p) for p in paths]
        recorded = json.loads((FIXTURES / "ticket-show.json").read_text())["headers"]
        for r in answers:
            assert {"x-rate-limit", "x-rate-limit-remaining"} <= {k.lower() for k in r.headers}
            assert set(recorded) >= {"x-rate-limit", "x-rate-limit-remaining"}  # the names as recorded
        assert [int(r.headers["X-Rate-Limit"]) for r in answers] == [200] * 5
        assert [int(r.headers["X-Rate-Limit-Remaining"]) for r in answers] == [199, 198, 197, 196, 195]
    finally:
        sim.stop()


@pytest.mark.parametrize("plan, limit", [("team", 200), ("growth", 400), ("professional", 400),
                                         ("enterprise", 700), ("high_volume", 2500)])
def test_plan_presets(clock, plan, limit) -> None:
    sim = _sim(clock, plan=plan)
    try:
        assert _get(sim, "/api/v2/users/me.json").headers["x-rate-limit"] == str(limit)
    finally:
        sim.stop()


def test_the_limit_is_account_wide_and_a_429_says_when_to_come_back(clock) -> None:
    sim = _sim(clock, plan="team")
    try:
        ticket = sim.add_ticket(subject="a", description="a")
        paths = [
            "/api/v2/users/me.json",
            f"/api/v2/tickets/{ticket['id']}.json",
            "/api/v2/job_statuses/show_many.json?ids=x",
        ]
        codes = [_get(sim, paths[i % 3]).status_code for i in range(200)]
        assert codes == [200] * 200
        limited = _get(sim, f"/api/v2/tickets/{ticket['id']}/comments.json")  # another endpoint: the same limit
        assert limited.status_code == 429
        assert limited.json() == shapes.ACCOUNT_RATE_LIMITED
        assert 1 <= int(limited.headers["Retry-After"]) <= 20  # the window refills 20 s from now
        assert limited.headers["x-rate-limit-remaining"] == "0"
        clock.advance(int(limited.headers["Retry-After"]))
        assert _get(sim, "/api/v2/users/me.json").headers["x-rate-limit-remaining"] == "199"
    finally:
        sim.stop()


def test_a_second_app_spends_the_same_budget_steadily_on_the_sim_clock(clock) -> None:
    clock.set(WINDOW_START + 60)  # the start of a window
    sim = _sim(clock, plan="team", other_app_per_minute=120)
    try:
        assert _get(sim, "/api/v2/users/me.json").headers["x-rate-limit-remaining"] == "199"
        clock.advance(30)  # half a minute: the other app made 60 calls
        assert _get(sim, "/api/v2/users/me.json").headers["x-rate-limit-remaining"] == str(200 - 2 - 60)
        codes = [_get(sim, "/api/v2/users/me.json").status_code for _ in range(140)]
        assert codes.count(200) == 138 and codes[-2:] == [429, 429]  # 200 - 2 - 60 left for us
        clock.advance(15)
        stats = sim.stats()
        assert stats["other_app_requests"] == 60 and stats["other_app_refused"] == 30  # the window was spent
        clock.advance(15)  # a new window: the other app starts again from zero
        assert _get(sim, "/api/v2/users/me.json").headers["x-rate-limit-remaining"] == "199"
        assert sim.stats()["other_app_refused"] == 60
    finally:
        sim.stop()


def test_an_agents_token_gets_403_on_the_exports_only(clock) -> None:
    sim = _sim(clock, admin=False)
    try:
        export = _get(sim, "/api/v2/incremental/tickets/cursor.json?start_time=1")
        events = _get(sim, "/api/v2/incremental/ticket_events.json?start_time=1")
        assert export.status_code == events.status_code == 403
        assert export.json() == {"error": "Forbidden", "description": "You do not have access to this page. Please "
                                 "contact the account owner of this help desk for further help."}
        assert "x-rate-limit" in export.headers
        assert _get(sim, "/api/v2/users/me.json").status_code == 200
    finally:
        sim.stop()
