"""Contract tests: the Zendesk simulator against recorded real responses.

For each copied fixture in tests/fixtures/real/zendesk/ (provenance in ../SOURCES.md) the
simulator answers the equivalent request and the two bodies are compared recursively: the
same keys in every object (in both directions), the same JSON type for every value, and
each element of a list against the recorded element. Raw HTTP is used on purpose: the
point is the wire shape, which zenpy hides.

Allowed differences (each one is asserted where it applies):
- A value recorded as ``null`` matches anything, and a key that is ``null`` in *any*
  recording (e.g. ``type``, ``priority``, ``assignee_id``) may be ``null`` here.
- Recorded lists that are empty (``tags``, ``custom_fields``) accept any elements; a recorded
  non-empty list is not checked element-wise when ours is empty (``attachments``).
- ``incremental-tickets-time-based-*`` were recorded on ``/incremental/tickets.json``; the
  simulator serves the same time-based envelope on ``/incremental/ticket_events.json`` with
  ``ticket_events`` in place of ``tickets`` (there is no ticket-events recording).
- ``tags-*`` were recorded on an organization's tags (same Tags API); compared with a ticket's.
- ``job-status-completed-with-errors`` is an organizations job: a failed ticket item has exactly the
  recorded keys, in the recorded order (no ``success``, no ``action``).
- ``error-422-record-invalid`` names another field in ``details``; only the envelope and the
  shape of a field's messages are compared.
- ``via.source.from`` / ``via.source.to`` hold ``{}`` or ``{name, address}`` depending on the
  channel (both recorded); only "is an object" is compared. The simulator sends ``{}``.
- The older recordings send ``rate-limit*``, the newer ``ratelimit-*``; we send the newer.
- The Comment event of ``ticket-create-with-comment`` (POST, not simulated) is compared with
  the Comment event of our PUT-with-comment audit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "zendesk"
AUTH = ("triage-bot@example.com/token", "sim-token")


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def _nullable_keys() -> set[str]:
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    keys.add(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in FIXTURES.glob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8"))["body"])
    return keys


NULLABLE = _nullable_keys()


def assert_same_shape(recorded: Any, actual: Any, path: str = "$") -> None:
    """Recursive key-for-key, type-for-type comparison (see the module docstring)."""
    key = path.rsplit(".", 1)[-1]
    if recorded is None or (actual is None and key in NULLABLE):
        return
    if path.endswith((".source.from", ".source.to")):
        assert isinstance(actual, dict), path
        return
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{path}: expected object, got {type(actual).__name__}"
        assert list(actual) == list(recorded) or set(actual) == set(recorded), (
            f"{path}: keys differ: missing {sorted(set(recorded) - set(actual))}, "
            f"extra {sorted(set(actual) - set(recorded))}"
        )
        for name in recorded:
            assert_same_shape(recorded[name], actual[name], f"{path}.{name}")
        return
    if isinstance(recorded, list):
        assert isinstance(actual, list), f"{path}: expected array, got {type(actual).__name__}"
        if recorded:
            for index, item in enumerate(actual):
                assert_same_shape(recorded[0], item, f"{path}[{index}]")
        return
    assert type(actual) is type(recorded), (
        f"{path}: expected {type(recorded).__name__}, got {type(actual).__name__} ({actual!r})"
    )


def assert_rate_headers(recorded: dict[str, str], headers: requests.structures.CaseInsensitiveDict) -> None:
    for name in ("x-rate-limit", "x-rate-limit-remaining", "retry-after"):
        if name in recorded:
            assert name in headers, name
            assert headers[name].isdigit()
    if "rate-limit" in recorded or "ratelimit-limit" in recorded:
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert headers[name].isdigit(), name


def check(name: str, response: requests.Response, body: Any = None) -> dict[str, Any]:
    fixture = load(name)
    assert response.status_code == fixture["status"], (name, response.status_code, response.text[:300])
    assert_same_shape(fixture["body"], response.json() if body is None else body)
    assert_rate_headers(fixture["headers"], response.headers)
    if "content-type" in fixture["headers"]:
        assert response.headers["content-type"].split(";")[0] == fixture["headers"]["content-type"].split(";")[0]
    return fixture


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock):  # type: ignore[no-untyped-def]
    s = ZendeskSim(clock=clock, export_exclude_recent_seconds=0, export_per_minute=1000, job_complete_after_seconds=10)
    s.start()
    s.add_ticket(
        subject="Sample ticket: Meet the ticket",
        description="Hi there",
        tags=["sample"],
        priority="normal",
        created_at=int(clock()) - 7200,
    )
    s.add_ticket(subject="wow this is great", description="This is great", created_at=int(clock()) - 3600)
    yield s
    s.stop()


def get(sim: ZendeskSim, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{sim.base_url}{path}", params=params or None, auth=AUTH)


def test_incremental_cursor_pages(sim: ZendeskSim) -> None:
    first = get(sim, "/api/v2/incremental/tickets/cursor.json", start_time=0, per_page=1)
    check("incremental-tickets-cursor-first-page", first)
    assert first.json()["after_url"].endswith("&per_page=1")
    second = requests.get(first.json()["after_url"], auth=AUTH)
    check("incremental-tickets-cursor-second-page", second)
    assert second.json()["end_of_stream"] is False
    empty = requests.get(second.json()["after_url"], auth=AUTH)
    fixture = check("incremental-tickets-cursor-empty-final-page", empty)
    assert empty.json() == fixture["body"]
    single = get(sim, "/api/v2/incremental/tickets/cursor.json", start_time=0)
    fixture = check("incremental-tickets-cursor-single-page-eos", single)
    assert single.json()["end_of_stream"] is True and "per_page" not in single.json()["after_url"]
    assert "per_page" not in fixture["body"]["after_url"]


def test_time_based_envelope_on_ticket_events(sim: ZendeskSim, clock: ManualClock) -> None:
    page = get(sim, "/api/v2/incremental/ticket_events.json", start_time=0, per_page=1)
    body = page.json()
    renamed = {("tickets" if k == "ticket_events" else k): v for k, v in body.items()}
    fixture = load("incremental-tickets-time-based-page")
    assert list(renamed) == list(fixture["body"])
    assert_same_shape({**fixture["body"], "tickets": []}, {**renamed, "tickets": []})
    assert body["end_time"] == body["ticket_events"][-1]["timestamp"] + 1  # as recorded: last + 1
    assert f"start_time={body['end_time']}" in body["next_page"]
    empty = get(sim, "/api/v2/incremental/ticket_events.json", start_time=int(clock()) - 1).json()
    fixture = load("incremental-tickets-time-based-empty-final-page")
    assert {("tickets" if k == "ticket_events" else k): v for k, v in empty.items()} == fixture["body"]


def test_incremental_export_429(clock: ManualClock) -> None:
    s = ZendeskSim(clock=clock, export_per_minute=1)
    s.start()
    try:
        get(s, "/api/v2/incremental/tickets/cursor.json", start_time=0)
        limited = get(s, "/api/v2/incremental/tickets/cursor.json", start_time=0)
        fixture = check("incremental-export-429", limited)
        assert limited.json() == fixture["body"]
    finally:
        s.stop()


def test_ticket_show_and_show_many(sim: ZendeskSim) -> None:
    check("ticket-show", get(sim, "/api/v2/tickets/1.json"))
    assert "generated_timestamp" not in get(sim, "/api/v2/tickets/1.json").json()["ticket"]
    check("tickets-show-many", get(sim, "/api/v2/tickets/show_many.json", ids="2"))


def test_comments_cursor_and_offset(sim: ZendeskSim) -> None:
    page = get(sim, "/api/v2/tickets/1/comments.json", include_inline_images="false", **{"page[size]": 100})
    fixture = check("ticket-comments-cursor", page)
    recorded_params = [k for k, _ in parse_qsl(urlsplit(fixture["body"]["links"]["next"]).query)]
    ours = [k for k, _ in parse_qsl(urlsplit(page.json()["links"]["next"]).query)]
    assert ours == recorded_params  # include_inline_images, page[after], page[size]: sorted
    assert page.json()["meta"]["has_more"] is False and page.json()["links"]["prev"]  # links set even at the end
    check("ticket-comments-offset-2017", get(sim, "/api/v2/tickets/1/comments.json"))


def test_ticket_update_put_and_comment_event(sim: ZendeskSim) -> None:
    r = requests.put(
        f"{sim.base_url}/api/v2/tickets/2.json", json={"ticket": {"subject": "new subject", "id": 2}}, auth=AUTH
    )
    fixture = check("ticket-update-put", r)
    assert "x-zendesk-api-warn" in fixture["headers"] and "ticket.id" in r.headers["x-zendesk-api-warn"]
    event = r.json()["audit"]["events"][0]
    assert (event["field_name"], event["value"], event["previous_value"]) == (
        "subject",
        "new subject",
        "wow this is great",
    )
    with_comment = requests.put(
        f"{sim.base_url}/api/v2/tickets/2.json", json={"ticket": {"comment": {"body": "Some comment"}}}, auth=AUTH
    )
    recorded_event = load("ticket-create-with-comment")["body"]["audit"]["events"][0]
    assert_same_shape(recorded_event, with_comment.json()["audit"]["events"][0])


def test_ticket_update_404(sim: ZendeskSim) -> None:
    r = requests.put(
        f"{sim.base_url}/api/v2/tickets/9223372036854775807.json", json={"ticket": {"subject": "test"}}, auth=AUTH
    )
    fixture = check("ticket-update-404", r)
    assert r.json() == fixture["body"]


def test_update_many_and_job_statuses(sim: ZendeskSim, clock: ManualClock) -> None:
    r = requests.put(
        f"{sim.base_url}/api/v2/tickets/update_many.json", json={"tickets": [{"id": 2, "subject": "x"}]}, auth=AUTH
    )
    check("tickets-update-many-queued", r)
    url = r.json()["job_status"]["url"]
    clock.advance(6)
    check("job-status-working", requests.get(url, auth=AUTH))
    clock.advance(5)
    done = requests.get(url, auth=AUTH)
    check("job-status-completed-ticket-update", done)
    assert done.json()["job_status"]["message"].endswith(" +0000")


def test_failed_item_in_a_completed_job(sim: ZendeskSim, clock: ManualClock) -> None:
    closed = sim.add_ticket(subject="closed", description="d", status="closed")
    r = requests.put(
        f"{sim.base_url}/api/v2/tickets/update_many.json",
        json={"tickets": [{"id": closed["id"], "status": "open"}]},
        auth=AUTH,
    )
    clock.advance(10)
    body = requests.get(r.json()["job_status"]["url"], auth=AUTH).json()
    fixture = load("job-status-completed-with-errors")
    recorded_item = fixture["body"]["job_status"]["results"][0]
    item = body["job_status"]["results"][0]
    assert list(item) == list(recorded_item) == ["index", "error", "id", "details"]  # no "success" key
    assert_same_shape(recorded_item, item)
    assert_same_shape({**fixture["body"]["job_status"], "results": []}, {**body["job_status"], "results": []})


def test_error_422_envelopes(sim: ZendeskSim) -> None:
    closed = sim.add_ticket(subject="closed", description="d", status="closed")
    r = requests.put(
        f"{sim.base_url}/api/v2/tickets/{closed['id']}.json", json={"ticket": {"comment": {"body": "hi"}}}, auth=AUTH
    )
    assert r.status_code == 422 and r.json() == load("error-422-closed-ticket-update-issue")["body"]
    bad = requests.put(f"{sim.base_url}/api/v2/tickets/1.json", json={"ticket": {"priority": "P1"}}, auth=AUTH)
    fixture = load("error-422-record-invalid")
    assert bad.status_code == fixture["status"]
    ours, recorded = bad.json(), fixture["body"]
    assert (
        list(ours) == list(recorded)
        and ours["error"] == recorded["error"]
        and ours["description"] == recorded["description"]
    )
    (field_errors,) = recorded["details"].values()
    for messages in ours["details"].values():
        assert_same_shape(field_errors, messages)


def test_tags_endpoints(sim: ZendeskSim) -> None:
    url = f"{sim.base_url}/api/v2/tickets/1/tags.json"
    check("tags-set-post", requests.post(url, json={"tags": ["tag2", "tag3"]}, auth=AUTH))
    added = requests.put(url, json={"tags": ["tag4"]}, auth=AUTH)
    check("tags-add-put", added)
    assert sorted(added.json()["tags"]) == ["tag2", "tag3", "tag4"]  # the full list, as recorded
