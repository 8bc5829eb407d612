"""The gate every Zendesk call passes (stages/account.py): our share of the account's limit a minute, what the
account has left less the others' pace and a reserve, and always a trickle (issue 23 item 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from zdtriage import config as config_mod
from zdtriage import pipeline, store
from zdtriage import zendesk as zd
from zdtriage.sim.server import ManualClock
from zdtriage.stages import account
from zdtriage.store import pace
from zdtriage.zendesk_limit import limit_headers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "zendesk"
URL = "https://acme.zendesk.com/api/v2/tickets/show_many.json"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_790_000_000.0)


def _ctx(tmp_path, clock, **zendesk) -> pipeline.Context:
    cfg = config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com", **zendesk},
                            "state": {"path": str(tmp_path / "s.db")}},
                           {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"})
    return pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), clock=clock)


def _passes(gate: account.AccountGate, n: int) -> int:
    for i in range(n):
        try:
            gate.before("GET", URL)
        except zd.ZendeskPaced:
            return i
    return n


def test_never_more_than_the_share_of_the_limit_a_minute_shared_by_every_process(tmp_path, clock) -> None:
    ctx = _ctx(tmp_path, clock, account_share=0.25)
    gate = account.AccountGate(ctx)
    gate.observe(400, 400, None)
    assert _passes(gate, 60) == 60
    other_process = account.AccountGate(_ctx(tmp_path, clock, account_share=0.25))  # same state file
    assert _passes(other_process, 100) == 40  # 0.25 of 400, counted across both
    with pytest.raises(zd.ZendeskPaced) as refused:
        gate.before("GET", URL)
    assert isinstance(refused.value, zd.ZendeskRateLimited)  # stages end on it as on a 429
    assert 1 <= refused.value.retry_after <= 60 and "0.25 of 400" in str(refused.value)
    clock.advance(61)
    assert _passes(gate, 1) == 1


def test_before_any_response_the_smallest_plan_is_assumed(tmp_path, clock) -> None:
    gate = account.AccountGate(_ctx(tmp_path, clock))
    assert _passes(gate, 500) == 100  # 0.5 of Team's 200


def test_little_left_slows_down_to_what_remains_minus_the_reserve_then_resumes(tmp_path, clock) -> None:
    gate = account.AccountGate(_ctx(tmp_path, clock))
    gate.observe(700, 8, 30)  # others spent the minute: 8 left, the window refills in 30 s
    assert _passes(gate, 50) == 8 - account.RESERVE
    with pytest.raises(zd.ZendeskPaced) as refused:
        gate.before("GET", URL)
    assert 29 <= refused.value.retry_after <= 30 and "kept for them" in str(refused.value)
    clock.advance(30)  # refilled: never stopped altogether
    assert _passes(gate, 10) == 10


def test_the_others_pace_is_left_to_them_but_a_trickle_always_goes(tmp_path, clock) -> None:
    ctx = _ctx(tmp_path, clock)
    gate = account.AccountGate(ctx)
    gate.observe(200, 80, 30)  # half a minute in, the others spent 120 (we spent none): 240 a minute
    assert pace.last_seen(ctx.db).others_per_minute == pytest.approx(240)
    assert _passes(gate, 50) == account.TRICKLE  # they would spend the 80 left: only the trickle
    clock.advance(30)
    gate.observe(200, 199, 59)  # the next window, 1 s in (too early to measure their pace again)
    assert _passes(gate, 200) == account.TRICKLE  # still a few calls a minute, never none
    clock.advance(10)
    gate.observe(200, 150, 45)  # 15 s in: 50 spent, 3 of them ours: they slowed to 188 a minute
    assert pace.last_seen(ctx.db).others_per_minute == pytest.approx(47 * 4)
    assert _passes(gate, 200) == 150 - round(188 * 45 / 60) - account.RESERVE


def test_status_figures_come_from_the_last_response(tmp_path, clock) -> None:
    ctx = _ctx(tmp_path, clock)
    assert pace.account_limit(ctx.db, clock()) is None
    gate = account.AccountGate(ctx)
    gate.observe(400, 391, 12)  # 48 s into the window, 9 spent by others: about 11 a minute
    _passes(gate, 2)
    clock.advance(7)
    assert pace.account_limit(ctx.db, clock()) == {"limit": 400, "remaining": 391, "age_seconds": 7,
                                                    "used_last_minute": 2, "others_per_minute": 11}


@pytest.mark.parametrize("name, reset", [("ticket-show.json", 37.0), ("ticket-comments-cursor.json", 48.0),
                                         ("ticket-comments-offset-2017.json", None)])
def test_limit_headers_as_recorded(name, reset) -> None:
    headers = json.loads((FIXTURES / name).read_text())["headers"]
    limit, remaining, seen_reset = limit_headers(headers)
    assert (limit, remaining) == (int(headers["x-rate-limit"]), int(headers["x-rate-limit-remaining"]))
    assert seen_reset == reset
    assert limit_headers({"content-type": "application/json"}) is None
    assert limit_headers({"x-rate-limit": "lots", "x-rate-limit-remaining": "1"}) is None


def test_the_metrics_show_the_limit_once_seen(tmp_path, clock) -> None:
    from zdtriage import metrics

    ctx = _ctx(tmp_path, clock)
    m = metrics.Metrics(ctx.config, clock=clock, cache_seconds=0)
    assert "zdtriage_zendesk_rate_limit_remaining" not in m.exposition().decode()  # nothing seen yet: no made-up figure
    gate = account.AccountGate(ctx)
    gate.observe(200, 120, 20)
    _passes(gate, 3)
    clock.advance(4)
    lines = dict(
        line.rsplit(" ", 1) for line in m.exposition().decode().splitlines() if line.startswith("zdtriage_zendesk_")
    )
    assert float(lines["zdtriage_zendesk_rate_limit"]) == 200
    assert float(lines["zdtriage_zendesk_rate_limit_remaining"]) == 120
    assert float(lines["zdtriage_zendesk_rate_limit_age_seconds"]) == 4
    assert float(lines["zdtriage_zendesk_calls_last_minute"]) == 3


def test_status_shows_the_limit_last_seen(tmp_path) -> None:
    import time

    from click.testing import CliRunner

    from zdtriage.cli import cli

    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    account.AccountGate(_ctx(tmp_path, time.time)).observe(400, 37, 30)
    out = CliRunner().invoke(cli, ["--config", str(path), "status"], env={}, catch_exceptions=False).output
    assert re.search(r"Zendesk API limit: 37 of 400 a minute left, seen \d+ s ago", out)
    data = CliRunner().invoke(cli, ["--config", str(path), "status", "--json"], env={}).output
    assert json.loads(data)["zendesk_limit"]["limit"] == 400
