"""Prompt caching inside a batch is best effort, and result faults a client must survive.

Sources: DESIGN §7 ("Caching inside a batch is best effort: requests processed at the same time can each
pay the write"); the batch-processing guide (requests processed concurrently; the 1-hour cache "for
better cache hit rates"); the 2026-09 research note's capture of a two-request batch (one write, one
read). Refusals: Anthropic's "Streaming refusals" page (``stop_reason: "refusal"``, ``stop_details``)
and docs.apiyi.com's measurement (empty content, ``output_tokens: 0``). ``max_tokens``: a cut answer is
unterminated JSON with ``output_tokens == max_tokens`` (DESIGN §7 lists the stop reason). The malformed
line and the out-of-range custom_id are opt-in robustness faults, not recorded behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

# tests/sim is no package: pytest puts this folder on sys.path (its fixtures come through conftest.py)
from anthropic_fixtures import client_for, triage_request

from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock

PREFIX_TOKENS = 4200  # over Haiku 4.5's 4,096 minimum


def cached(custom_id: str, ttl: str = "1h") -> dict[str, Any]:
    system = [{"type": "text", "text": "r" * PREFIX_TOKENS * 4, "cache_control": {"type": "ephemeral", "ttl": ttl}}]
    return triage_request(custom_id, f"Subject: ticket {custom_id}\n\nThe export fails.", system=system)


def run(client: anthropic.Anthropic, clock: ManualClock, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create, let it end, and read the raw result lines (plain JSON: the SDK would choke on some faults)."""
    batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    clock.advance(61)
    response = client.messages.batches.with_raw_response.retrieve(batch.id)
    assert response.parse().processing_status == "ended"
    lines = []
    with client.messages.batches.with_streaming_response.results(batch.id) as stream:
        for raw_line in stream.iter_lines():
            if raw_line:
                lines.append(raw_line)
    return lines  # type: ignore[return-value]


def parsed(lines: list[Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for line in lines:
        item = json.loads(line)
        out[item["custom_id"]] = item["result"]
    return out


# -- caching ----------------------------------------------------------------------------------------------


def test_the_first_wave_of_a_batch_all_pay_the_cache_write(anthropic_client: anthropic.Anthropic,
                                                           anthropic_clock: ManualClock) -> None:
    results = parsed(run(anthropic_client, anthropic_clock, [cached(f"r{i}") for i in range(40)]))
    usages = [r["message"]["usage"] for r in results.values()]
    writes = [u for u in usages if u["cache_creation_input_tokens"]]
    reads = [u for u in usages if u["cache_read_input_tokens"]]
    assert len(writes) == 4 and len(reads) == 36  # 10 waves of 4: the whole first wave writes
    assert {u["cache_creation"]["ephemeral_1h_input_tokens"] for u in writes} == {PREFIX_TOKENS}
    again = parsed(run(anthropic_client, anthropic_clock, [cached(f"s{i}") for i in range(40)]))
    assert all(r["message"]["usage"]["cache_read_input_tokens"] == PREFIX_TOKENS for r in again.values())


def test_a_two_request_batch_writes_once_and_reads_once(anthropic_client: anthropic.Anthropic,
                                                        anthropic_clock: ManualClock) -> None:
    results = parsed(run(anthropic_client, anthropic_clock, [cached("a"), cached("b")]))
    usage = sorted(
        (r["message"]["usage"]["cache_creation_input_tokens"], r["message"]["usage"]["cache_read_input_tokens"])
        for r in results.values()
    )
    assert usage == [(0, PREFIX_TOKENS), (PREFIX_TOKENS, 0)]  # as the live capture saw


def test_cache_waves_is_a_setting(
    make_anthropic_sim: Callable[..., AnthropicSim], anthropic_clock: ManualClock
) -> None:
    sim = make_anthropic_sim(processing_seconds=60, cache_waves=1)  # everything at once: every request writes
    results = parsed(run(client_for(sim), anthropic_clock, [cached(f"r{i}") for i in range(6)]))
    assert all(r["message"]["usage"]["cache_creation_input_tokens"] == PREFIX_TOKENS for r in results.values())
    assert sim.usage_totals()["cache_read_input_tokens"] == 0


# -- answers cut or refused -------------------------------------------------------------------------------


def test_max_tokens_cut_at_a_settable_rate(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic,
                                           anthropic_clock: ManualClock) -> None:
    anthropic_sim.set_faults(max_tokens_cut=1.0)
    results = parsed(run(anthropic_client, anthropic_clock,
                         [triage_request(f"t{i}", "Subject: Charged twice\n\nRefund please.", max_tokens=300)
                          for i in range(3)]))
    for result in results.values():
        message = result["message"]
        assert result["type"] == "succeeded" and message["stop_reason"] == "max_tokens"
        assert message["usage"]["output_tokens"] == 300
        text = message["content"][0]["text"]
        assert text.startswith('{"') and len(text) == 300 * 4
        with pytest.raises(ValueError):
            json.loads(text)
    anthropic_sim.set_faults(max_tokens_cut=0.0)
    fine = parsed(run(anthropic_client, anthropic_clock, [triage_request("t", "Subject: hi", max_tokens=300)]))
    assert fine["t"]["message"]["stop_reason"] == "end_turn"


def test_refusals_at_a_settable_rate(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic,
                                     anthropic_clock: ManualClock) -> None:
    anthropic_sim.set_faults(refusal=0.5)
    results = parsed(
        run(anthropic_client, anthropic_clock, [triage_request(f"t{i}", "Subject: hi") for i in range(40)])
    )
    refused = [r["message"] for r in results.values() if r["message"]["stop_reason"] == "refusal"]
    assert 8 <= len(refused) <= 32
    for message in refused:
        assert message["content"] == [] and message["usage"]["output_tokens"] == 0
        assert message["stop_details"]["type"] == "refusal"
        assert message["usage"]["input_tokens"] > 0  # the input is still billed
    assert all("stop_details" not in r["message"] for r in results.values() if r["message"]["stop_reason"] != "refusal")
    # the SDK still parses a refused line
    batch_id = anthropic_client.messages.batches.list().data[0].id
    sdk = {line.custom_id: line.result for line in anthropic_client.messages.batches.results(batch_id)}
    assert sum(1 for r in sdk.values() if r.message.stop_reason == "refusal") == len(refused)


# -- the results file itself ------------------------------------------------------------------------------


def test_malformed_line_raises_recursion_error_in_json_loads(anthropic_sim: AnthropicSim,
                                                             anthropic_client: anthropic.Anthropic,
                                                             anthropic_clock: ManualClock) -> None:
    anthropic_sim.set_faults(malformed_line=1.0)
    lines = run(anthropic_client, anthropic_clock, [triage_request("zt-7-1", "Subject: hi"),
                                                   triage_request("zt-8-1", "Subject: hi")])
    assert len(lines) == 2
    for line in lines:
        assert line.startswith('{"custom_id":"zt-')
        with pytest.raises(RecursionError):
            json.loads(line)


def test_out_of_range_custom_id(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic,
                                anthropic_clock: ManualClock) -> None:
    anthropic_sim.set_faults(bad_custom_id=1.0)
    results = parsed(run(anthropic_client, anthropic_clock, [triage_request("zt-7-1", "Subject: hi")]))
    [custom_id] = results
    assert custom_id == "zt-" + "9" * 25 + "-1" and int(custom_id.split("-")[1]) > 2**63


def test_line_faults_are_off_by_default(anthropic_sim: AnthropicSim) -> None:
    faults = anthropic_sim.faults()
    assert faults["malformed_line"] == faults["bad_custom_id"] == faults["refusal"] == faults["max_tokens_cut"] == 0.0
