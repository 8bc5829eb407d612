"""quality: the mapping of agents' values onto the configured ones, the metrics' arithmetic, the worst
disagreements, the side-by-side view and the draft similarity thresholds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from zdtriage import observe, quality
from zdtriage.config import TriageConfig

TRIAGE = TriageConfig()
P = TRIAGE.priorities


def cfg(**evaluate):
    return SimpleNamespace(triage=TRIAGE, evaluate=SimpleNamespace(**evaluate) if evaluate else None)


def item(ticket_id, agent_p, ai_p, agent_c=None, ai_c="billing", *, result="answered", confidence=0.9,
         raw_p="x", raw_c=None):
    return {"ticket_id": ticket_id, "result": result, "truth_priority": agent_p, "ai_priority": ai_p,
            "truth_category": agent_c, "ai_category": ai_c, "confidence": confidence,
            "raw_priority": raw_p if agent_p else None, "raw_category": raw_c, "cost_usd": 0.001}


# -- mapping -----------------------------------------------------------------------------


def test_default_priority_map_follows_the_configured_order():
    assert quality.default_priority_map(P) == {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}
    assert quality.default_priority_map(("hot", "warm", "cold")) == {"urgent": "hot", "high": "warm",
                                                                     "normal": "warm", "low": "cold"}
    assert quality.default_priority_map(("now", "later")) == {"urgent": "now", "high": "now", "normal": "later",
                                                              "low": "later"}


def test_settings_default_to_priority_only():
    s = quality.settings_from(cfg())
    assert s.category_field is None and s.category_map == {}
    assert s.priority_map["urgent"] == "P1"
    assert quality.truth({"priority": "high", "type": "incident"}, s, TRIAGE) == {
        "raw_priority": "high", "raw_category": None, "truth_priority": "P2", "truth_category": None}


def test_a_partial_priority_map_overrides_only_what_it_names():
    s = quality.settings_from(cfg(priority_map={"High": "P1"}))
    assert s.priority_map == {"urgent": "P1", "high": "P1", "normal": "P3", "low": "P4"}


@pytest.mark.parametrize("evaluate, key", [
    ({"category_map": {"bug_report": "bugs"}}, "evaluate.category_map"),
    ({"priority_map": {"urgent": "P0"}}, "evaluate.priority_map"),
    ({"priority_map": {"critical": "P1"}}, "evaluate.priority_map"),
    ({"category_field": "form"}, "evaluate.category_field"),
    ({"category_field": True}, "evaluate.category_field"),
])
def test_bad_settings_are_one_line_naming_the_key(evaluate, key):
    with pytest.raises(quality.QualityError) as exc:
        quality.settings_from(cfg(**evaluate))
    assert str(exc.value).startswith(key) and "\n" not in str(exc.value)


def test_category_from_the_ticket_type_through_the_map():
    s = quality.settings_from(cfg(category_field="type", category_map={"incident": "technical", "task": "account"}))
    assert quality.truth({"type": "incident"}, s, TRIAGE)["truth_category"] == "technical"
    assert quality.truth({"type": "task"}, s, TRIAGE)["truth_category"] == "account"
    unmapped = quality.truth({"type": "question"}, s, TRIAGE)
    assert unmapped["raw_category"] == "question" and unmapped["truth_category"] is None
    assert quality.truth({"type": None}, s, TRIAGE)["raw_category"] is None


def test_category_from_a_custom_field_in_either_shape():
    s = quality.settings_from(cfg(category_field="360001", category_map={"bug_report": "technical"}))
    assert s.category_field == 360001
    export = {"custom_fields": [{"id": 99, "value": "billing"}, {"id": 360001, "value": "bug_report"}]}
    assert quality.truth(export, s, TRIAGE)["truth_category"] == "technical"
    assert quality.truth({"custom_fields": {360001: "bug_report"}}, s, TRIAGE)["truth_category"] == "technical"
    # a value spelled like a configured category needs no map entry; case, "_", "-" and spaces do not matter
    assert quality.truth({"custom_fields": [{"id": 360001, "value": "Feature_Request"}]}, s,
                         TRIAGE)["truth_category"] == "feature-request"
    # a multi-select with one value is that value; with several it is no truth
    assert (
        quality.truth({"custom_fields": [{"id": 360001, "value": ["billing"]}]}, s, TRIAGE)["truth_category"]
        == "billing"
    )
    assert quality.truth({"custom_fields": [{"id": 360001, "value": ["billing", "other"]}]}, s,
                         TRIAGE)["raw_category"] is None


# -- arithmetic --------------------------------------------------------------------------

ITEMS = [
    item(1, "P1", "P1"), item(2, "P1", "P1"), item(3, "P1", "P2"),  # agents' P1: 3, AI found 2
    item(4, "P2", "P1"),  # an AI P1 agents did not give
    item(5, "P2", "P2"), item(6, "P3", "P3"), item(7, "P3", "P4"), item(8, "P4", "P4"),
    item(9, None, "P2", raw_p=None),  # no priority set by the agent
    item(10, "P1", None, result="invalid"),  # no answer: not compared
]


def test_confusion_matrix_and_accuracy_count_by_hand():
    m = quality.field_metrics(ITEMS, "priority", P)
    assert m["matrix"]["P1"] == {"P1": 2, "P2": 1, "P3": 0, "P4": 0}
    assert m["matrix"]["P2"] == {"P1": 1, "P2": 1, "P3": 0, "P4": 0}
    assert m["matrix"]["P3"] == {"P1": 0, "P2": 0, "P3": 1, "P4": 1}
    assert m["matrix"]["P4"] == {"P1": 0, "P2": 0, "P3": 0, "P4": 1}
    assert (m["compared"], m["correct"], m["accuracy"], m["no_truth"]) == (8, 5, 0.625, 1)
    assert sum(sum(r.values()) for r in m["matrix"].values()) == m["compared"]


def test_precision_and_recall_of_the_most_urgent_priority():
    m = quality.field_metrics(ITEMS, "priority", P)
    pr = quality.precision_recall(m["matrix"], "P1")
    assert (pr["predicted"], pr["actual"]) == (3, 3)
    assert pr["precision"] == round(2 / 3, 4) and pr["recall"] == round(2 / 3, 4)
    none = quality.precision_recall(quality.field_metrics([item(1, "P3", "P3")], "priority", P)["matrix"], "P1")
    assert none["precision"] is None and none["recall"] is None


def test_unmapped_values_are_counted_not_guessed():
    items = [item(1, "P1", "P1", "billing", "billing", raw_c="billing_q"),
             item(2, "P1", "P1", None, "billing", raw_c="gadgets"), item(3, "P1", "P1", None, "other", raw_c="gadgets"),
             item(4, "P1", "P1", None, "other", raw_c=None)]
    m = quality.field_metrics(items, "category", TRIAGE.categories)
    assert (m["compared"], m["no_truth"], m["unmapped"]) == (1, 3, {"gadgets": 2})


def test_worst_disagreements_rank_by_distance_then_confidence_with_links():
    items = [item(1, "P1", "P4", "billing", "billing", confidence=0.5),  # 3 levels apart
             item(2, "P1", "P4", "billing", "technical", confidence=0.4),  # 3 levels and the category: 4
             item(3, "P2", "P3", "billing", "billing", confidence=0.99),  # 1
             item(4, "P2", "P3", "billing", "billing", confidence=0.6),  # 1, less sure
             item(5, "P2", "P2", "billing", "billing"),  # agreement: never listed
             item(6, "P1", None, result="errored")]
    out = quality.worst(items, P, "acme", n=3)
    assert [w["ticket_id"] for w in out] == [2, 1, 3]
    assert out[0]["url"] == "https://acme.zendesk.com/agent/tickets/2" and out[0]["severity"] == 4
    assert out[0]["category"] == {"agent": "billing", "ai": "technical"}


def summary_of(eid, model, items, *, category_field=360001):
    row = {"id": eid, "state": "done", "since": "2026-08-01T00:00:00Z", "created_at": "x", "finished_at": "y",
           "model": model, "prompt_hash": f"hash{eid}", "fingerprint": f"f{eid}", "subdomain": "acme",
           "estimate_usd": 1.0, "settings": f'{{"category_field": {category_field or "null"}}}'}
    return quality.summary(row, items, TRIAGE)


def test_summary_costs_per_answered_ticket_and_leaves_category_out_without_a_source():
    view = summary_of(1, "claude-haiku-4-5", ITEMS, category_field=None)
    assert view["category"] is None and view["answered"] == 9 and view["no_answer"] == {"invalid": 1}
    assert view["cost_usd"] == 0.01 and view["cost_per_ticket_usd"] == round(0.01 / 9, 6)
    assert "category: not evaluated" in quality.render(view)


def test_side_by_side_shows_both_evaluations_in_order():
    old = summary_of(
        1, "claude-haiku-4-5", [item(1, "P1", "P2", "billing", "billing"), item(2, "P2", "P2", "billing", "other")]
    )
    new = summary_of(
        2, "claude-sonnet-4-6", [item(1, "P1", "P1", "billing", "billing"), item(2, "P2", "P2", "billing", "billing")]
    )
    text = quality.render_side_by_side(new, old)
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert lines["model"].index("claude-haiku-4-5") < lines["model"].index("claude-sonnet-4-6")
    accuracy = lines["priority accuracy"].split()
    assert accuracy[-2:] == ["50.0%", "100.0%"]
    assert lines["category accuracy"].split()[-2:] == ["50.0%", "100.0%"]
    assert "#1" in text and "#2" in text


# -- draft similarity --------------------------------------------------------------------

DRAFT = ("Thanks for letting us know about the duplicate charge on invoice INV-123. I have asked our billing "
         "team to refund the second payment; you will see it on your card within five working days.")


def test_similarity_thresholds():
    assert observe.adoption(observe.similarity(DRAFT, DRAFT)) == "adopted"
    signed = f"Hi Sarah,\n\n{DRAFT}\n\nBest,\nDana"
    assert observe.adoption(observe.similarity(DRAFT, signed)) == "adopted"
    half = DRAFT.split(";")[0] + ". Could you send us the last four digits of the card so we can find it?"
    assert observe.adoption(observe.similarity(DRAFT, half)) == "edited"
    other = "Hello, could you send a screenshot of the error and the time it happened? Thanks, Dana"
    assert observe.adoption(observe.similarity(DRAFT, other)) == "ignored"
    assert observe.similarity(DRAFT, "") == 0.0
    assert (observe.ADOPTED, observe.EDITED) == (0.80, 0.40)  # the thresholds the README documents
