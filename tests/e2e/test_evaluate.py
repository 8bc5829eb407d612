"""``zdtriage evaluate`` against both simulators: read-only in Zendesk, truth as agents left it, the spend in
the budget, stored before the batch is created and resumed after an interruption."""

from __future__ import annotations

import pytest

from zdtriage import budget, evaluate, quality
from zdtriage.sim import corpus
from zdtriage.store import evaluations

SINCE_DAYS = 90


def settings(triage):
    return quality.Settings(
        corpus.CATEGORY_FIELD_ID, corpus.CATEGORY_MAP, quality.default_priority_map(triage.priorities)
    )


def writes(zsim):
    return {k: v for k, v in zsim.call_counts().items()
            if k.split()[0] in ("PUT", "POST", "DELETE") and "/_sim/" not in k}


@pytest.fixture
def sent(monkeypatch):
    """Every request evaluate sends (the real create still runs)."""
    seen: list[dict] = []
    real = evaluate.anth.create_batch

    def spy(client, requests):
        seen.extend(requests)
        return real(client, requests)

    monkeypatch.setattr(evaluate.anth, "create_batch", spy)
    return seen


def run(ctx, clock, *, since=True, confirm=True, sleep=None, limit=500):
    return evaluate.run(ctx, settings(ctx.config.triage), since=clock() - SINCE_DAYS * 86400 if since else None,
                        limit=limit, confirm=lambda plan: confirm, sleep=sleep or clock.advance, poll_every=30)


def test_evaluate_writes_nothing_to_zendesk_and_compares_with_what_agents_set(zsim, asim, make_ctx, clock, sent):
    zsim.seed(40, 1)  # open tickets: not part of an evaluation
    zsim.seed(90, 2, history=True)
    before, calls, updates = zsim.snapshot(), writes(zsim), zsim.stats()["ticket_updates"]
    ctx = make_ctx()
    result = run(ctx, clock)

    assert writes(zsim) == calls == {} and zsim.stats()["ticket_updates"] == updates
    assert zsim.snapshot() == before
    expected = {t["id"]: t for t in before if t["status"] in ("solved", "closed") and "no_ai" not in t["tags"]}
    rows = evaluations.items(ctx.db, result["evaluation"]["id"])
    assert {r["ticket_id"] for r in rows} == set(expected) and len(rows) > 80
    assert {r["custom_id"] for r in rows} == {q["custom_id"] for q in sent}
    pmap = quality.default_priority_map(ctx.config.triage.priorities)
    for r in rows:  # the truth is the simulator's native fields, mapped
        t = expected[r["ticket_id"]]
        fields = {f["id"]: f["value"] for f in t["custom_fields"]}
        assert r["truth_priority"] == (pmap[t["priority"]] if t["priority"] else None)
        assert r["truth_category"] == corpus.CATEGORY_MAP.get(fields.get(corpus.CATEGORY_FIELD_ID))
    view = result["evaluation"]
    answered = [r for r in rows if r["result"] == "answered" and r["truth_priority"]]
    assert view["priority"]["compared"] == len(answered)
    assert view["priority"]["correct"] == sum(r["truth_priority"] == r["ai_priority"] for r in answered)
    assert view["cost_usd"] > 0 and view["worst"][0]["url"].startswith("https://sim.zendesk.com/agent/tickets/")


def test_the_conversation_sent_stops_before_the_agents_solution(zsim, make_ctx, clock, sent):
    zsim.seed(30, 4, history=True)
    run(make_ctx(), clock)
    texts = [q["params"]["messages"][0]["content"] for q in sent]
    assert texts and not any("marking the ticket as solved" in t or "Ich schließe das Ticket" in t for t in texts)


def test_its_batch_counts_in_the_budget_and_the_spend(zsim, make_ctx, clock):
    zsim.seed(30, 5, history=True)
    ctx = make_ctx()
    view = run(ctx, clock)["evaluation"]
    (batch,) = list(ctx.db.query("select * from batches"))
    assert batch["state"] == "collected" and batch["batch_id"] == view["batch_id"]
    assert batch["cost_usd"] == pytest.approx(view["cost_usd"], abs=1e-6)  # the view rounds to 6 decimals
    assert budget.spend(ctx.db, clock()).spent == pytest.approx(view["cost_usd"], abs=1e-6)


def test_over_budget_is_refused_before_anything_is_sent(zsim, asim, make_ctx, clock):
    zsim.seed(60, 6, history=True)
    ctx = make_ctx(budget={"daily_usd": 0.01})
    with pytest.raises(evaluate.EvaluateError, match=r"--limit \d+"):
        run(ctx, clock)
    assert asim.batches() == [] and list(ctx.db.query("select * from evaluations")) == []


def test_declined_estimate_sends_and_stores_nothing(zsim, asim, make_ctx, clock):
    zsim.seed(20, 7, history=True)
    ctx = make_ctx()
    assert run(ctx, clock, confirm=False) is None
    assert asim.batches() == [] and list(ctx.db.query("select * from evaluations")) == []


def test_an_interrupted_evaluation_is_resumed_and_never_sent_twice(zsim, asim, make_ctx, clock):
    zsim.seed(25, 8, history=True)
    asim.processing_seconds = 600.0
    ctx = make_ctx()

    def interrupt(_seconds):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(ctx, clock, sleep=interrupt)
    pending = evaluations.unfinished(ctx.db)
    assert pending["state"] == "running" and pending["batch_id"]
    assert pending["estimate_usd"] > 0
    assert budget.spend(ctx.db, clock()).reserved == pytest.approx(pending["estimate_usd"])
    result = run(ctx, clock, since=False)
    assert len(asim.batches()) == 1 and result["evaluation"]["id"] == pending["id"]
    assert result["evaluation"]["answered"] == pending["tickets"]
    assert budget.spend(ctx.db, clock()).reserved == 0


def test_a_create_whose_answer_was_lost_is_found_in_the_batch_list(zsim, asim, make_ctx, clock, monkeypatch):
    zsim.seed(25, 9, history=True)
    ctx = make_ctx()
    real = evaluations.started

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # killed between the create call and recording its id

    monkeypatch.setattr(evaluations, "started", crash)
    with pytest.raises(KeyboardInterrupt):
        run(ctx, clock)
    assert evaluations.unfinished(ctx.db)["state"] == "creating"
    monkeypatch.setattr(evaluations, "started", real)
    result = run(ctx, clock, since=False)
    assert len(asim.batches()) == 1 and result["evaluation"]["batch_id"] == asim.batches()[0]["id"]


def test_a_create_that_never_landed_is_given_up(zsim, asim, make_ctx, clock, monkeypatch):
    zsim.seed(10, 10, history=True)
    ctx = make_ctx()

    def lost(client, requests):
        raise evaluate.anth.BatchError("cannot reach Anthropic: APITimeoutError", retryable=True)

    monkeypatch.setattr(evaluate.anth, "create_batch", lost)
    with pytest.raises(evaluate.EvaluateError, match="run `zdtriage evaluate` again"):
        run(ctx, clock)
    with pytest.raises(evaluate.EvaluateError, match="given up"):
        run(ctx, clock, since=False)
    assert evaluations.unfinished(ctx.db) is None and asim.batches() == []
    assert budget.spend(ctx.db, clock()).reserved == 0


def test_the_demo_ends_with_an_evaluation_of_the_solved_history(zsim, make_ctx, clock):
    from zdtriage import demo

    zsim.seed(20, 14)
    zsim.seed(40, 14, history=True)
    view, wrote = demo._evaluate(make_ctx(), zsim, quiet=True)
    solved = [t for t in zsim.snapshot() if t["status"] in ("solved", "closed") and "no_ai" not in t["tags"]]
    assert wrote == {} and view["tickets"] == len(solved) and view["category"]["compared"] > 30
    assert "category (from 6130830360001)" in quality.render(view)


def test_a_ticket_deleted_after_the_export_listed_it_is_left_out(zsim, make_ctx, clock, monkeypatch):
    zsim.seed(12, 15, history=True)
    real = evaluate.zd.fetch_comments
    victim = next(t["id"] for t in zsim.snapshot() if "no_ai" not in t["tags"])

    def deleting(client, ticket_id):
        if ticket_id == victim:
            zsim.delete_ticket(victim)  # between the export page and its comments call
        return real(client, ticket_id)

    monkeypatch.setattr(evaluate.zd, "fetch_comments", deleting)
    shown = []
    ctx = make_ctx()
    result = evaluate.run(ctx, settings(ctx.config.triage), since=clock() - SINCE_DAYS * 86400,
                          confirm=lambda plan: shown.append(evaluate.describe(plan, "m")) or True, sleep=clock.advance)
    assert victim not in {i["ticket_id"] for i in evaluations.items(ctx.db, result["evaluation"]["id"])}
    assert "1 deleted meanwhile" in shown[0] and result["evaluation"]["tickets"] > 5


def test_a_ticket_whose_request_cannot_be_built_is_left_out(zsim, make_ctx, clock, monkeypatch):
    zsim.seed(12, 17, history=True)
    real = evaluate.prompt.request_params
    odd = zsim.snapshot()[0]["subject"]

    def fragile(subject, *args, **kwargs):
        if subject == odd:
            raise ValueError("odd data")
        return real(subject, *args, **kwargs)

    monkeypatch.setattr(evaluate.prompt, "request_params", fragile)
    shown = []
    ctx = make_ctx()
    result = evaluate.run(ctx, settings(ctx.config.triage), since=clock() - SINCE_DAYS * 86400,
                          confirm=lambda plan: shown.append(plan.left_out) or True, sleep=clock.advance)
    assert shown[0]["unreadable"] >= 1 and result["evaluation"]["tickets"] > 5
