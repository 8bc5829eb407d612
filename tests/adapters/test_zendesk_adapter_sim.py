"""integration/zdtriage/zendesk.py against the Zendesk simulator: what the pipeline needs from a real account.

Trigger e-mails are not conversation (recorded audits; DESIGN §7), a crowded second of the event
export must be recognisable (zenpy#451, zendesk_api_client_rb#168), job statuses come 100 at a time
through show_many (Zendesk Job Statuses docs), and the bot user is known (users/me).
"""

from __future__ import annotations

from typing import Any

import pytest

from zdtriage import config as config_mod
from zdtriage import zendesk, zendesk_http
from zdtriage.sim import zendesk_shapes
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.sim.zendesk_store import AGENT_IDS, BOT_USER_ID

TEMPLATE_MARKERS = ("{{ticket.", "has been received and is being reviewed", "has been updated. To add")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    s = ZendeskSim(clock=clock, export_exclude_recent_seconds=0, export_per_minute=1000, job_complete_after_seconds=10)
    s.start()
    yield s
    s.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(sim: ZendeskSim, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)
    cfg = config_mod.parse({"zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": sim.base_url}},
                           {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "k"})
    return zendesk.make_client(cfg.zendesk)


def test_only_comments_are_conversation_and_trigger_emails_are_not(sim: ZendeskSim, client: Any,
                                                                   clock: ManualClock) -> None:
    t = sim.add_ticket(subject="Printer on fire", description="It is on fire.", created_at=int(clock()) - 60)
    sim.add_ticket(subject="Other", description="Second ticket.", created_at=int(clock()) - 50)
    zendesk.write_updates(
        client, [{"id": t["id"], "additional_tags": [], "comment": {"body": "internal", "public": False}}]
    )
    clock.advance(11)
    sim.stats()  # the job runs (jobs run when the simulator is next asked anything)
    clock.advance(1)
    sim.store.update(sim.store.tickets[t["id"]], {"comment": {"body": "We are on it", "public": True}}, AGENT_IDS[0],
                     int(clock()))
    sim.add_customer_reply(t["id"], "Still burning")
    clock.advance(1)
    page = zendesk.fetch_comment_events(client, 0)
    bodies = [c["body"] for c in page["comments"]]
    assert bodies == ["It is on fire.", "Second ticket.", "internal", "We are on it", "Still burning"]
    assert not [b for b in bodies for marker in TEMPLATE_MARKERS if marker in b]
    assert [c["public"] for c in page["comments"]] == [True, True, False, True, True]
    assert page["ticket_ids"] == [1, 2] and page["count"] == 5 and page["stuck"] is False
    assert page["end_of_stream"] is True and page["start_time"] == 0
    # the same rule on the comments endpoint (the way past a crowded second)
    assert [c["body"] for c in zendesk.fetch_comments(client, t["id"])] == [
        "It is on fire.", "internal", "We are on it", "Still burning"]


def test_a_missing_public_is_not_public_and_a_comment_counts_once(sim: ZendeskSim, client: Any, clock: ManualClock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = zendesk_shapes.ticket_event_json

    def odd(audit: Any, with_comments: bool, requester_id: int) -> dict[str, Any]:
        event = real(audit, with_comments, requester_id)
        comments = [c for c in event["child_events"] if c["event_type"] == "Comment"]
        for child in comments:
            child.pop("public")  # a comment child without the flag
        event["child_events"].extend(dict(c) for c in comments)  # and the same comment twice
        return event

    monkeypatch.setattr(zendesk_shapes, "ticket_event_json", odd)
    sim.add_ticket(subject="s", description="no flag here", created_at=int(clock()) - 60)
    clock.advance(1)
    page = zendesk.fetch_comment_events(client, 0)
    assert [(c["body"], c["public"]) for c in page["comments"]] == [("no flag here", False)]


def test_a_crowded_second_is_reported_as_stuck(sim: ZendeskSim, client: Any, clock: ManualClock) -> None:
    ids = [sim.add_ticket(subject=f"t{n}", description=f"ticket {n}", created_at=int(clock()) - 600)["id"]
           for n in range(30)]
    at = int(clock()) - 300
    assert sim.bulk_update(ids, {"status": "closed"}, at=at) == ids  # a bulk close: 30 audits in one second
    clock.advance(1)
    before = zendesk.fetch_comment_events(client, 0, per_page=40)
    assert before["end_time"] == at and before["stuck"] is False and before["count"] == 40
    stuck = zendesk.fetch_comment_events(client, at, per_page=10)
    assert stuck["stuck"] is True and stuck["end_time"] == at and stuck["count"] == 10
    assert len(stuck["ticket_ids"]) == 10 and set(stuck["ticket_ids"]) <= set(ids)
    assert zendesk.fetch_comment_events(client, at, per_page=10)["ticket_ids"] == stuck["ticket_ids"]  # same page
    past = zendesk.fetch_comment_events(client, at + 1, per_page=10)
    assert past["count"] == 0 and past["end_of_stream"] is True and past["stuck"] is False


def test_the_export_429_is_rate_limited_when_another_tool_spent_the_budget(client: Any, clock: ManualClock,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sim = ZendeskSim(clock=clock, export_exclude_recent_seconds=0)  # the real 10 a minute
    sim.start()
    try:
        cfg = config_mod.parse({"zendesk": {"subdomain": "sim", "email": "triage-bot@example.com",
                                            "url": sim.base_url}},
                               {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "k"})
        sim.use_export_budget(10)
        with pytest.raises(zendesk.ZendeskRateLimited) as info:
            zendesk.fetch_comment_events(zendesk.make_client(cfg.zendesk), 0)
        assert 1 <= info.value.retry_after <= 60
    finally:
        sim.stop()


def test_fetch_me_is_the_bot_user(client: Any) -> None:
    assert zendesk.fetch_me(client) == BOT_USER_ID


def test_fetch_jobs_asks_show_many_once_per_hundred(sim: ZendeskSim, client: Any, clock: ManualClock) -> None:
    ok = sim.add_ticket(subject="a", description="a")
    closed = sim.add_ticket(subject="c", description="c", status="closed")
    sim.max_queued_jobs = 200
    sim.job_status_keep = None  # 150 jobs: none of them expired here (see the expiry test below)
    job_ids = [zendesk.write_updates(client, [{"id": ok["id"], "additional_tags": [f"x{n}"]}]) for n in range(149)]
    job_ids.append(zendesk.write_updates(client, [{"id": ok["id"], "additional_tags": ["y"]},
                                                  {"id": closed["id"], "additional_tags": ["y"]}]))
    before = sim.call_counts().get("GET /api/v2/job_statuses/show_many.json", 0)
    queued = list(zendesk.fetch_jobs(client, [*job_ids, "V3-gone"]))
    assert sim.call_counts()["GET /api/v2/job_statuses/show_many.json"] - before == 2  # 151 ids: 100 + 51
    assert sim.call_counts().get("GET /api/v2/job_statuses/{id}.json", 0) == 0
    assert [j["id"] for j in queued] == [*job_ids, "V3-gone"]
    assert {j["status"] for j in queued[:-1]} == {"queued"} and all(j["results"] == [] for j in queued[:-1])
    assert queued[-1] == {"id": "V3-gone", "status": "missing", "results": []}
    clock.advance(11)
    [last] = zendesk.fetch_jobs(client, [job_ids[-1]])
    assert last["status"] == "completed"
    good, bad = last["results"]
    assert good == {"id": ok["id"], "index": None, "success": True, "error": None, "details": ""}
    assert bad["id"] == closed["id"] and bad["index"] == 1 and bad["success"] is False
    assert bad["error"] == "TicketUpdateFailed" and zendesk.is_closed_error(bad)
    assert list(zendesk.fetch_jobs(client, [])) == []


def test_an_expired_job_status_is_missing_from_show_many_and_404_alone(sim: ZendeskSim, client: Any,
                                                                          clock: ManualClock) -> None:
    # DESIGN §7: statuses expire (a 2021 report: after an hour, and beyond the last 100 jobs), then the id
    # answers 404 RecordNotFound (ticket-update-404.json's body) and show_many leaves it out
    ticket = sim.add_ticket(subject="a", description="a")
    old = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["x"]}])
    clock.advance(3601)
    new = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["y"]}])
    found = {j["id"]: j["status"] for j in zendesk.fetch_jobs(client, [old, new])}
    assert found == {old: "missing", new: "queued"}
    with pytest.raises(zendesk.ZendeskNotFound, match=r"^Zendesk answered 404 on /api/v2/job_statuses/"):
        zendesk_http._call(client.job_status, id=old)
    sim.job_status_keep = 0
    assert [j["status"] for j in zendesk.fetch_jobs(client, [new])] == ["missing"]


@pytest.mark.parametrize("read", ["deleted ticket", "user", "job status"])
def test_a_404_on_any_read_is_a_zendesk_error_in_one_line(sim: ZendeskSim, client: Any, read: str) -> None:
    # issue 23 item 4: zenpy raises RecordNotFoundException (or APIException for another 404 body); the
    # pipeline only ever sees a ZendeskError
    ticket = sim.add_ticket(subject="a", description="a")
    sim.delete_ticket(ticket["id"])
    call = {"deleted ticket": lambda: client.tickets(id=ticket["id"]), "user": lambda: client.users(id=12345),
            "job status": lambda: client.job_status(id="V3-" + "0" * 32)}[read]
    with pytest.raises(zendesk.ZendeskNotFound) as caught:
        zendesk_http._call(call)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("Zendesk answered 404 on /api/v2/")


def test_a_stuck_job_stays_queued_and_a_late_one_applies_when_its_time_comes(sim: ZendeskSim, client: Any,
                                                                               clock: ManualClock) -> None:
    ticket = sim.add_ticket(subject="a", description="a")
    sim.stick_jobs(1)
    sim.stick_jobs(1, run_after=900)
    forever = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["forever"]}])
    late = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["late"]}])
    clock.advance(600)
    assert {j["status"] for j in zendesk.fetch_jobs(client, [forever, late])} == {"queued"}
    clock.advance(301)
    found = {j["id"]: j["status"] for j in zendesk.fetch_jobs(client, [forever, late])}
    assert found == {forever: "queued", late: "completed"}
    assert "late" in sim.ticket(ticket["id"])["tags"] and "forever" not in sim.ticket(ticket["id"])["tags"]


def test_an_item_refused_for_a_required_field_has_the_recorded_shape(sim: ZendeskSim, client: Any,
                                                                      clock: ManualClock) -> None:
    ticket = sim.add_ticket(subject="a", description="a")
    sim.fail_job_items([ticket["id"]])
    job = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["x"]}])
    clock.advance(11)
    [done] = zendesk.fetch_jobs(client, [job])
    [item] = done["results"]
    assert item == {"id": ticket["id"], "index": 0, "success": False, "error": "TicketUpdateFailed",
                    "details": "Follow Up Date: needed"}
    assert not zendesk.is_closed_error(item) and "x" not in sim.ticket(ticket["id"])["tags"]
    raw = sim.store.jobs[job].results[0]
    assert set(raw) == {"index", "error", "id", "details"}  # job-status-completed-with-errors.json: no success key


def test_a_write_with_a_stamp_is_refused_when_the_ticket_changed_since(sim: ZendeskSim, client: Any,
                                                                        clock: ManualClock) -> None:
    ticket = sim.add_ticket(subject="a", description="a", created_at=int(clock()) - 600)
    [fresh] = zendesk.fetch_tickets(client, [ticket["id"]])
    first = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["one"],
                                            "updated_stamp": fresh["updated_at"]}])
    second = zendesk.write_updates(client, [{"id": ticket["id"], "additional_tags": ["two"],
                                             "updated_stamp": fresh["updated_at"]}])
    clock.advance(11)
    done = {j["id"]: j for j in zendesk.fetch_jobs(client, [first, second])}
    assert done[first]["results"][0]["success"] is True
    refused = done[second]["results"][0]
    assert refused["success"] is False and "safe update" in refused["details"].lower()
    assert "two" not in sim.ticket(ticket["id"])["tags"]


def test_zendesk_url_redirects_one_client_and_changes_no_environment(sim: ZendeskSim, clock: ManualClock) -> None:
    # issue 19 item 5: zendesk.url used to set ZENPY_FORCE_* for the whole process, so a second client
    # (another account, doctor beside the daemon) went wherever the last one was built for
    import os

    other = ZendeskSim(clock=clock, export_exclude_recent_seconds=0)
    other.start()
    try:
        clients = [zendesk.make_client(config_mod.parse(
            {"zendesk": {"subdomain": name, "email": "triage-bot@example.com", "url": s.base_url}},
            {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "k"}).zendesk)
            for name, s in (("first", sim), ("second", other))]
        assert not {"ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"} & set(os.environ)
        before = (sum(sim.call_counts().values()), sum(other.call_counts().values()))
        for client in clients:
            assert zendesk.fetch_me(client) == BOT_USER_ID
        assert (sum(sim.call_counts().values()), sum(other.call_counts().values())) == (before[0] + 1, before[1] + 1)
        sim.seed(3, 1)
        page = zendesk.fetch_ticket_page(clients[0], start_time=0)  # pages through the simulator's own next links
        assert len(page["tickets"]) == 3
    finally:
        other.stop()
