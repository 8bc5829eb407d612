"""Cost you can trust: budget under a burst, prompt caching, calibrated and exact estimates, alerts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zdtriage import budget, pipeline, prompt, reports
from zdtriage.cli import cli
from zdtriage.pricing import usage_cost
from zdtriage.stages import ingest, poll, submit
from zdtriage.store import tickets as queue

KNOWLEDGE = "\n".join(f"Article {i}: how to reset a password, change a plan, read an invoice, export data. " * 4
                      for i in range(60))  # ~20,000 characters: above Haiku 4.5's 4,096-token minimum


def test_budget_holds_when_a_burst_would_exceed_it(zsim, make_ctx, clock, drive):
    zsim.seed(120, 21)
    ctx = make_ctx(budget={"daily_usd": 0.03})
    ingest.ingest(ctx)
    out = submit.submit(ctx, ignore_min_batch=True)
    assert out["submitted"] > 0 and out["held_for_budget"] > 0
    assert "budget" in out["note"]
    spend = budget.spend(ctx.db, clock())
    assert spend.spent + spend.reserved <= 0.03
    poll.poll(ctx)
    spend = budget.spend(ctx.db, clock())
    # reservations were worst cases: released to the (smaller) actual cost when results arrived
    assert spend.reserved == 0 and 0 < spend.spent <= 0.03
    for _ in range(5):  # more submits the same day never push past the cap
        pipeline.run_once(ctx)
        clock.advance(61)
        spend = budget.spend(ctx.db, clock())
        assert spend.spent + spend.reserved <= 0.03 + 1e-9
    assert queue.counts(ctx.db)["queued"] > 0  # the rest waits for tomorrow
    clock.advance(86400)
    counts = drive(ctx, clock)
    assert counts["queued"] < 120  # a new day frees the budget again


def test_monthly_cap_applies_too(zsim, make_ctx, clock):
    zsim.seed(40, 22)
    ctx = make_ctx(budget={"daily_usd": 0, "monthly_usd": 0.005})
    ingest.ingest(ctx)
    out = submit.submit(ctx, ignore_min_batch=True)
    assert out["held_for_budget"] > 0 and "monthly" in out["note"]


def test_cost_recorded_per_ticket_and_batch_matches_usage(zsim, make_ctx, clock, drive):
    zsim.seed(20, 23)
    ctx = make_ctx()
    drive(ctx, clock)
    total = 0.0
    for row in ctx.db.query("select * from tickets where usage is not null"):
        assert row["cost_usd"] >= usage_cost("claude-haiku-4-5", json.loads(row["usage"])) - 1e-12
        total += row["cost_usd"]
    batch_total = next(ctx.db.query("select sum(cost_usd) as s from batches"))["s"]
    assert batch_total == pytest.approx(total)
    assert reports.report(ctx.db, ctx.config)["cost_usd"] == pytest.approx(total, abs=1e-6)


def test_knowledge_prefix_is_cached_for_an_hour_and_read_back(zsim, asim, make_ctx, clock, drive, tmp_path):
    path = tmp_path / "kb.txt"
    path.write_text(KNOWLEDGE)
    zsim.seed(30, 24)
    ctx = make_ctx(triage={"knowledge_file": str(path)})
    row = {"id": 1, "subject": "s", "description": "d", "requester_id": 1, "triage_n": 1}
    system = submit.build_request(ctx, row)["params"]["system"]
    assert system[0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    drive(ctx, clock)
    usage = asim.usage_totals()
    assert usage["cache_creation_input_tokens"] > 0 and usage["cache_read_input_tokens"] > 0
    rate = reports.report(ctx.db, ctx.config)["cache_hit_rate"]
    assert rate and rate > 0.5


def test_short_prefix_is_not_marked_for_caching(zsim, asim, make_ctx, clock, drive):
    zsim.seed(10, 25)
    ctx = make_ctx()
    row = {"id": 1, "subject": "s", "description": "d", "requester_id": 1, "triage_n": 1}
    assert "cache_control" not in submit.build_request(ctx, row)["params"]["system"][0]
    drive(ctx, clock)
    assert asim.usage_totals()["cache_creation_input_tokens"] == 0


def test_estimate_is_calibrated_from_past_results(zsim, asim, make_ctx, clock, drive):
    zsim.seed(30, 26)
    ctx = make_ctx()
    drive(ctx, clock)
    cal = reports.calibration(ctx.db)
    assert cal["results"] > 0 and 2.0 < cal["chars_per_token"] < 6.0
    assert cal["output_tokens"] > 0


def test_exact_estimate_uses_count_tokens(zsim, asim, make_ctx, clock, tmp_path):
    zsim.seed(8, 27)
    ctx = make_ctx()
    ingest.ingest(ctx)
    queued = queue.counts(ctx.db)["queued"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                   f'[anthropic]\nbase_url = "{asim.base_url}"\n[state]\npath = "{ctx.config.state.path}"\n')
    env = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
    result = CliRunner().invoke(cli, ["--config", str(cfg), "estimate", "--exact", "--per-minute", "100000", "--json"],
                                env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    haiku = next(m for m in data["models"] if m["model"] == "claude-haiku-4-5")
    assert data["exact"] and haiku["tickets"] == queued
    assert asim.call_counts()["POST /v1/messages/count_tokens"] == queued
    assert haiku["output_tokens"] == queued * 512
    offline = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "estimate", "--json"], env=env).output)
    offline_haiku = next(m for m in offline["models"] if m["model"] == "claude-haiku-4-5")
    # the offline figure is within a third of the exact count before any calibration
    assert abs(offline_haiku["input_tokens"] - haiku["input_tokens"]) < haiku["input_tokens"] / 3


def test_batch_open_for_20_hours_raises_an_alert(zsim, asim, make_ctx, clock):
    zsim.seed(3, 28)
    ctx = make_ctx()
    asim.processing_seconds = 23 * 3600
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    clock.advance(21 * 3600)
    assert poll.poll(ctx)["alerts"]
    status = reports.status(ctx.db, ctx.config, clock())
    assert status["alerts"] and "expires at 24 h" in status["alerts"][0]


def test_price_override_and_unknown_model():
    from zdtriage.config import ConfigError, parse

    env = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
    base = {"zendesk": {"subdomain": "a", "email": "a@b.c"}}
    with pytest.raises(ConfigError, match=r"anthropic\.model"):
        parse({**base, "anthropic": {"model": "claude-future-9"}}, env)
    cfg = parse({**base, "anthropic": {"model": "claude-future-9"},
                 "prices": {"claude-future-9": {"input": 2, "output": 10}}}, env)
    assert cfg.price_table()["claude-future-9"].output == 10
    with pytest.raises(ConfigError, match=r"prices\.claude-future-9"):
        parse({**base, "prices": {"claude-future-9": {"input": 2}}}, env)
    assert prompt.CHARS_PER_TOKEN == 4.0
