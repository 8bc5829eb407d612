"""The Zendesk simulator's rules, driven through zenpy (raw HTTP only for what zenpy hides).

Every limit and rule of issue 2 has a test that hits it and checks the real error shape.
"""

from __future__ import annotations

import base64
import collections
import json
from typing import Any

import pytest
import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, RecordNotFoundException, TooManyValuesException

from zdtriage.sim import corpus
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim, make_zenpy_env

ZENDESK_EMAIL = "triage-bot@example.com"  # as in conftest.py
ZENDESK_TOKEN = "sim-token"

CLOSED_BODY = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status closed prevents ticket update"}]},
}


def session() -> requests.Session:
    s = requests.Session()
    s.auth = (f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN)
    return s


def api_error(exc: APIException) -> tuple[int, Any]:
    return exc.response.status_code, exc.response.json()


@pytest.fixture
def custom_sim(monkeypatch: pytest.MonkeyPatch, zendesk_clock: ManualClock):  # type: ignore[no-untyped-def]
    """Factory for a simulator with non-default limits; zenpy is pointed at the last one made."""
    made: list[ZendeskSim] = []

    def make(**kwargs: Any) -> tuple[ZendeskSim, Zenpy]:
        options: dict[str, Any] = {"clock": zendesk_clock, "export_exclude_recent_seconds": 0}
        options.update(kwargs)
        sim = ZendeskSim(email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, **options)
        sim.start()
        made.append(sim)
        for name, value in make_zenpy_env(sim.base_url).items():
            monkeypatch.setenv(name, value)
        return sim, Zenpy(subdomain="sim", email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, disable_cache=True)

    yield make
    for sim in made:
        sim.stop()


# -- auth -----------------------------------------------------------------------------------
def test_auth_required_with_zendesk_401_body(zendesk_sim: ZendeskSim, zenpy_env: dict[str, str]) -> None:
    url = f"{zendesk_sim.base_url}/api/v2/tickets/1.json"
    for auth in (None, (f"{ZENDESK_EMAIL}/token", "wrong"), ("someone@else/token", ZENDESK_TOKEN)):
        r = requests.get(url, auth=auth)
        assert r.status_code == 401
        assert r.json() == {"error": "Couldn't authenticate you"}
        assert r.headers["www-authenticate"] == 'Basic realm="Web Password"'
    bad = Zenpy(subdomain="sim", email=ZENDESK_EMAIL, token="wrong", disable_cache=True)
    with pytest.raises(APIException) as info:
        bad.tickets(id=1)
    assert api_error(info.value)[0] == 401
    zendesk_sim.seed(1, 1)
    assert requests.get(url, headers={"Authorization": f"Bearer {ZENDESK_TOKEN}"}).status_code == 200
    assert zendesk_sim.stats()["unauthorized"] == 4


# -- incremental ticket export ----------------------------------------------------------------
def test_export_pages_through_zenpy_in_order_to_end_of_stream(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    ids = zendesk_sim.seed(25, 3)
    tickets = list(zenpy_client.tickets.incremental(start_time=0, per_page=10))
    assert sorted(t.id for t in tickets) == ids
    keys = [(t.generated_timestamp, t.id) for t in tickets]
    assert keys == sorted(keys)
    # 10 + 10 + 5: the short third page says end_of_stream, zenpy stops there.
    assert zendesk_sim.call_counts()["GET /api/v2/incremental/tickets/cursor.json"] == 3


def test_export_full_last_page_is_followed_by_an_empty_terminal_page(zendesk_sim: ZendeskSim) -> None:
    zendesk_sim.seed(20, 4)
    s = session()
    first = s.get(
        f"{zendesk_sim.base_url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0, "per_page": 10}
    ).json()
    assert first["end_of_stream"] is False and first["before_cursor"] is None
    assert first["after_url"].startswith(f"{zendesk_sim.base_url}/api/v2/incremental/tickets/cursor.json?cursor=")
    assert first["after_url"].endswith("&per_page=10")
    assert base64.b64decode(first["after_cursor"]).decode().endswith("|")
    second = s.get(first["after_url"]).json()
    assert len(second["tickets"]) == 10 and second["end_of_stream"] is False  # full page: more may follow
    last = s.get(second["after_url"]).json()
    assert last == {
        "tickets": [],
        "after_url": None,
        "before_url": None,
        "after_cursor": None,
        "before_cursor": None,
        "end_of_stream": True,
    }


def test_export_per_page_above_1000_is_rejected(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    with pytest.raises(APIException) as info:
        list(zenpy_client.tickets.incremental(start_time=0, per_page=1001))
    status, body = api_error(info.value)
    assert status == 400 and body["error"] == "InvalidValue"
    assert len(list(zenpy_client.tickets.incremental(start_time=0, per_page=1000))) == 0


def test_export_limit_429_with_retry_after_until_the_window_frees(custom_sim, zendesk_clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    sim, zenpy = custom_sim(export_per_minute=2, rate_window_seconds=60)
    sim.seed(3, 1)
    zendesk_clock.advance(15)  # 15 s into the minute-window
    url = f"{sim.base_url}/api/v2/incremental/tickets/cursor.json"
    s = session()
    assert s.get(url, params={"start_time": 0}).status_code == 200
    assert s.get(url, params={"start_time": 0}).status_code == 200
    r = s.get(url, params={"start_time": 0})
    assert r.status_code == 429
    assert r.json() == {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed incremental export API requests per minute exceeded",
    }
    assert r.headers["retry-after"] == "45"
    assert r.headers["x-rate-limit"] == "700"
    # ticket_events shares the export limit
    assert s.get(f"{sim.base_url}/api/v2/incremental/ticket_events.json", params={"start_time": 0}).status_code == 429
    # zenpy honours Retry-After; with no budget left it gives up instead of sleeping
    limited = Zenpy(subdomain="sim", email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, disable_cache=True, ratelimit_budget=1)
    with pytest.raises(RatelimitBudgetExceeded):
        list(limited.tickets.incremental(start_time=0))
    zendesk_clock.advance(45)
    assert len(list(zenpy.tickets.incremental(start_time=0))) == 3
    assert sim.stats()["rate_limited"] == 3


def test_changes_of_the_last_minute_are_excluded(custom_sim, zendesk_clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    sim, zenpy = custom_sim(export_exclude_recent_seconds=60)
    old = sim.seed(2, 1)
    new = sim.add_ticket(subject="Just arrived", description="Hello")
    assert sorted(t.id for t in zenpy.tickets.incremental(start_time=0)) == old
    zendesk_clock.advance(61)
    assert sorted(t.id for t in zenpy.tickets.incremental(start_time=0)) == [*old, new["id"]]
    with pytest.raises(APIException) as info:
        list(zenpy.tickets.incremental(start_time=int(zendesk_clock()) - 30))
    status, body = api_error(info.value)
    assert status == 422
    assert body == {
        "error": "InvalidValue",
        "description": "Too recent start_time. Use a start_time older than 1 minute",
    }


def test_deleted_tickets_export_with_status_deleted(
    zendesk_sim: ZendeskSim, zenpy_client: Zenpy, zendesk_clock: ManualClock
) -> None:
    zendesk_sim.seed(3, 2)
    ticket = zenpy_client.tickets(id=2)
    zenpy_client.tickets.delete(ticket)
    with pytest.raises(RecordNotFoundException):
        zenpy_client.tickets(id=2)
    zendesk_clock.advance(1)
    exported = {t.id: t.status for t in zenpy_client.tickets.incremental(start_time=0)}
    assert exported[2] == "deleted"
    assert [t["status"] for t in zendesk_sim.snapshot() if t["id"] == 2] == ["deleted"]


def test_an_update_brings_the_ticket_back_in_the_next_export(
    zendesk_sim: ZendeskSim, zenpy_client: Zenpy, zendesk_clock: ManualClock
) -> None:
    zendesk_sim.seed(5, 5)
    s = session()
    url = f"{zendesk_sim.base_url}/api/v2/incremental/tickets/cursor.json"
    cursor = s.get(url, params={"start_time": 0}).json()["after_cursor"]
    assert s.get(url, params={"cursor": cursor}).json()["tickets"] == []
    before = zendesk_sim.ticket(3)["generated_timestamp"]
    zenpy_client.tickets.update(Ticket(id=3, additional_tags=["ai_triaged"]))
    zendesk_clock.advance(1)
    again = list(zenpy_client.tickets.incremental(cursor=cursor))
    assert [t.id for t in again] == [3]
    assert again[0].generated_timestamp > before
    assert again[0].updated_at == zendesk_sim.ticket(3)["updated_at"]


def test_absolute_urls_follow_the_host_header(zendesk_sim: ZendeskSim) -> None:
    zendesk_sim.seed(2, 1)
    r = session().get(
        f"{zendesk_sim.base_url}/api/v2/incremental/tickets/cursor.json",
        params={"start_time": 0, "per_page": 1},
        headers={"Host": "proxy.example:8080"},
    )
    body = r.json()
    assert body["after_url"].startswith("http://proxy.example:8080/api/v2/incremental/")
    assert body["tickets"][0]["url"] == f"http://proxy.example:8080/api/v2/tickets/{body['tickets'][0]['id']}.json"


# -- incremental ticket events ----------------------------------------------------------------
def test_ticket_events_with_comment_events(
    zendesk_sim: ZendeskSim, zenpy_client: Zenpy, zendesk_clock: ManualClock
) -> None:
    t = zendesk_sim.add_ticket(
        subject="Printer on fire", description="It is on fire.", created_at=int(zendesk_clock()) - 600
    )
    zenpy_client.tickets.update(
        Ticket(id=t["id"], comment=Comment(body="Internal: call the fire brigade", public=False))
    )
    zendesk_sim.add_customer_reply(t["id"], "Still burning")
    zendesk_clock.advance(1)
    events = list(zenpy_client.tickets.events(start_time=0, include=["comment_events"]))
    assert [e.ticket_id for e in events] == [t["id"]] * 3
    assert all(isinstance(e.timestamp, int) and e.updater_id for e in events)
    comments = [c for e in events for c in e.child_events if c["event_type"] == "Comment"]
    assert [(c["body"], c["public"]) for c in comments] == [
        ("It is on fire.", True),
        ("Internal: call the fire brigade", False),
        ("Still burning", True),
    ]
    assert comments[2]["author_id"] == zendesk_sim.ticket(t["id"])["requester_id"]
    plain = (
        session().get(f"{zendesk_sim.base_url}/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    )
    assert not [c for e in plain["ticket_events"] for c in e["child_events"] if c["event_type"] == "Comment"]
    assert plain["count"] == 3 and plain["end_of_stream"] is True
    assert plain["next_page"].startswith(f"{zendesk_sim.base_url}/api/v2/incremental/ticket_events.json?start_time=")


# -- tickets: read --------------------------------------------------------------------------
def test_show_show_many_and_404(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    zendesk_sim.seed(3, 1)
    assert zenpy_client.tickets(id=2).id == 2
    with pytest.raises(RecordNotFoundException):
        zenpy_client.tickets(id=999)
    assert sorted(t.id for t in zenpy_client.tickets(ids=[1, 3, 999])) == [1, 3]
    with pytest.raises(TooManyValuesException):
        zenpy_client.tickets(ids=list(range(1, 102)))


def test_comments_cursor_pagination(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(
        subject="Long thread",
        description="first",
        comments=[
            {"body": f"reply {n}", "author": "agent" if n % 2 else "customer", "public": n != 3} for n in range(6)
        ],
    )
    bodies = [c.body for c in zenpy_client.tickets.comments(ticket=t["id"])]
    assert bodies == ["first"] + [f"reply {n}" for n in range(6)]
    s = session()
    url = f"{zendesk_sim.base_url}/api/v2/tickets/{t['id']}/comments.json"
    page = s.get(url, params={"page[size]": 3}).json()
    seen = [c["body"] for c in page["comments"]]
    while page["meta"]["has_more"]:
        page = s.get(page["links"]["next"]).json()
        seen += [c["body"] for c in page["comments"]]
    assert seen == bodies
    back = s.get(page["links"]["prev"]).json()
    assert [c["body"] for c in back["comments"]] == bodies[3:6]
    r = s.get(url, params={"page[size]": 101})
    assert r.status_code == 400 and r.json()["error"] == "InvalidPaginationParameter"


# -- tickets: update ------------------------------------------------------------------------
def test_tags_replace_the_list_but_additional_tags_keep_it(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    a = zendesk_sim.add_ticket(subject="a", description="a", tags=["vip", "enterprise"])
    b = zendesk_sim.add_ticket(subject="b", description="b", tags=["vip", "enterprise"])
    zenpy_client.tickets.update(Ticket(id=a["id"], tags=["ai_triaged"]))
    assert zendesk_sim.ticket(a["id"])["tags"] == ["ai_triaged"]  # the agent's tags are gone
    result = zenpy_client.tickets.update(Ticket(id=b["id"], additional_tags=["ai_triaged", "AI_Priority_P2"]))
    assert result.ticket.tags == ["vip", "enterprise", "ai_triaged", "ai_priority_p2"]
    zenpy_client.tickets.update(Ticket(id=b["id"], remove_tags=["enterprise"]))
    assert zendesk_sim.ticket(b["id"])["tags"] == ["vip", "ai_triaged", "ai_priority_p2"]


def test_comment_public_defaults_to_true(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d")
    zenpy_client.tickets.update(Ticket(id=t["id"], comment=Comment(body="no public flag")))
    zenpy_client.tickets.update(Ticket(id=t["id"], comment=Comment(body="internal note", public=False)))
    comments = zendesk_sim.ticket(t["id"])["comments"]
    assert [(c["body"], c["public"]) for c in comments[1:]] == [("no public flag", True), ("internal note", False)]
    assert [(c.body, c.public) for c in zenpy_client.tickets.comments(ticket=t["id"])][1:] == [
        ("no public flag", True),
        ("internal note", False),
    ]


def test_priority_status_custom_fields_and_audit(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d", custom_fields={360001: None})
    result = zenpy_client.tickets.update(
        Ticket(id=t["id"], priority="urgent", status="open", custom_fields=[{"id": 360001, "value": "billing"}])
    )
    assert result.ticket.priority == "urgent" and result.ticket.status == "open"
    changes = {e["field_name"]: (e["previous_value"], e["value"]) for e in result.audit.events}
    assert changes == {"priority": (None, "urgent"), "status": ("new", "open"), "360001": (None, "billing")}
    assert zendesk_sim.ticket(t["id"])["custom_fields"] == [{"id": 360001, "value": "billing"}]
    with pytest.raises(APIException) as info:
        zenpy_client.tickets.update(Ticket(id=t["id"], priority="P1"))
    status, body = api_error(info.value)
    assert status == 422 and body["error"] == "RecordInvalid" and "priority" in body["details"]


def test_safe_update_with_a_stale_stamp_is_a_409(
    zendesk_sim: ZendeskSim, zenpy_client: Zenpy, zendesk_clock: ManualClock
) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d", created_at=int(zendesk_clock()) - 100)
    stamp = zenpy_client.tickets(id=t["id"]).updated_at
    zendesk_clock.advance(5)
    zendesk_sim.add_customer_reply(t["id"], "one more thing")
    with pytest.raises(APIException) as info:
        zenpy_client.tickets.update(Ticket(id=t["id"], additional_tags=["x"], safe_update=True, updated_stamp=stamp))
    assert api_error(info.value) == (
        409,
        {
            "error": "UpdateConflict",
            "description": "Safe Update prevented the update due to outdated ticket data. "
            "Please fetch the latest ticket data and try again.",
        },
    )
    fresh = zenpy_client.tickets(id=t["id"]).updated_at
    zenpy_client.tickets.update(Ticket(id=t["id"], additional_tags=["x"], safe_update=True, updated_stamp=fresh))
    assert "x" in zendesk_sim.ticket(t["id"])["tags"]


def test_closed_tickets_cannot_be_updated(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(subject="old", description="d", status="closed")
    with pytest.raises(APIException) as info:
        zenpy_client.tickets.update(Ticket(id=t["id"], additional_tags=["ai_triaged"]))
    assert api_error(info.value) == (422, CLOSED_BODY)
    with pytest.raises(APIException):
        zenpy_client.tickets.add_tags(t["id"], ["ai_triaged"])
    assert zendesk_sim.ticket(t["id"])["tags"] == []


def test_tags_endpoints_add_set_remove(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d", tags=["vip"])
    assert list(zenpy_client.tickets.add_tags(t["id"], ["ai_triaged"])) == ["vip", "ai_triaged"]
    assert list(zenpy_client.tickets.set_tags(t["id"], ["only"])) == ["only"]
    zenpy_client.tickets.delete_tags(t["id"], ["only"])
    assert zendesk_sim.ticket(t["id"])["tags"] == []
    s = session()
    url = f"{zendesk_sim.base_url}/api/v2/tickets/{t['id']}/tags.json"
    assert (s.post(url, json={"tags": ["a", "b"]}).status_code, s.put(url, json={"tags": ["c"]}).status_code) == (
        201,
        200,
    )
    assert s.get(url).json() == {"tags": ["a", "b", "c"]}
    assert s.delete(url, json={"tags": ["b"]}).json() == {"tags": ["a", "c"]}


def test_thirty_updates_per_ticket_per_ten_minutes(zendesk_sim: ZendeskSim, zendesk_clock: ManualClock) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d")
    s = session()
    url = f"{zendesk_sim.base_url}/api/v2/tickets/{t['id']}.json"
    for n in range(30):
        assert s.put(url, json={"ticket": {"additional_tags": [f"t{n}"]}}).status_code == 200
        zendesk_clock.advance(1)
    r = s.put(url, json={"ticket": {"additional_tags": ["one_too_many"]}})
    assert r.status_code == 429 and r.json()["error"] == "APIRateLimitExceeded"
    assert int(r.headers["retry-after"]) == 570
    zendesk_clock.advance(571)
    assert s.put(url, json={"ticket": {"additional_tags": ["later"]}}).status_code == 200


def test_ticket_update_pace_when_configured(custom_sim) -> None:  # type: ignore[no-untyped-def]
    sim, _ = custom_sim(ticket_updates_per_minute=2)
    t = sim.add_ticket(subject="s", description="d")
    s = session()
    url = f"{sim.base_url}/api/v2/tickets/{t['id']}.json"
    codes = [s.put(url, json={"ticket": {"priority": "low"}}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    stats = sim.stats()
    assert stats["ticket_updates"] == 2 and stats["max_ticket_updates_per_minute"] == 2


def test_customer_reply_reopens_and_bumps(zendesk_sim: ZendeskSim, zendesk_clock: ManualClock) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d", status="solved", created_at=int(zendesk_clock()) - 60)
    after = zendesk_sim.add_customer_reply(t["id"], "It broke again")
    assert after["status"] == "open" and after["generated_timestamp"] > t["generated_timestamp"]
    closed = zendesk_sim.add_ticket(subject="done", description="d", status="closed")
    follow = zendesk_sim.add_customer_reply(closed["id"], "Me again")
    assert follow["id"] != closed["id"] and follow["subject"] == "Re: done"
    assert zendesk_sim.ticket(closed["id"])["followup_ids"] == [follow["id"]]


# -- update_many and jobs ---------------------------------------------------------------------
def test_update_many_over_100_is_a_400(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    with pytest.raises(TooManyValuesException):
        zenpy_client.tickets.update([Ticket(id=n, additional_tags=["x"]) for n in range(1, 102)])
    r = session().put(
        f"{zendesk_sim.base_url}/api/v2/tickets/update_many.json",
        params={"ids": ",".join(str(n) for n in range(1, 102))},
        json={"ticket": {"status": "open"}},
    )
    assert r.status_code == 400 and r.json()["error"] == "TooManyValues"
    assert zendesk_sim.stats()["max_update_many_size"] == 101


def test_job_queued_working_completed_with_a_failed_closed_ticket(custom_sim, zendesk_clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    sim, zenpy = custom_sim(job_complete_after_seconds=10)
    a = sim.add_ticket(subject="a", description="a", tags=["vip"])
    b = sim.add_ticket(subject="b", description="b")
    closed = sim.add_ticket(subject="c", description="c", status="closed")
    job = zenpy.tickets.update(
        [
            Ticket(id=a["id"], additional_tags=["ai_triaged"], comment=Comment(body="draft", public=False)),
            Ticket(id=b["id"], priority="high"),
            Ticket(id=closed["id"], additional_tags=["ai_triaged"]),
        ]
    )
    assert (job.status, job.total, job.progress, job.results) == ("queued", 3, None, None)
    assert job.url == f"{sim.base_url}/api/v2/job_statuses/{job.id}.json"
    assert zenpy.job_status(id=job.id).status == "queued"
    assert sim.ticket(a["id"])["tags"] == ["vip"]  # nothing applied before completion
    zendesk_clock.advance(6)
    working = zenpy.job_status(id=job.id)
    assert working.status == "working" and working.message.startswith("Updating ticket #")
    zendesk_clock.advance(5)
    done = zenpy.job_status(id=job.id)
    assert done.status == "completed" and done.progress == 3 and done.message.startswith("Completed at ")
    # a failed item has no success key at all (job-status-completed-with-errors.json)
    assert [getattr(r, "success", None) for r in done.results] == [True, True, None]
    results = session().get(job.url).json()["job_status"]["results"]
    assert results[0] == {"action": "update", "status": "Updated", "success": True, "id": a["id"]}
    assert results[1] == {"action": "update", "status": "Updated", "success": True, "id": b["id"]}
    assert results[2] == {
        "index": 2,
        "error": "TicketUpdateFailed",
        "id": closed["id"],
        "details": "Status: closed prevents ticket update",
    }
    assert sim.ticket(a["id"])["tags"] == ["vip", "ai_triaged"]
    assert sim.ticket(a["id"])["comments"][-1]["public"] is False
    assert sim.ticket(b["id"])["priority"] == "high"
    many = zenpy.job_status(ids=[job.id, "V3-unknown"])
    assert [j.id for j in many["job_statuses"]] == [job.id]
    with pytest.raises(RecordNotFoundException):
        zenpy.job_status(id="V3-unknown")


def test_bulk_form_update_many_with_ids(zendesk_sim: ZendeskSim) -> None:
    ids = zendesk_sim.seed(3, 9)
    s = session()
    r = s.put(
        f"{zendesk_sim.base_url}/api/v2/tickets/update_many.json",
        params={"ids": f"{ids[0]},{ids[1]},999"},
        json={"ticket": {"additional_tags": ["bulk"]}},
    )
    assert r.status_code == 200 and r.json()["job_status"]["status"] == "queued"
    done = s.get(r.json()["job_status"]["url"]).json()["job_status"]
    assert [x.get("success") for x in done["results"]] == [True, True, None]
    assert done["results"][2]["details"] == "Ticket not found"
    assert all("bulk" in zendesk_sim.ticket(i)["tags"] for i in ids[:2])


def test_more_than_30_queued_jobs_is_too_many_jobs(custom_sim, zendesk_clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    sim, _ = custom_sim(job_complete_after_seconds=100)
    t = sim.add_ticket(subject="s", description="d")
    s = session()
    url = f"{sim.base_url}/api/v2/tickets/update_many.json"
    for _ in range(30):
        assert s.put(url, json={"tickets": [{"id": t["id"], "additional_tags": ["x"]}]}).status_code == 200
    r = s.put(url, json={"tickets": [{"id": t["id"], "additional_tags": ["x"]}]})
    assert r.status_code == 429 and r.json()["error"] == "TooManyJobs"
    assert r.headers["retry-after"] == "100"
    assert sim.stats()["max_jobs_in_flight"] == 30
    zendesk_clock.advance(100)
    assert s.put(url, json={"tickets": [{"id": t["id"], "additional_tags": ["y"]}]}).status_code == 200


# -- account limit, headers, faults -------------------------------------------------------------
def test_account_rate_limit_and_headers(custom_sim, zendesk_clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    sim, _ = custom_sim(rate_per_minute=3)
    sim.seed(1, 1)
    s = session()
    url = f"{sim.base_url}/api/v2/tickets/1.json"
    first = s.get(url)
    assert first.headers["x-rate-limit"] == "3" and first.headers["x-rate-limit-remaining"] == "2"
    assert first.headers["ratelimit-limit"] == "3" and first.headers["ratelimit-reset"] == "60"
    s.get(url), s.get(url)
    r = s.get(url)
    assert r.status_code == 429 and r.json()["error"] == "APIRateLimitExceeded"
    assert r.headers["retry-after"] == "60" and r.headers["x-rate-limit-remaining"] == "0"
    assert requests.get(f"{sim.base_url}/_sim/stats").status_code == 200  # /_sim/ is never limited
    zendesk_clock.advance(60)
    assert s.get(url).status_code == 200


def test_fault_injection_is_seeded_and_spares_sim_paths(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    zendesk_sim.seed(1, 1)
    s = session()
    url = f"{zendesk_sim.base_url}/api/v2/tickets/1.json"
    zendesk_sim.set_faults(rate_500=1.0)
    r = s.get(url)
    assert r.status_code == 500 and r.json()["error"] == "InternalServerError"
    with pytest.raises(APIException):
        zenpy_client.tickets(id=1)
    zendesk_sim.set_faults(rate_503=1.0)
    r = s.get(url)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    zendesk_sim.set_faults(rate_429=1.0)
    r = s.get(url)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert requests.get(f"{zendesk_sim.base_url}/_sim/tickets").status_code == 200

    def pattern() -> list[int]:
        zendesk_sim.set_faults(rate_429=0.2, rate_500=0.2, rate_503=0.2, seed=7)
        return [s.get(url).status_code for _ in range(30)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 429, 500, 503}
    zendesk_sim.set_faults()
    assert s.get(url).status_code == 200
    assert zendesk_sim.stats()["faults_injected"] > 10


def test_latency(zendesk_sim: ZendeskSim) -> None:
    zendesk_sim.latency_seconds = 0.05
    r = requests.get(f"{zendesk_sim.base_url}/_sim/stats")
    assert r.elapsed.total_seconds() >= 0.05


def test_unknown_api_path(zendesk_sim: ZendeskSim) -> None:
    r = session().get(f"{zendesk_sim.base_url}/api/v2/nothing_here.json")
    assert r.status_code == 404 and r.json() == {"error": "InvalidEndpoint", "description": "Not found"}


# -- /_sim/ ---------------------------------------------------------------------------------
def test_sim_http_inspection_api(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    base = f"{zendesk_sim.base_url}/_sim"
    ids = requests.post(f"{base}/seed", json={"n": 4, "seed": 2}).json()["ids"]
    assert ids == [1, 2, 3, 4]
    added = requests.post(f"{base}/tickets", json={"subject": "Hi", "description": "Help", "tags": ["vip"]}).json()[
        "ticket"
    ]
    assert added["id"] == 5 and added["tags"] == ["vip"]
    replied = requests.post(f"{base}/tickets/5/reply", json={"body": "Anyone?"}).json()["ticket"]
    assert replied["comments"][-1] == {
        **replied["comments"][-1],
        "body": "Anyone?",
        "public": True,
        "author_id": added["requester_id"],
    }
    assert requests.post(f"{base}/tickets/99/reply", json={"body": "x"}).status_code == 404
    zenpy_client.tickets.update(Ticket(id=5, comment=Comment(body="note", public=False)))
    tickets = requests.get(f"{base}/tickets").json()["tickets"]
    assert len(tickets) == 5
    assert {"id", "status", "tags", "priority", "custom_fields", "updated_at", "comments"} <= set(tickets[4])
    assert tickets[4]["comments"][-1]["public"] is False
    calls = requests.get(f"{base}/calls").json()["calls"]
    assert calls["PUT /api/v2/tickets/{id}.json"] == 1
    stats = requests.get(f"{base}/stats").json()
    assert {
        "max_update_many_size",
        "max_jobs_in_flight",
        "ticket_updates",
        "max_ticket_updates_per_minute",
        "rate_limited",
    } <= set(stats)
    assert requests.put(f"{base}/faults", json={"rate_500": 1.0}).json()["faults"]["rate_500"] == 1.0
    assert session().get(f"{zendesk_sim.base_url}/api/v2/tickets/1.json").status_code == 500
    requests.put(f"{base}/faults", json={"rate_500": 0})
    assert session().get(f"{zendesk_sim.base_url}/api/v2/tickets/1.json").status_code == 200


# -- seeding and the corpus -------------------------------------------------------------------
def test_seeded_tickets_export_at_once_with_their_threads(custom_sim) -> None:  # type: ignore[no-untyped-def]
    sim, zenpy = custom_sim(export_exclude_recent_seconds=60)
    ids = sim.seed(60, 11)
    exported = list(zenpy.tickets.incremental(start_time=0))
    assert sorted(t.id for t in exported) == ids
    spec = corpus.generate(60, 11)
    snap = {t["id"]: t for t in sim.snapshot()}
    for ticket_id, item in zip(ids, spec, strict=True):
        got = snap[ticket_id]
        assert got["subject"] == item["subject"] and got["status"] == item["status"] and got["tags"] == item["tags"]
        assert [c["body"] for c in got["comments"]] == [item["description"]] + [c["body"] for c in item["comments"]]
    assert any(t.status == "closed" for t in exported) and any("no_ai" in t.tags for t in exported)


def test_corpus_is_deterministic_and_varied() -> None:
    tickets = corpus.generate(400, 1)
    assert tickets == corpus.generate(400, 1) and tickets != corpus.generate(400, 2)
    langs = collections.Counter(t["language"] for t in tickets)
    assert set(langs) == {"en", "de", "fr", "es"} and 0.08 <= 1 - langs["en"] / 400 <= 0.25
    kinds = collections.Counter(t["kind"] for t in tickets)
    assert set(corpus.KINDS) | {"prompt_injection"} == set(kinds)
    injected = [t for t in tickets if t["kind"] == "prompt_injection"]
    assert injected and any(
        "Ignore all previous instructions" in t["description"]
        or "SYSTEM:" in t["description"]
        or "</ticket>" in t["description"]
        for t in injected
    )
    statuses = collections.Counter(t["status"] for t in tickets)
    assert statuses["closed"] >= 1 and statuses["solved"] >= 1
    assert any("no_ai" in t["tags"] for t in tickets)
    assert any("vip" in t["tags"] for t in tickets) and any("enterprise" in t["tags"] for t in tickets)
    assert any(len(t["comments"]) >= 3 for t in tickets)
    longest = max(len(c["body"]) for t in tickets for c in t["comments"])
    assert 45_000 <= longest <= 60_000
    assert any(t["subject"].isupper() or "!!!" in t["subject"] for t in tickets if t["kind"] == "angry")
    assert all(t["priority"] in (None, "low", "normal", "high", "urgent") for t in tickets)
    assert all(t["created_offset_seconds"] >= 2 * 3600 for t in tickets)
    json.dumps(tickets)  # plain data only
