"""The Zendesk adapter against the simulator: the gate hears every response and can stop a request before it is
sent; a 403 on an export names the admin rule (issue 23 items 2 and 8)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from zdtriage import config as config_mod
from zdtriage import zendesk as zd
from zdtriage import zendesk_http
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


@pytest.fixture
def sim(monkeypatch):
    made = []

    def start(**kwargs) -> ZendeskSim:
        s = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=ManualClock(1_790_000_040.0), **kwargs)
        s.start()
        made.append(s)
        return s

    yield start
    for s in made:
        s.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


def _client(s: ZendeskSim, gate=None):
    cfg = config_mod.parse({"zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": s.base_url}}, ENV)
    return zd.make_client(cfg.zendesk, gate=gate)


class Recorder:
    def __init__(self, refuse_after: int | None = None) -> None:
        self.asked: list[tuple[str, str]] = []
        self.seen: list[tuple[int, int, float | None]] = []
        self.refuse_after = refuse_after

    def before(self, method: str, url: str) -> None:
        if self.refuse_after is not None and len(self.asked) >= self.refuse_after:
            raise zd.ZendeskPaced(12.0, "test")
        self.asked.append((method, url))

    def observe(self, limit: int, remaining: int, reset: float | None) -> None:
        self.seen.append((limit, remaining, reset))


def test_an_agents_token_on_the_export_is_told_to_use_an_admin(sim) -> None:
    client = _client(sim(admin=False))
    with pytest.raises(zd.ZendeskAuthError) as refused:
        zd.fetch_ticket_page(client, start_time=1)
    message = str(refused.value)
    assert "exports are for admins only" in message and "\n" not in message
    assert "refused the credentials" not in message  # the token itself works
    with pytest.raises(zd.ZendeskAuthError, match="admins only"):
        zd.fetch_comment_events(client, 1)
    assert zd.fetch_me(client)  # other endpoints answer


def test_a_403_elsewhere_still_names_the_credentials() -> None:
    response = SimpleNamespace(status_code=403, url="https://acme.zendesk.com/api/v2/tickets/1.json", headers={})
    with pytest.raises(zd.ZendeskAuthError, match="refused the credentials"):
        zendesk_http._raise_for_limits(response)


def test_the_gate_is_asked_before_and_told_after_every_call_429s_included(sim) -> None:
    s = sim(plan="team")
    s.add_ticket(subject="a", description="a")
    gate = Recorder()
    client = _client(s, gate)
    zd.fetch_me(client)
    zd.fetch_tickets(client, [1])
    assert zd.fetch_comments(client, 1)
    assert [m for m, _ in gate.asked] == ["GET"] * 3
    assert [(limit, left) for limit, left, _ in gate.seen] == [(200, 199), (200, 198), (200, 197)]
    assert all(reset is not None and 0 < reset <= 60 for _, _, reset in gate.seen)
    for _ in range(197):
        zd.fetch_me(client)
    with pytest.raises(zd.ZendeskRateLimited):
        zd.fetch_me(client)
    assert gate.seen[-1][:2] == (200, 0)  # the 429 told too


def test_a_refused_call_is_never_sent(sim) -> None:
    s = sim()
    client = _client(s, Recorder(refuse_after=1))
    zd.fetch_me(client)
    before = sum(s.call_counts().values())
    with pytest.raises(zd.ZendeskPaced) as refused:
        zd.fetch_tickets(client, [1, 2])
    assert refused.value.retry_after == 12.0 and "pacing" in str(refused.value)
    assert sum(s.call_counts().values()) == before
