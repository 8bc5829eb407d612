"""Fixtures and helpers for the Anthropic simulator tests (imported by test_anthropic_*.py).

Kept out of tests/sim/conftest.py, which the Zendesk simulator tests own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock

API_KEY = "sim-key"
REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "anthropic"

PRIORITIES = ["P1", "P2", "P3", "P4"]
CATEGORIES = ["billing", "technical", "account", "feature-request", "other"]
SENTIMENTS = ["positive", "neutral", "negative", "angry"]
TRIAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "priority": {"type": "string", "enum": PRIORITIES},
        "category": {"type": "string", "enum": CATEGORIES},
        "sentiment": {"type": "string", "enum": SENTIMENTS},
        "language": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "draft": {"type": "string"},
    },
    "required": ["priority", "category", "sentiment", "language", "confidence", "draft"],
    "additionalProperties": False,
}


def real(name: str) -> dict[str, Any]:
    """A recorded real response from tests/fixtures/real/anthropic/."""
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def triage_request(custom_id: str, ticket: str, model: str = "claude-haiku-4-5", max_tokens: int = 1024,
                   schema: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    """One batch request as the pipeline would build it: system prompt, the ticket, a JSON schema."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": "You triage customer support tickets. Answer with the JSON object only.",
        "messages": [{"role": "user", "content": ticket}],
        "output_config": {"format": {"type": "json_schema", "schema": schema or TRIAGE_SCHEMA}},
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def tiny_request(custom_id: str) -> dict[str, Any]:
    return {"custom_id": custom_id,
            "params": {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}}


def raw(sim: AnthropicSim, method: str, path: str, *, headers: dict[str, str] | None = None,
        **kwargs: Any) -> httpx2.Response:
    """A plain HTTP call, for what the SDK cannot send (no anthropic-version header, raw JSONL, /_sim/)."""
    base = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    if headers is not None:
        base = headers
    with httpx2.Client(base_url=sim.base_url, timeout=30) as client:
        return client.request(method, path, headers=base, **kwargs)


def result_lines(sim: AnthropicSim, batch_id: str) -> list[dict[str, Any]]:
    """The results file as parsed JSON lines, in file order."""
    response = raw(sim, "GET", f"/v1/messages/batches/{batch_id}/results")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


@pytest.fixture
def anthropic_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_anthropic_sim(anthropic_clock: ManualClock) -> Iterator[Callable[..., AnthropicSim]]:
    """Start simulators with custom settings (ManualClock unless ``clock=`` is given); all stopped after."""
    started: list[AnthropicSim] = []

    def make(**kwargs: Any) -> AnthropicSim:
        kwargs.setdefault("clock", anthropic_clock)
        kwargs.setdefault("api_key", API_KEY)
        sim = AnthropicSim(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def anthropic_sim(make_anthropic_sim: Callable[..., AnthropicSim]) -> AnthropicSim:
    """A started simulator on a ManualClock whose batches end 60 s after creation."""
    return make_anthropic_sim(processing_seconds=60)


def client_for(sim: AnthropicSim, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("api_key", API_KEY)
    return anthropic.Anthropic(base_url=sim.base_url, max_retries=0, **kwargs)


@pytest.fixture
def anthropic_client(anthropic_sim: AnthropicSim) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK pointed at ``anthropic_sim``, no retries."""
    client = client_for(anthropic_sim)
    yield client
    client.close()
