"""evaluate's pure parts and its store: the conversation as triage saw it, the prompt fingerprint, the
evaluation tables, results applied once, and the reservation the budget sees."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zdtriage import budget, evaluate, store
from zdtriage import config as config_mod
from zdtriage.pipeline import Context
from zdtriage.store import evaluations

NOW = 1_790_000_000.0
REQUESTER, AGENT = 10, 20


def comment(author, body, public=True):
    return {"author_id": author, "body": body, "public": public}


def test_the_conversation_is_what_arrived_before_anyone_else_answered():
    ticket = {"requester_id": REQUESTER, "description": "desc"}
    comments = [comment(REQUESTER, "It is broken"), comment(AGENT, "internal: known bug", public=False),
                comment(REQUESTER, "Still broken, 500 errors"), comment(AGENT, "Fixed, closing"),
                comment(REQUESTER, "Thanks!")]
    messages = evaluate.messages_at_arrival(ticket, comments)
    assert [(m.author, m.body) for m in messages] == [
        ("customer", "It is broken"),
        ("customer", "Still broken, 500 errors"),
    ]
    # an agent opening the ticket for the customer: that first message counts, the agent's next does not
    by_agent = evaluate.messages_at_arrival(
        ticket, [comment(AGENT, "Customer called: no login"), comment(AGENT, "Done")]
    )
    assert [(m.author, m.body) for m in by_agent] == [("agent", "Customer called: no login")]
    assert [m.body for m in evaluate.messages_at_arrival(ticket, [])] == ["desc"]


def ctx_for(**sections):
    raw = {"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}, **sections}
    return Context(config=config_mod.parse(raw, {}, need_secrets=False), db=store.open_db(":memory:"),
                   clock=lambda: NOW)


def test_the_fingerprint_changes_with_the_model_or_the_prompt_only():
    base = ctx_for()
    prompt_hash, fp = evaluate.fingerprint(base)
    assert evaluate.fingerprint(ctx_for()) == (prompt_hash, fp)
    other_model = evaluate.fingerprint(ctx_for(anthropic={"model": "claude-sonnet-4-6"}))
    assert other_model[0] == prompt_hash and other_model[1] != fp
    other_lists = evaluate.fingerprint(ctx_for(triage={"categories": ["billing", "other"]}))
    assert other_lists[0] != prompt_hash
    longer = evaluate.fingerprint(ctx_for(anthropic={"max_tokens": 1024}))
    assert longer[0] != prompt_hash
    # a setting the request does not carry is not a prompt change
    assert evaluate.fingerprint(ctx_for(budget={"daily_usd": 5}))[0] == prompt_hash


ITEMS = [{"ticket_id": t, "zd_status": "solved", "raw_priority": "high", "raw_category": None,
          "truth_priority": "P2", "truth_category": None} for t in (5, 6)]


def make(db, **kw):
    args = {"local_id": "L1", "since": "2026-08-01T00:00:00Z", "max_tickets": 500, "model": "claude-haiku-4-5",
            "prompt_hash": "h", "fingerprint": "f", "settings": {}, "subdomain": "acme", "items": ITEMS,
            "reserved_usd": 0.4, "size": 100, **kw}
    return evaluations.create(db, NOW, **args)


def test_an_evaluation_is_stored_with_its_batch_row_before_the_create():
    db = store.open_db(":memory:")
    eid = make(db)
    row = evaluations.get(db, eid)
    assert row["state"] == "creating" and row["batch_id"] is None and row["tickets"] == 2
    assert [i["custom_id"] for i in evaluations.items(db, eid)] == [f"ev-{eid}-5", f"ev-{eid}-6"]
    (batch,) = list(db.query("select * from batches"))
    assert batch["state"] == evaluations.RUNNING_STATE and batch["reserved_usd"] == 0.4
    # the pipeline's poll and crash reconciliation read only their own states
    assert store.batches_in(db, "open") == [] and store.batches_in(db, "creating") == []
    assert evaluations.unfinished(db)["id"] == eid


def test_its_worst_case_is_reserved_until_the_results_are_in():
    db = store.open_db(":memory:")
    cap = config_mod.BudgetConfig(daily_usd=1.0)
    eid = make(db)
    evaluations.started(db, eid, "msgbatch_1", NOW + 86400)
    assert budget.spend(db, NOW).reserved == pytest.approx(0.4)
    assert budget.left(db, cap, NOW) == pytest.approx(0.6)
    assert evaluations.record_result(db, f"ev-{eid}-5", result="answered", ai_priority="P2", ai_category="other",
                                     confidence=0.8, cost_usd=0.01)
    assert not evaluations.record_result(db, f"ev-{eid}-5", result="answered", cost_usd=0.01)  # a replay: once
    evaluations.finish(db, NOW + 60, eid)
    assert budget.spend(db, NOW).reserved == 0 and budget.spend(db, NOW).spent == pytest.approx(0.01)
    assert {i["ticket_id"]: i["result"] for i in evaluations.items(db, eid)} == {5: "answered", 6: "missing"}
    assert evaluations.unfinished(db) is None and [e["id"] for e in evaluations.done(db)] == [eid]


def test_an_abandoned_evaluation_releases_its_reservation():
    db = store.open_db(":memory:")
    eid = make(db)
    evaluations.abandon(db, NOW, eid, "refused")
    assert budget.spend(db, NOW).reserved == 0 and evaluations.get(db, eid)["state"] == "abandoned"


def test_check_budget_names_a_limit_that_fits():
    plan = evaluate.Plan(NOW, 500, [object()] * 100, worst_usd=2.0, budget_left_usd=0.5)  # type: ignore[list-item]
    with pytest.raises(evaluate.EvaluateError, match=r"--limit 25 or less"):
        evaluate.check_budget(plan)
    evaluate.check_budget(replace(plan, budget_left_usd=2.0))
