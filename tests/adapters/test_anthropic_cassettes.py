"""integration/zdtriage/batches.py replayed against recorded real Anthropic responses (vcrpy, no network).

Cassettes: tests/cassettes/anthropic_*.yaml, built from tests/fixtures/real/anthropic/ by
tests/cassettes/build_cassettes.py (the mapping is in tests/cassettes/README.md). The SDK runs on
httpx2, which vcrpy 9.4 intercepts. Clients come from ``batches.make_client``; the error cases use
``.with_options(max_retries=0)`` so the SDK does not retry against a one-shot cassette (the pipeline's
own retry decision is what ``BatchError.retryable`` feeds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import anthropic
import pytest
import vcr
import yaml
from vcr.request import Request

from zdtriage import batches
from zdtriage.config import Config

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
NAMES = sorted(p.name for p in CASSETTES.glob("anthropic_*.yaml"))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "anthropic"
ENDED = "msgbatch_011R1x8g28xYbJecnEni5jca"


def cassette_yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def client(cfg: Config) -> anthropic.Anthropic:
    return batches.make_client(cfg.anthropic)


# --- cassette files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_cassette_has_no_credentials(name: str, no_secrets: Callable[[str], None]) -> None:
    no_secrets(name)


def test_cassettes_are_what_the_builder_makes(builder: ModuleType) -> None:
    built = builder.render_all()
    assert NAMES and {n for n in built if n.startswith("anthropic_")} == set(NAMES)
    for name in NAMES:
        assert (CASSETTES / name).read_text(encoding="utf-8") == built[name], f"{name}: differs from a rebuild"


def test_responses_are_the_recorded_ones(builder: ModuleType) -> None:
    """Status and every recorded header unchanged; JSON bodies equal; results lines are raw_lines + the errored line."""
    for sc in builder.SCENARIOS:
        if not sc.name.startswith("anthropic_"):
            continue
        data = cassette_yaml(f"{sc.name}.yaml")
        for step, interaction in zip(sc.steps, data["interactions"], strict=True):
            fx = builder.load_fixture(step.fixture)
            response = interaction["response"]
            assert response["status"]["code"] == fx["status"]
            for key, value in fx["headers"].items():
                assert response["headers"][key.lower()] == [value], (sc.name, key)
            if step.jsonl:
                lines = response["body"]["string"].splitlines()
                assert lines == fx["raw_lines"] + [
                    json.dumps(x, separators=(",", ":")) for x in fixture("batch-result-errored-line.json")["body"]
                ]
                assert response["headers"]["content-type"] == ["application/x-jsonl"]
            else:
                assert json.loads(response["body"]["string"]) == fx["body"]
            assert interaction["request"]["uri"].startswith("https://api.anthropic.com/v1/messages/batches")


# --- batches ---------------------------------------------------------------------------------------


def test_create_batch(client: anthropic.Anthropic, make_replay: Callable[..., vcr.VCR]) -> None:
    """The recorded create request, sent again through our adapter: 200 in_progress, nothing counted yet."""
    sent: list[Request] = []
    replay = make_replay()
    replay.register_matcher("capture", lambda r1, r2: sent.append(r1))
    replay.match_on = (*replay.match_on, "body", "capture")  # the body must be JSON-equal to the recorded one
    requests = fixture("batch-create.json")["request"]["body"]["requests"]
    with replay.use_cassette("anthropic_batch_create.yaml") as cassette:
        batch = batches.create_batch(client, requests)
    assert cassette.all_played
    assert batch == {
        "id": "msgbatch_01UdG5AjbCDxdmiyZTybPbWT",
        "processing_status": "in_progress",
        "request_counts": {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": ts("2026-01-01T00:05:23.250396+00:00"),
        "expires_at": ts("2026-01-02T00:05:23.250396+00:00"),
        "ended_at": None,
        "results_url": None,
    }
    assert batch["expires_at"] - batch["created_at"] == 24 * 3600
    # what left the process: JSON, and no credential once vcrpy's header filter has run
    assert sent and json.loads(sent[0].body) == {"requests": requests}
    assert not {h.lower() for h in sent[0].headers} & {"authorization", "x-api-key", "cookie"}


def test_retrieve_ended_batch(replay: vcr.VCR, client: anthropic.Anthropic) -> None:
    with replay.use_cassette("anthropic_batch_retrieve_ended.yaml") as cassette:
        batch = batches.retrieve_batch(client, ENDED)
    assert cassette.all_played
    assert batch["id"] == ENDED
    assert batch["processing_status"] == "ended"
    assert batch["results_url"] == f"https://api.anthropic.com/v1/messages/batches/{ENDED}/results"
    assert batch["ended_at"] == ts("2025-11-06T17:33:34.132774+00:00")
    assert batch["request_counts"] == {"processing": 0, "succeeded": 4, "errored": 0, "canceled": 0, "expired": 0}


def test_list_recent_batches(replay: vcr.VCR, client: anthropic.Anthropic) -> None:
    with replay.use_cassette("anthropic_batch_list.yaml") as cassette:
        found = batches.list_recent_batches(client, limit=1)
    assert cassette.all_played
    assert [(b["id"], b["processing_status"]) for b in found] == [("msgbatch_01Bqf5LqpeBr1Vh8W9YTENVx", "in_progress")]


def test_iter_results(replay: vcr.VCR, client: anthropic.Anthropic) -> None:
    """The SDK retrieves the batch for its results_url, then streams JSONL: one dict per line, by custom_id."""
    with replay.use_cassette("anthropic_batch_results.yaml") as cassette:
        results = {r["custom_id"]: r for r in batches.iter_results(client, ENDED)}
    assert cassette.all_played and cassette.play_count == 2
    assert list(results) == ["my-first-request", "my-second-request", "23"]

    first = results["my-first-request"]
    assert first["type"] == "succeeded"
    assert first["text"] == "Hello! How can I help you today?"
    assert first["stop_reason"] == "end_turn"
    assert first["model"] == "claude-sonnet-4-5-20250929"
    assert first["usage"]["input_tokens"] == 10 and first["usage"]["output_tokens"] == 12
    assert first["usage"]["service_tier"] == "batch"
    assert first["usage"]["cache_read_input_tokens"] == 0
    assert first["error_type"] is None and first["error_message"] is None
    assert results["my-second-request"]["text"] == "Hello again! Good to see you back. How can I help you today?"
    assert results["my-second-request"]["usage"]["output_tokens"] == 19

    errored = results["23"]
    assert errored["type"] == "errored"
    assert errored["error_type"] == "invalid_request_error"
    assert errored["error_message"].startswith("max_tokens: 100000 > 64000")
    assert errored["text"] is None and errored["usage"] is None


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cassette_name", "status", "retryable", "message"),
    [
        ("anthropic_create_429.yaml", 429, True, "This request would exceed your account's rate limit"),
        ("anthropic_create_529.yaml", 529, True, "Overloaded"),
        ("anthropic_create_400.yaml", 400, False, "This model does not support effort level 'xhigh'"),
        ("anthropic_create_401.yaml", 401, False, "invalid x-api-key"),
    ],
)
def test_create_errors_become_batch_errors(replay: vcr.VCR, client: anthropic.Anthropic, cassette_name: str,
                                           status: int, retryable: bool, message: str) -> None:
    once = client.with_options(max_retries=0)
    with replay.use_cassette(cassette_name) as cassette, pytest.raises(batches.BatchError) as info:
        batches.create_batch(once, [{"custom_id": "t-1", "params": {
            "model": "claude-haiku-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": "hi"}]}}])
    assert cassette.play_count == 1  # one request, no SDK retry
    assert info.value.status == status
    assert info.value.retryable is retryable
    assert str(info.value).startswith(f"Anthropic answered {status}: {message}")


def test_list_recent_batches_reads_the_page_json_as_retrieve_does(replay: vcr.VCR, client: anthropic.Anthropic) -> None:
    """The list is read from its JSON, not the SDK's models (issue 22): the same dict as ``_batch_dict``."""
    with replay.use_cassette("anthropic_batch_list.yaml"):
        [found] = batches.list_recent_batches(client, limit=1)
    assert found == {"id": "msgbatch_01Bqf5LqpeBr1Vh8W9YTENVx", "processing_status": "in_progress",
                     "request_counts": {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
                     "created_at": ts("2025-01-29T14:25:40.914571+00:00"),
                     "expires_at": ts("2025-01-30T14:25:40.914571+00:00"), "ended_at": None, "results_url": None}
