"""Contract: the simulator's responses against recorded real ones, key by key and JSON type by type.

The recordings are copies in tests/fixtures/real/anthropic/ (provenance in tests/fixtures/real/SOURCES.md).
Where a recording is older than the API's current error envelope (2024–2025 bodies without
``request_id``; the errors page says every error body now carries it), ``request_id`` is the one key
allowed on top.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

# tests/sim is no package: pytest puts this folder on sys.path (its fixtures come through conftest.py)
from anthropic_fixtures import client_for, raw, real, result_lines, tiny_request, triage_request

from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_diff(sim: Any, rec: Any, path: str = "$", extra_ok: frozenset[str] = frozenset(),
               order: bool = False) -> list[str]:
    """Differences in keys (and key order when asked) and JSON types between ``sim`` and ``rec``."""
    if _kind(sim) != _kind(rec):
        return [f"{path}: {_kind(sim)} in the simulator, {_kind(rec)} recorded"]
    problems: list[str] = []
    if isinstance(rec, dict):
        missing = [k for k in rec if k not in sim]
        extra = [k for k in sim if k not in rec and k not in extra_ok]
        problems += [f"{path}.{k}: missing" for k in missing] + [f"{path}.{k}: not in the recording" for k in extra]
        if order and not missing:
            sim_order = [k for k in sim if k in rec]
            if sim_order != list(rec):
                problems.append(f"{path}: key order {sim_order} != recorded {list(rec)}")
        for key in rec:
            if key in sim:
                problems += shape_diff(sim[key], rec[key], f"{path}.{key}", extra_ok, order)
    elif isinstance(rec, list) and rec and sim:
        for i, item in enumerate(sim):
            problems += shape_diff(item, rec[min(i, len(rec) - 1)], f"{path}[{i}]", extra_ok, order)
    return problems


def _error_from(call: Callable[[], Any]) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as exc:
        call()
    return exc.value


def _ended_batch(client: anthropic.Anthropic, clock: ManualClock, requests: list[dict[str, Any]]) -> str:
    batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    clock.advance(60)
    return batch.id


def test_create_matches_batch_create_json(anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("batch-create.json")
    response = anthropic_client.messages.batches.with_raw_response.create(
        requests=recorded["request"]["body"]["requests"])
    assert response.status_code == recorded["status"] == 200
    body = response.json()
    assert shape_diff(body, recorded["body"], order=True) == []
    assert body["processing_status"] == "in_progress" and body["request_counts"]["processing"] == 2
    assert re.fullmatch(r"msgbatch_01[0-9A-Za-z]{22}", body["id"])
    assert len(body["id"]) == len(recorded["body"]["id"])
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(recorded["body"]["created_at"])
    assert response.headers["content-type"].startswith("application/json")
    assert re.fullmatch(r"req_011C[0-9A-Za-z]{20}", response.headers["request-id"])
    assert len(response.headers["request-id"]) == len(recorded["headers"]["request-id"])


def test_retrieve_ended_matches_batch_retrieve_ended_json(anthropic_client: anthropic.Anthropic,
                                                          anthropic_clock: ManualClock) -> None:
    recorded = real("batch-retrieve-ended.json")
    batch_id = _ended_batch(anthropic_client, anthropic_clock, [tiny_request(f"r{i}") for i in range(4)])
    body = anthropic_client.messages.batches.with_raw_response.retrieve(batch_id).json()
    assert shape_diff(body, recorded["body"], order=True) == []
    assert body["request_counts"] == recorded["body"]["request_counts"]  # 4 succeeded
    assert TIMESTAMP.match(body["ended_at"])
    # recorded: https://api.anthropic.com/v1/messages/batches/{id}/results; ours names our own host
    assert body["results_url"].endswith(f"/v1/messages/batches/{batch_id}/results")
    assert recorded["body"]["results_url"].endswith(f"/v1/messages/batches/{recorded['body']['id']}/results")


def test_cancel_matches_batch_cancel_json(anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("batch-cancel.json")
    batch = anthropic_client.messages.batches.create(requests=[tiny_request("a"), tiny_request("b")])
    body = anthropic_client.messages.batches.with_raw_response.cancel(batch.id).json()
    assert shape_diff(body, recorded["body"], order=True) == []
    assert body["processing_status"] == "canceling"
    assert body["request_counts"] == recorded["body"]["request_counts"]


def test_list_matches_batch_list_json(anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("batch-list.json")
    for _ in range(2):
        anthropic_client.messages.batches.create(requests=[tiny_request("a"), tiny_request("b")])
    body = anthropic_client.messages.batches.with_raw_response.list(limit=1).json()
    assert shape_diff(body, recorded["body"], order=True) == []
    assert body["has_more"] is True and body["first_id"] == body["last_id"] == body["data"][0]["id"]


def test_succeeded_line_matches_batch_results_succeeded_json(anthropic_client: anthropic.Anthropic,
                                                             anthropic_sim: AnthropicSim,
                                                             anthropic_clock: ManualClock) -> None:
    recorded = real("batch-results-succeeded.json")
    wire_order = [json.loads(line) for line in recorded["raw_lines"]]
    batch_id = _ended_batch(anthropic_client, anthropic_clock, [triage_request("t1", "Subject: hi")])
    response = raw(anthropic_sim, "GET", f"/v1/messages/batches/{batch_id}/results")
    assert response.headers["content-type"] == "application/x-jsonl"
    assert response.text.endswith("\n")
    (line,) = result_lines(anthropic_sim, batch_id)
    assert shape_diff(line, wire_order[0], order=True) == []
    message = line["result"]["message"]
    assert re.fullmatch(r"msg_01[0-9A-Za-z]{22}", message["id"])
    assert message["usage"]["service_tier"] == "batch" and message["usage"]["inference_geo"] == "not_available"
    assert message["stop_sequence"] is None and message["type"] == "message"
    # the same line through the SDK's JSONL decoder
    (parsed,) = list(anthropic_client.messages.batches.results(batch_id))
    assert parsed.result.message.id == message["id"]


def test_errored_line_matches_batch_result_errored_line_json(anthropic_client: anthropic.Anthropic,
                                                             anthropic_sim: AnthropicSim,
                                                             anthropic_clock: ManualClock) -> None:
    recorded = real("batch-result-errored-line.json")["body"][0]
    batch_id = _ended_batch(anthropic_client, anthropic_clock,
                            [triage_request("23", "Subject: hi", max_tokens=100_000)])
    (line,) = result_lines(anthropic_sim, batch_id)
    assert shape_diff(line, recorded, order=True) == []
    assert line["result"]["error"]["error"]["message"] == recorded["result"]["error"]["error"]["message"]


@pytest.mark.parametrize(("fault", "error_type"), [("errored_overloaded", "overloaded_error"),
                                                     ("errored_api", "api_error")])
def test_fault_errored_lines_keep_the_envelope(anthropic_client: anthropic.Anthropic, anthropic_sim: AnthropicSim,
                                               anthropic_clock: ManualClock, fault: str, error_type: str) -> None:
    recorded = real("batch-result-errored-line.json")["body"][0]
    anthropic_sim.set_faults(**{fault: 1.0})
    batch_id = _ended_batch(anthropic_client, anthropic_clock, [tiny_request("a")])
    (line,) = result_lines(anthropic_sim, batch_id)
    # details.error_visibility is only recorded on request errors; the rest of the envelope is the same
    inner = dict(recorded["result"]["error"]["error"])
    inner.pop("details")
    expected = {**recorded, "result": {**recorded["result"], "error": {**recorded["result"]["error"], "error": inner}}}
    assert shape_diff(line, expected) == []
    assert line["result"]["error"]["error"]["type"] == error_type


def test_400_matches_error_400_invalid_request_json(anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("error-400-invalid-request.json")
    error = _error_from(lambda: anthropic_client.messages.batches.create(requests=[]))
    assert error.status_code == recorded["status"]
    assert shape_diff(error.body, recorded["body"]) == []
    assert error.response.headers["content-type"] == recorded["headers"]["content-type"]


def test_404_matches_error_404_not_found_json(anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("error-404-not-found-model.json")
    error = _error_from(lambda: anthropic_client.messages.batches.retrieve("msgbatch_01XXXXXXXXXXXXXXXXXXXXXX"))
    assert error.status_code == 404
    assert shape_diff(error.body, recorded["body"]) == []


def test_results_before_end_match_the_recorded_404(anthropic_sim: AnthropicSim,
                                                   anthropic_client: anthropic.Anthropic) -> None:
    recorded = real("batch-results-not-ended-404.json")
    batch = anthropic_client.messages.batches.create(requests=[tiny_request("a")])
    response = raw(anthropic_sim, "GET", f"/v1/messages/batches/{batch.id}/results")
    assert response.status_code == recorded["status"]
    assert shape_diff(response.json(), recorded["body"], extra_ok=frozenset({"request_id"})) == []
    assert response.json()["error"]["message"] == recorded["body"]["error"]["message"].replace(
        "msgbatch_01AHxNhUeZwskhx38tGz1QVj", batch.id)
    assert response.headers["x-should-retry"] == recorded["headers"]["x-should-retry"]


def test_401_matches_error_401_invalid_key_json(anthropic_sim: AnthropicSim) -> None:
    recorded = real("error-401-invalid-key.json")
    client = client_for(anthropic_sim, api_key="invalid_token")
    error = _error_from(lambda: client.messages.batches.create(requests=[tiny_request("a")]))
    assert error.status_code == 401
    assert shape_diff(error.body, recorded["body"], extra_ok=frozenset({"request_id"})) == []
    assert error.body["error"] == recorded["body"]["error"]


def test_429_matches_the_recorded_rate_limit_error(anthropic_sim: AnthropicSim,
                                                   anthropic_client: anthropic.Anthropic) -> None:
    body = real("error-429-rate-limit-issue.json")["body"]
    headers = real("error-429-headers-issue.json")["headers"]
    anthropic_sim.set_faults(create_429=1.0)
    error = _error_from(lambda: anthropic_client.messages.batches.create(requests=[tiny_request("a")]))
    assert error.status_code == 429
    assert shape_diff(error.body, body) == []
    assert error.body["error"] == body["error"]
    assert error.response.headers["x-should-retry"] == headers["x-should-retry"]
    assert error.response.headers["retry-after"].isdigit()  # sent on every 429 since 2024-07 (fixture notes)


def test_529_matches_the_recorded_overloaded_error(anthropic_sim: AnthropicSim,
                                                   anthropic_client: anthropic.Anthropic) -> None:
    body = real("error-529-overloaded-issue.json")["body"]
    anthropic_sim.set_faults(create_529=1.0)
    error = _error_from(lambda: anthropic_client.messages.batches.create(requests=[tiny_request("a")]))
    assert error.status_code == 529
    assert shape_diff(error.body, body, extra_ok=frozenset({"request_id"})) == []
    assert error.body["error"] == body["error"]


def test_413_matches_the_recorded_request_too_large(make_anthropic_sim: Callable[..., AnthropicSim]) -> None:
    recorded = real("error-413-request-too-large-issue.json")
    sim = make_anthropic_sim(max_body_bytes=1000)
    error = _error_from(lambda: client_for(sim).messages.batches.create(
        requests=[triage_request("a", "x" * 2000)]))
    assert error.status_code == 413 and error.body == recorded["body"]


def test_cached_usage_matches_messages_cache_usage_json(anthropic_client: anthropic.Anthropic,
                                                        anthropic_sim: AnthropicSim,
                                                        anthropic_clock: ManualClock) -> None:
    recorded = real("messages-cache-usage.json")["body"]["usage"]
    system = [{"type": "text", "text": "s" * 20000, "cache_control": {"type": "ephemeral", "ttl": "5m"}}]
    batch_id = _ended_batch(anthropic_client, anthropic_clock,
                            [triage_request(f"r{i}", "Subject: hi", system=system) for i in range(2)])
    usages = [line["result"]["message"]["usage"] for line in result_lines(anthropic_sim, batch_id)]
    for usage in usages:
        assert shape_diff(usage, recorded) == []  # key order is not wire order in that recording
        assert usage["cache_creation_input_tokens"] == sum(usage["cache_creation"].values())
    assert sorted(u["cache_read_input_tokens"] for u in usages) == [0, 5000]


def test_structured_output_matches_messages_structured_output_json(anthropic_client: anthropic.Anthropic,
                                                                   anthropic_sim: AnthropicSim,
                                                                   anthropic_clock: ManualClock) -> None:
    recorded = real("messages-structured-output.json")
    params = dict(recorded["request"]["body"])
    params.pop("stream")
    batch_id = _ended_batch(anthropic_client, anthropic_clock, [{"custom_id": "london", "params": params}])
    (line,) = result_lines(anthropic_sim, batch_id)
    message = line["result"]["message"]
    assert shape_diff(message["content"], recorded["body"]["content"]) == []
    text = message["content"][0]["text"]
    answer = json.loads(text)
    assert list(answer) == list(json.loads(recorded["body"]["content"][0]["text"]))  # city, country, population
    assert [_kind(v) for v in answer.values()] == ["string", "string", "integer"]
    assert text == json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
    assert message["stop_reason"] == recorded["body"]["stop_reason"]
    # the recorded 196 input tokens for this prompt; ours is in the same range
    assert 100 <= message["usage"]["input_tokens"] <= 300
