"""integration/zdtriage/batches.py against the Anthropic simulator: one create attempt, errors the pipeline can act
on, and a results stream that survives a bad line.

Sources: DESIGN §7 (the SDK retries POSTs with no idempotency key; account refusals say nothing about
the tickets; bad params fail per request), the bodies in zdtriage.sim.anthropic.ACCOUNT_REFUSALS,
and the create-400 wording that names a request (``requests.N.…``, the 2026-09 research note).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from zdtriage import batches
from zdtriage import config as config_mod
from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock

CREATE = "POST /v1/messages/batches"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock):  # type: ignore[no-untyped-def]
    s = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=60, retry_after_seconds=7)
    s.start()
    yield s
    s.stop()


def client_for(base_url: str) -> anthropic.Anthropic:
    cfg = config_mod.parse({"zendesk": {"subdomain": "s", "email": "e@example.com"},
                            "anthropic": {"base_url": base_url}},
                           {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "sim-key"})
    return batches.make_client(cfg.anthropic)  # the production client: SDK retries on (max_retries=2)


def request(custom_id: str, **params: Any) -> dict[str, Any]:
    body = {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "Subject: hi"}]}
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def error_of(client: anthropic.Anthropic, requests: list[Any]) -> batches.BatchError:
    with pytest.raises(batches.BatchError) as info:
        batches.create_batch(client, requests)
    return info.value


def test_create_is_one_attempt_even_on_errors_the_sdk_would_retry(sim: AnthropicSim) -> None:
    client = client_for(sim.base_url)
    assert client.max_retries == 2
    for fault in ("create_529", "create_500", "create_429"):
        sim.set_faults(**{fault: 1.0})
        before = sim.call_counts().get(CREATE, 0)
        exc = error_of(client, [request("zt-1-1")])
        assert sim.call_counts()[CREATE] - before == 1, fault  # no second, possibly billed, batch
        assert exc.retryable is True
        sim.set_faults(**{fault: 0.0})
    assert client.max_retries == 2  # reads keep the client's retries
    batch = batches.create_batch(client, [request("zt-1-1")])
    assert batch["processing_status"] == "in_progress" and sim.requests_seen() == 1


@pytest.mark.parametrize(("refusal", "status"), [
    ("authentication", 401), ("billing", 402), ("permission", 403), ("credit", 400), ("spend_limit", 400),
    ("model", 404), ("rate_limit", 429),
])
def test_account_refusals_are_kind_account(sim: AnthropicSim, refusal: str, status: int) -> None:
    sim.refuse(refusal, retry_after=33)
    exc = error_of(client_for(sim.base_url), [request("zt-1-1"), request("zt-2-1")])
    assert (exc.kind, exc.status) == (batches.ACCOUNT, status)
    assert exc.request_index is None
    assert exc.retry_after == (33.0 if status == 429 else None)
    assert exc.retryable is (status == 429)
    assert str(exc).startswith(f"Anthropic answered {status}: ") and "sim-key" not in str(exc)


def test_transient_errors(sim: AnthropicSim) -> None:
    sim.set_faults(create_529=1.0)
    assert error_of(client_for(sim.base_url), [request("a")]).kind == batches.TRANSIENT
    sim.set_faults(create_529=0.0, create_500=1.0)
    assert error_of(client_for(sim.base_url), [request("a")]).kind == batches.TRANSIENT
    closed = AnthropicSim(api_key="sim-key")
    closed.start()
    url = closed.base_url
    closed.stop()  # nothing listens there any more
    exc = error_of(client_for(url), [request("a")])
    assert exc.kind == batches.TRANSIENT and exc.status is None and exc.retryable


def test_a_400_naming_one_request_carries_its_index(sim: AnthropicSim) -> None:
    client = client_for(sim.base_url)
    exc = error_of(client, [request("zt-1-1"), request("zt-2-1"), request("zt-3-1"), {"custom_id": "zt-4-1"}])
    assert (exc.kind, exc.request_index, exc.status) == (batches.REQUEST, 3, 400)
    assert "requests.3.params: Field required" in str(exc)
    bad_id = error_of(client, [request("zt-1-1"), request("has space")])
    assert (bad_id.kind, bad_id.request_index) == (batches.REQUEST, 1)
    duplicate = error_of(client, [request("zt-1-1"), request("zt-2-1"), request("zt-1-1")])
    assert (duplicate.kind, duplicate.request_index, duplicate.custom_id) == (batches.REQUEST, None, "zt-1-1")
    assert sim.requests_seen() == 0


def test_bad_params_do_not_fail_the_create(sim: AnthropicSim, clock: ManualClock) -> None:
    client = client_for(sim.base_url)
    batch = batches.create_batch(client, [request("zt-1-1", max_tokens=0), request("zt-2-1")])
    clock.advance(61)
    results = {r["custom_id"]: r for r in batches.iter_results(client, batch["id"])}
    assert results["zt-1-1"]["type"] == "errored" and results["zt-1-1"]["error_type"] == "invalid_request_error"
    assert results["zt-2-1"]["type"] == "succeeded"


def test_other_errors_are_kind_batch(sim: AnthropicSim) -> None:
    client = client_for(sim.base_url)
    with pytest.raises(batches.BatchError) as info:
        batches.retrieve_batch(client, "msgbatch_01nothinghere00000000000")
    assert (info.value.kind, info.value.status, info.value.retryable) == (batches.BATCH, 404, False)
    assert error_of(client, []).kind == batches.BATCH  # "requests: List should have at least 1 item"


def test_results_survive_a_malformed_line_and_an_out_of_range_custom_id(sim: AnthropicSim,
                                                                        clock: ManualClock) -> None:
    client = client_for(sim.base_url)
    batch = batches.create_batch(client, [request(f"zt-{n}-1") for n in range(1, 41)])
    clock.advance(61)
    sim.set_faults(malformed_line=0.25, bad_custom_id=0.25)
    results = list(batches.iter_results(client, batch["id"]))
    assert len(results) == 40  # one bad line does not end the stream
    malformed = [r for r in results if r["type"] == "malformed"]
    odd = [r for r in results if r["type"] == "succeeded" and r["custom_id"].startswith("zt-9999999999")]
    assert malformed and odd
    for r in malformed:
        assert r["error_type"] == "malformed_line" and "too deep" in r["error_message"]
        assert r["custom_id"] is not None and r["custom_id"].startswith("zt-")  # as far as the line shows it
        assert r["text"] is None and r["usage"] is None
    good = [r for r in results if r["type"] == "succeeded" and r not in odd]
    assert {r["custom_id"] for r in good} | {r["custom_id"] for r in malformed} <= {f"zt-{n}-1" for n in range(1, 41)}
    assert all(set(r) == set(batches._RESULT_KEYS) for r in results)


def test_results_carry_refusals_and_cut_answers(sim: AnthropicSim, clock: ManualClock) -> None:
    client = client_for(sim.base_url)
    sim.set_faults(refusal=0.5, max_tokens_cut=0.5)
    batch = batches.create_batch(client, [request(f"zt-{n}-1") for n in range(1, 21)])
    clock.advance(61)
    results = list(batches.iter_results(client, batch["id"]))
    by_stop = {r["stop_reason"] for r in results}
    assert by_stop == {"refusal", "max_tokens"}
    for r in results:
        if r["stop_reason"] == "refusal":
            assert r["text"] == "" and r["usage"]["output_tokens"] == 0
        else:
            assert r["usage"]["output_tokens"] == 256 and len(r["text"]) == 256 * 4
        assert r["model"] == "claude-haiku-4-5-20251001"
        assert {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"} <= set(
            r["usage"]
        )


def test_results_of_an_unfinished_batch_are_a_batch_error(sim: AnthropicSim) -> None:
    client = client_for(sim.base_url)
    batch = batches.create_batch(client, [request("zt-1-1")])
    with pytest.raises(batches.BatchError):
        list(batches.iter_results(client, batch["id"]))
