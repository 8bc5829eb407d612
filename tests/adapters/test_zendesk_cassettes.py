"""integration/zdtriage/zendesk.py replayed against recorded real Zendesk responses (vcrpy, no network).

Cassettes: tests/cassettes/zendesk_*.yaml, built from tests/fixtures/real/zendesk/ by
tests/cassettes/build_cassettes.py (the mapping is in tests/cassettes/README.md). Each test runs
the adapter through ``make_client`` (zenpy over our requests session, subdomain ``example``) and
checks what the adapter returns; ``cassette.all_played`` proves it made exactly the recorded calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import vcr
import yaml
from vcr.request import Request

from zdtriage import zendesk
from zdtriage.config import Config

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
NAMES = sorted(p.name for p in CASSETTES.glob("zendesk_*.yaml"))


def cassette_yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))


@pytest.fixture
def client(cfg: Config) -> Any:
    return zendesk.make_client(cfg.zendesk)


# --- cassette files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_cassette_has_no_credentials(name: str, no_secrets: Callable[[str], None]) -> None:
    no_secrets(name)


def test_cassettes_are_what_the_builder_makes(builder: ModuleType) -> None:
    """The committed files equal a rebuild (nothing hand-edited, nothing stale, README included)."""
    built = builder.render_all()
    assert NAMES and {n for n in built if n.startswith("zendesk_")} == set(NAMES)
    for name in [*NAMES, "README.md"]:
        assert (CASSETTES / name).read_text(encoding="utf-8") == built[name], f"{name}: differs from a rebuild"


def test_responses_are_the_recorded_ones(builder: ModuleType) -> None:
    """Status, body and every recorded header of each interaction equal the fixture's."""
    for sc in builder.SCENARIOS:
        if not sc.name.startswith("zendesk_"):
            continue
        data = cassette_yaml(f"{sc.name}.yaml")
        for step, interaction in zip(sc.steps, data["interactions"], strict=True):
            fx = builder.load_fixture(step.fixture)
            response = interaction["response"]
            assert response["status"]["code"] == fx["status"]
            body = json.loads(response["body"]["string"])
            if step.show_many:  # the recorded job_status objects, unchanged, in the documented envelope
                assert body == {"job_statuses": [builder.load_fixture(r)["body"]["job_status"] for r in step.show_many]}
            else:
                assert body == fx["body"]
            for key, value in fx["headers"].items():
                if step.show_many and key.lower() == "content-length":
                    continue
                assert response["headers"][key.lower()] == [value], (sc.name, key)
            assert interaction["request"]["uri"].startswith("https://example.zendesk.com/api/v2/")


# --- incremental cursor export ---------------------------------------------------------------------


def test_export_first_page(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_export_first_page.yaml") as cassette:
        page = zendesk.fetch_ticket_page(client, start_time=0, per_page=1)
    assert cassette.all_played
    assert page["after_cursor"] == "MTY5NDMwMzUyNi4wfHwxfA=="
    assert page["end_of_stream"] is False
    [ticket] = page["tickets"]
    assert ticket["id"] == 1
    assert ticket["status"] == "open"
    assert ticket["tags"] == ["sample", "support", "zendesk"]
    assert ticket["generated_timestamp"] == 1694303526
    assert ticket["subject"] == "Sample ticket: Meet the ticket"
    assert ticket["description"].startswith("Hi there,")
    assert ticket["requester_id"] == 6130869168922
    # what agents set, read by `zdtriage evaluate` as the truth
    assert (ticket["priority"], ticket["type"], ticket["custom_fields"]) == ("normal", "incident", [])
    assert (ticket["brand_id"], ticket["group_id"], ticket["ticket_form_id"], ticket["custom_status_id"]) == (
        6130830354842, 6130852536346, 6130830344474, 6130892426138)


def test_export_second_page(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_export_second_page.yaml") as cassette:
        page = zendesk.fetch_ticket_page(client, cursor="MTY5NDMwMzUyNi4wfHwxfA==", per_page=1)
    assert cassette.all_played
    assert [(t["id"], t["status"], t["tags"], t["generated_timestamp"]) for t in page["tickets"]] == [
        (2, "new", [], 1694305012)
    ]
    assert page["after_cursor"] == "MTY5NDMwNTAxMi4wfHwyfA=="
    # it holds the last ticket, yet the stream has not ended: only end_of_stream says so
    assert page["end_of_stream"] is False


def test_export_empty_final_page(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_export_final_page.yaml") as cassette:
        page = zendesk.fetch_ticket_page(client, cursor="MTY5NDMwNTAxMi4wfHwyfA==")
    assert cassette.all_played
    assert page == {"tickets": [], "after_cursor": None, "end_of_stream": True}


def test_export_walk_follows_after_cursor_until_end_of_stream(replay: vcr.VCR, client: Any) -> None:
    seen, cursors = [], []
    with replay.use_cassette("zendesk_export_walk.yaml") as cassette:
        page = zendesk.fetch_ticket_page(client, start_time=0, per_page=1)
        while True:
            seen += [t["id"] for t in page["tickets"]]
            cursors.append(page["after_cursor"])
            if page["end_of_stream"]:
                break
            page = zendesk.fetch_ticket_page(client, cursor=page["after_cursor"], per_page=1)
    assert cassette.all_played and cassette.play_count == 3
    assert seen == [1, 2]
    assert cursors == ["MTY5NDMwMzUyNi4wfHwxfA==", "MTY5NDMwNTAxMi4wfHwyfA==", None]


def test_export_single_page_end_of_stream_with_cursor_set(replay: vcr.VCR, client: Any) -> None:
    """end_of_stream true while after_cursor is still set: the cursor is kept, the stream has ended."""
    with replay.use_cassette("zendesk_export_single_page_eos.yaml") as cassette:
        page = zendesk.fetch_ticket_page(client, start_time=0)
    assert cassette.all_played
    assert [t["id"] for t in page["tickets"]] == [1, 2]
    assert page["end_of_stream"] is True
    assert page["after_cursor"] == "MTY5NDMwNTAxMi4wfHwyfA=="


class _WouldSleep(AssertionError):
    pass


def test_export_429_raises_rate_limited_at_once(replay: vcr.VCR, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 429 must end the call at once with ZendeskRateLimited(retry_after=10): nobody sleeps, nothing is re-sent.

    ``time.sleep`` (urllib3's Retry) and zenpy's own ``sleep`` are replaced by a guard that fails at
    once instead of sleeping, so the bug shows up in milliseconds rather than as a 10 s stall.
    """
    import zenpy.lib.api as zenpy_api

    def guard(seconds: float) -> None:
        raise _WouldSleep(f"something tried to sleep {seconds} s on a 429")

    monkeypatch.setattr(time, "sleep", guard)
    monkeypatch.setattr(zenpy_api, "sleep", guard)
    started = time.monotonic()
    with replay.use_cassette("zendesk_export_429.yaml") as cassette, \
            pytest.raises(zendesk.ZendeskRateLimited) as info:
        zendesk.fetch_ticket_page(client, start_time=1694305080)
    elapsed = time.monotonic() - started
    assert info.value.retry_after == 10
    assert "retry after 10s" in str(info.value)
    assert cassette.play_count == 1
    assert elapsed < 2, f"took {elapsed:.1f} s"


# --- reads -------------------------------------------------------------------------------------------


def test_fetch_comments(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_ticket_comments.yaml") as cassette:
        comments = zendesk.fetch_comments(client, 33)
    assert cassette.all_played  # has_more false: no second page asked for
    assert comments == [{
        "ticket_id": 33,
        "id": 33144692244499,
        "author_id": 26155588908179,
        "public": True,
        "body": "Some comment",
        "created_at": "2024-09-06T18:52:11Z",
    }]


def test_fetch_tickets_show_many(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_show_many.yaml") as cassette:
        tickets = zendesk.fetch_tickets(client, [2785])
    assert cassette.all_played
    assert tickets == [{
        "id": 2785,
        "subject": "test",
        "description": "test",
        "status": "new",
        "tags": [],
        "requester_id": 6090622867866,
        "created_at": "2023-08-31T18:42:23Z",
        "updated_at": "2023-08-31T18:42:23Z",
        "generated_timestamp": None,  # show_many does not carry it (only the export does)
        "priority": None, "type": None, "custom_fields": [], "brand_id": 6090590390554, "group_id": None,
        "ticket_form_id": 6090606885786, "custom_status_id": 6090592372762,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},  # as recorded
    }]


def test_fetch_tickets_state_only_reads_what_write_back_needs(replay: vcr.VCR, client: Any) -> None:
    """Write-back's fresh read (issue 22): status, tags, scope ids and updated_at, no text sanitised."""
    with replay.use_cassette("zendesk_show_many.yaml"):
        tickets = zendesk.fetch_tickets(client, [2785], state_only=True)
    assert tickets == [{"id": 2785, "status": "new", "tags": [], "updated_at": "2023-08-31T18:42:23Z",
                        "brand_id": 6090590390554, "group_id": None, "ticket_form_id": 6090606885786,
                        "custom_status_id": 6090592372762}]


# --- write and job status ----------------------------------------------------------------------------


def test_write_updates_adds_tags_and_a_private_note(client: Any, make_replay: Callable[..., vcr.VCR]) -> None:
    sent: list[Request] = []

    def capture(r1: Request, r2: Request) -> None:  # r1: what the adapter sent (after header filtering)
        sent.append(r1)

    replay = make_replay()
    replay.register_matcher("capture", capture)
    replay.match_on = (*replay.match_on, "body", "capture")  # body: JSON-equal to the cassette's request
    update = {"id": 4012, "additional_tags": ["ai_p2", "ai_billing", "ai_neutral"],
              "comment": {"body": "AI triage: P2 · billing · neutral", "public": False}}
    with replay.use_cassette("zendesk_update_many.yaml") as cassette:
        job_id = zendesk.write_updates(client, [update])
    assert cassette.all_played
    assert job_id == "V3-8b32e60d85c68fd120a252e8becc6faa"

    # vcrpy asks the matchers more than once per request; every call saw the same single PUT
    assert sent and all(r.uri == sent[0].uri and r.body == sent[0].body for r in sent)
    request = sent[0]
    assert request.method == "PUT" and request.path == "/api/v2/tickets/update_many.json"
    assert request.headers["Content-Type"] == "application/json"
    assert not {h.lower() for h in request.headers} & {"authorization", "x-api-key", "cookie"}
    body = json.loads(request.body)
    assert body == {"tickets": [{
        "id": 4012,
        "additional_tags": ["ai_p2", "ai_billing", "ai_neutral"],
        "comment": {"body": "AI triage: P2 · billing · neutral", "public": False},
    }]}
    # add, never replace: the agent's own tags survive; the note is internal
    assert "tags" not in body["tickets"][0]
    assert body["tickets"][0]["comment"]["public"] is False


def test_fetch_jobs_completed(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_job_completed.yaml") as cassette:
        jobs = list(zendesk.fetch_jobs(client, ["V3-8b32e60d85c68fd120a252e8becc6faa"]))
    assert cassette.all_played
    [job] = jobs
    assert job["id"] == "V3-8b32e60d85c68fd120a252e8becc6faa"
    assert job["status"] == "completed"
    [item] = job["results"]
    assert item == {"id": 4012, "index": None, "success": True, "error": None, "details": ""}
    assert not zendesk.is_closed_error(item)


def test_fetch_jobs_completed_with_errors(replay: vcr.VCR, client: Any) -> None:
    """Failed items carry {index, error, id, details} and no success key: the adapter says success false."""
    with replay.use_cassette("zendesk_job_completed_with_errors.yaml") as cassette:
        [job] = zendesk.fetch_jobs(client, ["V3-1207fa1c4584f2c28560ca1dbfef6bf2"])
    assert cassette.all_played
    assert job["status"] == "completed"
    assert [r["id"] for r in job["results"]] == [6097477417114, 6097477413786, 6097477413530]
    assert [r["index"] for r in job["results"]] == [0, 1, 2]
    for item in job["results"]:
        assert item["success"] is False
        assert item["error"] == "OrganizationUpdateFailed"
        assert "has already been taken" in item["details"]
        assert not zendesk.is_closed_error(item)


def test_fetch_jobs_working(replay: vcr.VCR, client: Any) -> None:
    with replay.use_cassette("zendesk_job_working.yaml") as cassette:
        [job] = zendesk.fetch_jobs(client, ["V3-47ed156789697d342091e8d273f50b5d"])
    assert cassette.all_played
    assert job == {"id": "V3-47ed156789697d342091e8d273f50b5d", "status": "working", "results": []}


def test_fetch_jobs_one_call_for_many_and_a_missing_job(replay: vcr.VCR, client: Any) -> None:
    """One show_many call for three jobs; the one Zendesk no longer knows is "missing", order kept."""
    gone, done, working = ("V3-00000000000000000000000000000000", "V3-8b32e60d85c68fd120a252e8becc6faa",
                           "V3-47ed156789697d342091e8d273f50b5d")
    with replay.use_cassette("zendesk_job_missing.yaml") as cassette:
        jobs = list(zendesk.fetch_jobs(client, [gone, done, working]))
    assert cassette.all_played and cassette.play_count == 1
    assert jobs[0] == {"id": gone, "status": "missing", "results": []}
    assert jobs[1]["id"] == done and jobs[1]["status"] == "completed"
    assert jobs[2] == {"id": working, "status": "working", "results": []}


def test_write_updates_sends_the_body_zenpys_ticket_objects_would(client: Any, monkeypatch: Any) -> None:
    """The update_many body is built as plain JSON (issue 22: zenpy's objects were a tenth of a backlog's CPU):
    byte for byte what zenpy builds from Ticket objects, safe_update, priority and tags to remove included."""
    from zenpy.lib.api_objects import Comment, Ticket
    from zenpy.lib.request import CRUDRequest

    ticket = Ticket(id=5)
    ticket.additional_tags, ticket.remove_tags = ["ai_p1", "ai_billing"], ["ai_p3"]
    ticket.comment = Comment(body="note €", public=False)
    ticket.priority, ticket.safe_update, ticket.updated_stamp = "high", True, "2026-01-01T00:00:00Z"
    expected = client.tickets._serialize(CRUDRequest(client.tickets).build_payload([ticket]))
    sent: list[Any] = []

    class Answer:
        status_code = 200

        def json(self) -> dict[str, Any]:
            return {"job_status": {"id": "V3-1"}}

    def put(url: str, json: Any = None, **kwargs: Any) -> Answer:
        sent.append((url, json))
        return Answer()

    monkeypatch.setattr(client.tickets, "_call_api", lambda method, url, **kw: put(url, **kw))
    assert zendesk.write_updates(client, [{
        "id": 5, "additional_tags": ["ai_p1", "ai_billing"], "remove_tags": ["ai_p3"],
        "comment": {"body": "note €", "public": False}, "priority": "high",
        "updated_stamp": "2026-01-01T00:00:00Z"}]) == "V3-1"
    [(url, body)] = sent
    assert url.endswith("/api/v2/tickets/update_many.json") and body == expected
