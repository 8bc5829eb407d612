"""Live agreement and draft adoption from what the exports show after write-back (database only)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from zdtriage import observe, store
from zdtriage.config import TriageConfig
from zdtriage.pipeline import Context
from zdtriage.store import evaluations
from zdtriage.timeutil import iso

NOW = 1_790_000_000.0
WRITTEN = iso(NOW - 600)
OURS = ["vip", "ai_priority_p2", "ai_category_billing", "ai_sentiment_negative", "ai_triaged"]
ANSWER = {"priority": "P2", "category": "billing", "sentiment": "negative", "language": "en", "confidence": 0.9,
          "draft": "Thanks for telling us about the double charge. We have refunded the second payment today."}


def make_ctx(*, native_priority=False, **evaluate):
    triage = replace(TriageConfig(), native_priority=native_priority)
    config = SimpleNamespace(triage=triage, evaluate=SimpleNamespace(**evaluate) if evaluate else None)
    db = store.open_db(":memory:")
    db["tickets"].insert({"id": 7, "state": "written", "subject": "s", "requester_id": 500, "triage_n": 1,
                          "answer": json.dumps(ANSWER), "written_at": WRITTEN, "zd_tags": json.dumps(OURS)})
    return Context(config=config, db=db, clock=lambda: NOW)


def sight(ctx, **ticket):
    data = {"id": 7, "status": "open", "tags": OURS, "priority": None, "type": None, "custom_fields": [], **ticket}
    rows = {r["id"]: r for r in ctx.db.query("select * from tickets")}
    observe.observe_tickets(ctx, rows, [data])


def outcome(ctx, field):
    row = evaluations.observation(ctx.db, 7, 1, field)
    return row and (row["outcome"], row["theirs"], row["source"])


def test_an_open_ticket_left_alone_is_pending_then_agreed_once_solved():
    ctx = make_ctx()
    sight(ctx)
    assert outcome(ctx, "priority") == ("pending", None, "kept")
    sight(ctx, status="solved")
    assert outcome(ctx, "priority") == ("agreed", "P2", "kept")
    assert outcome(ctx, "category") == ("agreed", "billing", "kept")


def test_an_export_row_from_before_our_write_says_nothing():
    ctx = make_ctx()
    sight(ctx, tags=["vip"], status="solved")
    assert outcome(ctx, "priority") is None


def test_the_agent_switching_the_ai_field_is_a_change_to_that_value():
    ctx = make_ctx()
    sight(ctx)
    sight(ctx, tags=["vip", "ai_priority_p1", "ai_category_billing", "ai_triaged"])
    assert outcome(ctx, "priority") == ("changed", "P1", "ai_field")
    assert outcome(ctx, "category") == ("pending", None, "kept")
    sight(ctx, tags=["vip", "ai_category_billing", "ai_triaged"], status="solved")  # removed, no new value
    assert outcome(ctx, "priority") == ("changed", None, "ai_field")


def test_a_native_priority_set_after_our_write_agrees_or_not_through_the_map():
    ctx = make_ctx()
    sight(ctx, priority="normal")  # the baseline: whatever the channel had set
    sight(ctx, priority="normal", status="solved")
    assert outcome(ctx, "priority") == ("agreed", "P2", "kept")  # never touched by the agent
    ctx = make_ctx()
    sight(ctx, priority="normal")
    sight(ctx, priority="urgent")
    assert outcome(ctx, "priority") == ("changed", "P1", "native")
    sight(ctx, priority="high", status="solved")  # the agent changed it to what we said
    assert outcome(ctx, "priority") == ("agreed", "P2", "native")


def test_with_native_priority_written_by_us_any_other_value_is_the_agents():
    ctx = make_ctx(native_priority=True)
    sight(ctx, priority="low")  # we wrote "high" (P2): the first sighting already shows a change
    assert outcome(ctx, "priority") == ("changed", "P4", "native")


def test_the_category_field_changed_by_the_agent_is_compared_through_the_map():
    ctx = make_ctx(category_field=360001, category_map={"bug_report": "technical"})
    sight(ctx, custom_fields=[{"id": 360001, "value": None}])
    sight(ctx, custom_fields=[{"id": 360001, "value": "bug_report"}], status="solved")
    assert outcome(ctx, "category") == ("changed", "technical", "native")


def test_unreadable_data_is_left_out_and_never_raises():
    ctx = make_ctx()
    ctx.db["tickets"].update(7, {"answer": "{not json"})
    sight(ctx, status="solved")
    assert outcome(ctx, "priority") is None


def test_bad_evaluate_settings_never_fail_the_export_page():
    ctx = make_ctx(category_map={"bug_report": "not-a-category"})
    sight(ctx, status="solved")  # the page goes on; there is just nothing to observe
    assert outcome(ctx, "priority") is None


def test_live_report_counts_agreement_per_field_over_its_window():
    ctx = make_ctx()
    sight(ctx, status="solved")
    for ticket_id, written, result in ((8, WRITTEN, "changed"), (9, iso(NOW - 90 * 86400), "changed")):
        evaluations.save_observation(ctx.db, {"ticket_id": ticket_id, "triage_n": 1, "field": "priority",
                                              "ours": "P2", "outcome": result, "source": "ai_field",
                                              "written_at": written, "observed_at": iso(NOW)})
    everything = observe.live_report(ctx.db)["live_agreement"]["priority"]
    assert (everything["observed"], everything["agreed"], everything["changed"]) == (3, 1, 2)
    assert everything["agreement"] == round(1 / 3, 4) and everything["changed_by"] == {"ai_field": 2}
    recent = observe.live_report(ctx.db, since=iso(NOW - 86400))["live_agreement"]["priority"]
    assert (recent["observed"], recent["agreement"]) == (2, 0.5)


def reply(body, *, author=900, at=NOW - 60, public=True):
    return {"ticket_id": 7, "id": int(at), "author_id": author, "public": public, "body": body, "created_at": at}


@pytest.mark.parametrize("body, expected", [
    (f"Hi Ann,\n\n{ANSWER['draft']}\n\nBest, Dana", "adopted"),
    ("Hello, could you send us a screenshot of the page?", "ignored"),
])
def test_the_agents_first_public_reply_after_our_note_is_measured_once(body, expected):
    ctx = make_ctx()
    observe.observe_replies(ctx, [reply("an internal aside", public=False),
                                  reply("Customer again: any news?", author=500),
                                  reply("a reply before our note", at=NOW - 3600),
                                  reply(body)])
    row = evaluations.observation(ctx.db, 7, 1, "draft")
    assert row["outcome"] == expected and row["source"] == "reply"
    observe.observe_replies(ctx, [reply(ANSWER["draft"] if expected == "ignored" else "unrelated", at=NOW - 30)])
    assert evaluations.observation(ctx.db, 7, 1, "draft")["outcome"] == expected  # the first reply counts
    shares = observe.live_report(ctx.db)["draft_adoption"]
    assert shares["measured"] == 1 and shares[expected] == 1.0


def test_no_measure_when_the_draft_was_dropped_for_privacy():
    ctx = make_ctx()
    ctx.db["tickets"].update(7, {"answer": json.dumps({k: v for k, v in ANSWER.items() if k != "draft"})})
    observe.observe_replies(ctx, [reply(ANSWER["draft"])])
    assert evaluations.observation(ctx.db, 7, 1, "draft") is None
