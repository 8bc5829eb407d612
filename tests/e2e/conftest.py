"""Both simulators on loopback with one manual clock, and a pipeline Context wired to them."""

from __future__ import annotations

import pytest

from zdtriage import batches as anth
from zdtriage import config as config_mod
from zdtriage import pipeline, store
from zdtriage import zendesk as zd
from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.store import tickets as queue

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


@pytest.fixture
def clock():
    return ManualClock(1_790_000_000.0)  # 2026-09-21


@pytest.fixture
def zsim(clock, monkeypatch):
    sim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock)
    sim.start()
    yield sim
    sim.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def asim(clock):
    sim = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=0.0)
    sim.start()
    yield sim
    sim.stop()


def make_config(zsim, asim, tmp_path, clock, **sections):
    raw = {
        "zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": zsim.base_url,
                    "start": "2026-01-01T00:00:00Z", "verify_after": "30s"},
        "anthropic": {"base_url": asim.base_url},
        "state": {"path": str(tmp_path / "state.db")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_mod.parse(raw, ENV)


@pytest.fixture
def make_ctx(zsim, asim, tmp_path, clock, monkeypatch):
    monkeypatch.delenv("ZENPY_FORCE_SCHEME", raising=False)

    def build(**sections):
        cfg = make_config(zsim, asim, tmp_path, clock, **sections)
        return pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), zendesk=zd.make_client(cfg.zendesk),
                                anthropic=anth.make_client(cfg.anthropic), clock=clock)

    return build


@pytest.fixture
def drive():
    return _drive


def _drive(ctx, clock, *, max_rounds=30, step=61.0, settle_rounds=4):
    """Call run_once until the store stops changing (the way `run --once` is meant to be repeated).

    Some rounds change nothing while they wait (a job is looked up only after the next ingest could have
    shown its tickets): the store counts as settled after ``settle_rounds`` rounds without a change.
    """
    previous, quiet = None, 0
    for _ in range(max_rounds):
        pipeline.run_once(ctx)
        clock.advance(step)  # frees the export's per-minute window and lets write jobs complete
        now = (queue.counts(ctx.db), next(ctx.db.query(
            "select count(*) as n from tickets where write_started_at is not null"))["n"])
        quiet = quiet + 1 if now == previous else 0
        if quiet >= settle_rounds - 1:
            return now[0]
        previous = now
    raise AssertionError(f"pipeline still moving after {max_rounds} rounds: {previous}")
