"""Zendesk's standard triggers: their e-mails are Notification events in audits and in the event export.

Sources: tests/fixtures/real/zendesk/ticket-audits-notifications.json (a creation audit, 2017) and
ticket-create-with-comment.json (2024) record the shape: ``type: "Notification"``, ``via`` from a rule,
``subject`` / ``body`` holding the trigger's template text with its placeholders, ``recipients``, and no
``public`` nor ``author_id``. When the triggers fire: Zendesk's "About the standard Support triggers";
the requester e-mail is suppressed for internal notes ("Customizing default email notifications to CCs
and followers"). In the export, children carry ``event_type`` (singer-io/tap-zendesk keeps only
``event_type == 'Comment'`` as comments).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from test_zendesk_contract import assert_same_shape  # tests/sim is on sys.path (no package)

from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.sim.zendesk_store import AGENT_IDS, BOT_USER_ID

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "zendesk"
AUTH = ("triage-bot@example.com/token", "sim-token")
RECEIVED = "Your request ({{ticket.id}}) has been received and is being reviewed by our support staff."


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def make_sim(clock: ManualClock, **kwargs: Any) -> ZendeskSim:
    sim = ZendeskSim(clock=clock, export_exclude_recent_seconds=0, export_per_minute=1000, **kwargs)
    sim.start()
    return sim


def export_children(sim: ZendeskSim, include: str = "comment_events") -> list[tuple[int, dict[str, Any]]]:
    params = {"start_time": 0, "include": include} if include else {"start_time": 0}
    body = requests.get(f"{sim.base_url}/api/v2/incremental/ticket_events.json", params=params, auth=AUTH).json()
    return [(e["ticket_id"], c) for e in body["ticket_events"] for c in e["child_events"]]


def test_creation_audit_carries_the_two_received_request_emails_in_the_recorded_shape() -> None:
    clock = ManualClock()
    sim = make_sim(clock)
    try:
        t = sim.add_ticket(subject="Printer on fire", description="It is on fire.", created_at=int(clock()) - 60)
        r = requests.get(f"{sim.base_url}/api/v2/tickets/{t['id']}/audits.json", auth=AUTH)
        recorded = load("ticket-audits-notifications")
        assert r.status_code == 200
        assert list(r.json()) == list(recorded["body"])  # audits, next_page, previous_page, count
        [audit] = r.json()["audits"]
        events = audit["events"]
        assert events[0]["type"] == "Comment" and [e["type"] for e in events][-2:] == ["Notification"] * 2
        recorded_notes = [e for e in recorded["body"]["audits"][0]["events"] if e["type"] == "Notification"]
        # the 2024 recording's via (no "to", a revision_id and the deleted flag); 2017 had "to": {}
        recorded_2024 = [
            e for e in load("ticket-create-with-comment")["body"]["audit"]["events"] if e["type"] == "Notification"
        ]
        ours = [e for e in events if e["type"] == "Notification"]
        for event in ours:
            assert (
                list(event) == list(recorded_notes[0]) == list(recorded_2024[0])
            )  # id, type, via, subject, body, recipients
            assert "public" not in event and "author_id" not in event
            assert_same_shape(recorded_2024[0], event)
            assert list(event["via"]["source"]["from"]) == list(recorded_2024[0]["via"]["source"]["from"])
            assert event["via"]["channel"] == "rule" and event["via"]["source"]["rel"] == "trigger"
        titles = [e["via"]["source"]["from"]["title"] for e in ours]
        assert titles == ["Notify requester and CCs of received request", "Notify all agents of received request"]
        # the template text as recorded, placeholders and all
        assert ours[0]["body"].startswith(RECEIVED) and ours[0]["body"] == recorded_notes[0]["body"]
        assert ours[1]["body"].startswith("A ticket (#{{ticket.id}}) by {{ticket.requester.name}} has been received.")
        assert ours[0]["recipients"] == [t["requester_id"]]
        assert ours[1]["recipients"] == [*AGENT_IDS, BOT_USER_ID]
        assert ours[1]["subject"] == recorded_2024[1]["subject"] and ours[1]["body"] == recorded_2024[1]["body"]
        ids = [e["id"] for e in events]
        assert len(set(ids)) == len(ids)
    finally:
        sim.stop()


def test_agent_public_reply_emails_the_requester_but_a_private_note_and_the_requester_do_not() -> None:
    clock = ManualClock()
    sim = make_sim(clock)
    try:
        t = sim.add_ticket(subject="s", description="d", created_at=int(clock()) - 60)
        url = f"{sim.base_url}/api/v2/tickets/{t['id']}.json"
        public = requests.put(
            url, json={"ticket": {"comment": {"body": "We are on it", "public": True}}}, auth=AUTH
        ).json()
        private = requests.put(
            url, json={"ticket": {"comment": {"body": "internal", "public": False}}}, auth=AUTH
        ).json()
        tags_only = requests.put(url, json={"ticket": {"additional_tags": ["x"]}}, auth=AUTH).json()
        sim.add_customer_reply(t["id"], "Thanks, still broken")
        notes = [e for e in public["audit"]["events"] if e["type"] == "Notification"]
        assert [e["via"]["source"]["from"]["title"] for e in notes] == ["Notify requester and CCs of comment update"]
        assert notes[0]["body"].startswith("Your request ({{ticket.id}}) has been updated.")
        assert notes[0]["recipients"] == [t["requester_id"]]
        assert not [e for e in private["audit"]["events"] if e["type"] == "Notification"]  # suppressed for a note
        assert not [e for e in tags_only["audit"]["events"] if e["type"] == "Notification"]
        clock.advance(1)
        kinds = [c["event_type"] for _, c in export_children(sim)]
        # create: Comment + 2 e-mails; public reply: Comment + 1; note: Comment; tags: Change; customer: Comment
        assert kinds.count("Notification") == 3 and kinds.count("Comment") == 4
    finally:
        sim.stop()


def test_export_children_hold_the_template_text_with_event_type_notification() -> None:
    clock = ManualClock()
    sim = make_sim(clock)
    try:
        sim.seed(5, 3)
        clock.advance(1)
        for include in ("comment_events", ""):
            children = export_children(sim, include)
            notes = [c for _, c in children if c["event_type"] == "Notification"]
            assert len(notes) >= 10  # two per new ticket, whatever the sideload
            for note in notes:
                assert note["type"] == "Notification" and "public" not in note and "author_id" not in note
                assert "{{ticket." in note["body"] and note["subject"]
        comments = [c for _, c in export_children(sim) if c["event_type"] == "Comment"]
        assert comments and not any("{{ticket." in c["body"] for c in comments)
    finally:
        sim.stop()


def test_default_triggers_can_be_turned_off() -> None:
    clock = ManualClock()
    sim = make_sim(clock, default_triggers=False)
    try:
        sim.seed(3, 3)
        t = sim.add_ticket(subject="s", description="d", created_at=int(clock()) - 60)
        requests.put(f"{sim.base_url}/api/v2/tickets/{t['id']}.json",
                     json={"ticket": {"comment": {"body": "public reply"}}}, auth=AUTH)
        clock.advance(1)
        assert not [c for _, c in export_children(sim) if c["event_type"] == "Notification"]
    finally:
        sim.stop()
