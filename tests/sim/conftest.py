"""Fixtures for the simulator tests.

Zendesk: ``zendesk_sim`` (a started ``ZendeskSim`` on the ``zendesk_clock`` ManualClock, with
limits high enough to stay out of the way and no recent-change exclusion, so a change is
exported once the clock has moved one second) and ``zenpy_client`` (zenpy pointed at it
through ``ZENPY_FORCE_SCHEME`` / ``ZENPY_FORCE_NETLOC``, set with monkeypatch).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from zenpy import Zenpy

from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim, make_zenpy_env

ZENDESK_EMAIL = "triage-bot@example.com"
ZENDESK_TOKEN = "sim-token"


@pytest.fixture
def zendesk_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def zendesk_sim(zendesk_clock: ManualClock) -> Iterator[ZendeskSim]:
    """A started simulator with generous limits, no recent-change exclusion and a manual clock."""
    sim = ZendeskSim(
        email=ZENDESK_EMAIL,
        token=ZENDESK_TOKEN,
        clock=zendesk_clock,
        export_per_minute=1000,
        rate_per_minute=100_000,
        export_exclude_recent_seconds=0,
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def zenpy_env(monkeypatch: pytest.MonkeyPatch, zendesk_sim: ZendeskSim) -> dict[str, str]:
    """Point zenpy at the simulator for this test only."""
    env = make_zenpy_env(zendesk_sim.base_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def zenpy_client(zenpy_env: dict[str, str]) -> Zenpy:
    """A zenpy client talking to ``zendesk_sim`` (no cache, as the pipeline runs it)."""
    return Zenpy(subdomain="sim", email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, disable_cache=True)


# the Anthropic simulator's fixtures, for every test of this folder (tests/sim is no package: imported by name)
from anthropic_fixtures import (  # noqa: E402, F401  # re-exported as fixtures; pytest finds them here
    anthropic_client,
    anthropic_clock,
    anthropic_sim,
    make_anthropic_sim,
)
