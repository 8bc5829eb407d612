"""The time-based ticket-event export pages by second, and a crowded second comes back for ever.

Sources: the recorded page (tests/fixtures/real/zendesk/incremental-tickets-time-based-page.json: a full
page whose second is complete ends at last + 1); zenpy#451 (the last page's ``end_time`` is the second of
its last record, and the request from it returned those records again); zendesk_api_client_rb#168 and
estuary/connectors#2007 (more than a page of records in one second: ``next_page`` repeats the same
``start_time`` and the export loops on the same page).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim

AUTH = ("triage-bot@example.com/token", "sim-token")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock):  # type: ignore[no-untyped-def]
    s = ZendeskSim(clock=clock, export_exclude_recent_seconds=0, export_per_minute=10_000, default_triggers=False)
    s.start()
    yield s
    s.stop()


def page(sim: ZendeskSim, start: int, per_page: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"start_time": start, "include": "comment_events"}
    if per_page:
        params["per_page"] = per_page
    r = requests.get(f"{sim.base_url}/api/v2/incremental/ticket_events.json", params=params, auth=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_page_cut_inside_a_second_ends_at_that_second_and_its_records_come_twice(sim: ZendeskSim,
                                                                                   clock: ManualClock) -> None:
    at = int(clock()) - 100
    ids = [sim.add_ticket(subject="earlier", description="x", created_at=at - 10)["id"]]
    ids += [sim.add_ticket(subject=f"t{n}", description="x", created_at=at)["id"] for n in range(2)]
    first = page(sim, 0, per_page=2)
    assert first["count"] == 2 and first["end_time"] == at and first["end_of_stream"] is False
    assert f"start_time={at}" in first["next_page"]
    second = page(sim, first["end_time"], per_page=2)
    seen = [e["ticket_id"] for e in first["ticket_events"]] + [e["ticket_id"] for e in second["ticket_events"]]
    assert sorted(set(seen)) == ids  # nothing lost...
    assert len(seen) > len(set(seen))  # ...but the boundary second's records came twice


def test_more_than_a_page_in_one_second_returns_the_same_page_again(sim: ZendeskSim, clock: ManualClock) -> None:
    at = int(clock()) - 100
    sim.add_ticket(subject="before", description="x", created_at=at - 10)
    for n in range(5):
        sim.add_ticket(subject=f"bulk {n}", description="x", created_at=at)
    sim.add_ticket(subject="after", description="x", created_at=at + 10)
    first = page(sim, 0, per_page=3)
    assert first["end_time"] == at
    stuck = page(sim, at, per_page=3)
    again = page(sim, stuck["end_time"], per_page=3)
    assert stuck["end_time"] == at and stuck["count"] == 3 and stuck["end_of_stream"] is False
    assert again == stuck  # the same page, for ever: the record "after" is never reached this way
    assert f"start_time={at}" in stuck["next_page"]
    beyond = page(sim, at + 1, per_page=3)  # stepping past the second is the client's job
    assert [e["ticket_id"] for e in beyond["ticket_events"]] == [7]


def test_a_full_page_ending_on_a_complete_second_ends_at_last_plus_one(sim: ZendeskSim, clock: ManualClock) -> None:
    at = int(clock()) - 100
    sim.add_ticket(subject="a", description="x", created_at=at)
    sim.add_ticket(subject="b", description="x", created_at=at + 5)
    first = page(sim, 0, per_page=1)
    assert first["end_time"] == at + 1  # as recorded
    assert [e["ticket_id"] for e in page(sim, first["end_time"], per_page=1)["ticket_events"]] == [2]


def test_the_last_page_ends_at_its_last_second_which_comes_again(sim: ZendeskSim, clock: ManualClock) -> None:
    at = int(clock()) - 100
    sim.add_ticket(subject="a", description="x", created_at=at)
    last = page(sim, 0)
    assert last["end_of_stream"] is True and last["end_time"] == at
    assert page(sim, last["end_time"])["ticket_events"] == last["ticket_events"]


def test_bulk_update_puts_every_audit_in_one_second(sim: ZendeskSim, clock: ManualClock) -> None:
    ids = sim.seed(30, 4)
    open_ids = [t["id"] for t in sim.snapshot() if t["status"] != "closed"]
    at = int(clock()) - 5
    done = sim.bulk_update(ids, {"status": "closed"}, at=at)
    assert done == open_ids
    crowded = page(sim, at, per_page=10)
    assert crowded["count"] == 10 and crowded["end_time"] == at
    assert {e["timestamp"] for e in crowded["ticket_events"]} == {at}
    assert page(sim, at, per_page=10) == crowded
    assert all(sim.ticket(i)["status"] == "closed" for i in ids)
    over_http = requests.post(f"{sim.base_url}/_sim/bulk_update", json={"ids": ids, "changes": {"priority": "low"}})
    assert over_http.json() == {"updated": []}  # closed tickets cannot be changed any more


def test_a_bulk_close_of_2000_tickets_is_quick_and_is_not_an_api_update(clock: ManualClock) -> None:
    sim = ZendeskSim(clock=clock, export_exclude_recent_seconds=0, export_per_minute=10_000)
    sim.start()
    try:
        ids = [
            sim.add_ticket(subject=f"t{n}", description="x", created_at=int(clock()) - 900)["id"] for n in range(2000)
        ]
        at = int(clock()) - 60
        assert len(sim.bulk_update(ids, {"status": "closed"}, at=at)) == 2000
        assert sim.stats()["ticket_updates"] == 0  # done in Zendesk, not through the API
        first = page(sim, at)
        assert first["count"] == 1000 and first["end_time"] == at and page(sim, at) == first
    finally:
        sim.stop()
