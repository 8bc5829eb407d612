"""iter_results with the results_url the caller's list or retrieve already gave streams it at once: the same results
as the SDK's results(), which retrieves the batch again first to learn the URL (issue 22), and the same errors."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from zdtriage import batches
from zdtriage import config as config_mod
from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock

RESULTS = "GET /v1/messages/batches/{id}/results"
RETRIEVE = "GET /v1/messages/batches/{id}"


def client_for(base_url: str) -> anthropic.Anthropic:
    cfg = config_mod.parse({"zendesk": {"subdomain": "s", "email": "e@example.com"},
                            "anthropic": {"base_url": base_url}},
                           {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "sim-key"})
    return batches.make_client(cfg.anthropic)  # the production client: SDK retries on


def request(custom_id: str) -> dict[str, Any]:
    return {"custom_id": custom_id, "params": {"model": "claude-haiku-4-5", "max_tokens": 256,
                                               "messages": [{"role": "user", "content": "Subject: hi"}]}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock):  # type: ignore[no-untyped-def]
    s = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=60)
    s.start()
    yield s
    s.stop()


def test_the_results_url_is_streamed_without_a_retrieve(sim: AnthropicSim, clock: ManualClock) -> None:
    client = client_for(sim.base_url)
    sim.set_faults(malformed_line=0.2, refusal=0.2)
    created = batches.create_batch(client, [request(f"zt-{n}-1") for n in range(1, 31)])
    clock.advance(61)
    (ended,) = [b for b in batches.list_recent_batches(client, limit=5) if b["id"] == created["id"]]
    before = dict(sim.call_counts())
    direct = list(batches.iter_results(client, created["id"], ended["results_url"]))
    calls = {k: v - before.get(k, 0) for k, v in sim.call_counts().items()}
    assert calls.get(RESULTS) == 1 and not calls.get(RETRIEVE)
    via_sdk = list(batches.iter_results(client, created["id"]))
    key = lambda r: (str(r["custom_id"]), r["type"])  # noqa: E731
    assert len(direct) == 30 and sorted(direct, key=key) == sorted(via_sdk, key=key)
    assert any(r["type"] == "malformed" for r in direct)


def test_a_results_url_answering_404_is_a_batch_error_with_its_status(sim: AnthropicSim, clock: ManualClock) -> None:
    client = client_for(sim.base_url)
    created = batches.create_batch(client, [request("zt-1-1")])
    clock.advance(61)
    url = f"{sim.base_url}/v1/messages/batches/msgbatch_01nothinghere00000000000/results"
    with pytest.raises(batches.BatchError) as info:
        list(batches.iter_results(client, created["id"], url))
    assert info.value.status == 404 and info.value.kind == batches.BATCH
