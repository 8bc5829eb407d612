"""Refusals of the account on batch create, as settable faults (set and cleared by one call).

Sources, per refusal (also in ``zdtriage.sim.anthropic.ACCOUNT_REFUSALS``): 401 recorded on this
endpoint (error-401-invalid-key.json); 402 billing_error and 403 permission_error from the Errors page
of the API docs; the 400 "credit balance is too low" quoted from live errors (openclaw/openclaw#48526,
anthropics/anthropic-sdk-python#1646); the spend-limit 400 (NousResearch/hermes-agent#80553); the 404
model body (error-404-not-found-model.json); the 429 body (error-429-rate-limit-issue.json) and its
retry-after. DESIGN §7: none of them says anything about the tickets in the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

# tests/sim is no package: pytest puts this folder on sys.path (its fixtures come through conftest.py)
from anthropic_fixtures import client_for, raw, real, tiny_request

from zdtriage.sim.anthropic import ACCOUNT_REFUSALS, CODED_REFUSALS, RESULTS_LATE_SECONDS, AnthropicSim
from zdtriage.sim.server import ManualClock

CREDIT = ("Your credit balance is too low to access the Anthropic API. "
          "Please go to Plans & Billing to upgrade or purchase credits.")


def _create(client: anthropic.Anthropic, n: int = 2) -> Any:
    return client.messages.batches.create(requests=[tiny_request(f"r{i}") for i in range(n)])  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "status", "error_type", "message", "sdk_error"), [
    ("authentication", 401, "authentication_error", "invalid x-api-key", anthropic.AuthenticationError),
    ("billing", 402, "billing_error", "There's an issue with your billing or payment information.",
     anthropic.APIStatusError),
    ("permission", 403, "permission_error", "Your API key does not have permission to use the specified resource.",
     anthropic.PermissionDeniedError),
    ("credit", 400, "invalid_request_error", CREDIT, anthropic.BadRequestError),
    ("model", 404, "not_found_error", "model: claude-haiku-4-5", anthropic.NotFoundError),
    ("rate_limit", 429, "rate_limit_error",
     "This request would exceed your account's rate limit. Please try again later.", anthropic.RateLimitError),
])
def test_each_refusal_until_cleared(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic, kind: str,
                                    status: int, error_type: str, message: str, sdk_error: type) -> None:
    anthropic_sim.refuse(kind, retry_after=42)
    for _ in range(2):  # it holds: an account problem does not go away by retrying
        with pytest.raises(sdk_error) as exc:
            _create(anthropic_client)
        assert exc.value.status_code == status
        body = exc.value.body
        assert body["type"] == "error" and body["request_id"].startswith("req_")
        assert body["error"] == {"type": error_type, "message": message}
    assert (exc.value.response.headers.get("retry-after") == "42") is (status == 429)
    assert anthropic_sim.requests_seen() == 0 and anthropic_sim.batches() == []
    anthropic_sim.clear_refusal()
    assert _create(anthropic_client).request_counts.processing == 2


def test_recorded_bodies_where_recorded(anthropic_sim: AnthropicSim) -> None:
    for kind, name in (("authentication", "error-401-invalid-key.json"), ("model", "error-404-not-found-model.json"),
                       ("rate_limit", "error-429-rate-limit-issue.json")):
        anthropic_sim.refuse(kind)
        response = raw(anthropic_sim, "POST", "/v1/messages/batches",
                       json={"requests": [tiny_request("a")]},
                       headers={"x-api-key": "sim-key", "anthropic-version": "2023-06-01"})
        recorded = real(name)
        assert response.status_code == recorded["status"]
        assert response.json()["error"]["type"] == recorded["body"]["error"]["type"]
        if kind != "model":  # the 404 names the model of the request
            assert response.json()["error"]["message"] == recorded["body"]["error"]["message"]
        assert set(recorded["body"]) <= set(response.json())  # every recorded key (request_id where recorded)


def test_spend_limit_is_a_400_naming_the_date_access_returns(make_anthropic_sim: Callable[..., AnthropicSim]) -> None:
    clock = ManualClock(1_790_000_000.0)  # 2026-09-21
    sim = make_anthropic_sim(clock=clock)
    sim.refuse("spend_limit")
    with pytest.raises(anthropic.BadRequestError) as exc:
        _create(client_for(sim))
    assert exc.value.body["error"]["message"] == ("You have reached your specified API usage limits. "
                                                  "You will regain access on 2026-10-01")


def test_a_revoked_key_refuses_every_call_not_only_creates(anthropic_sim: AnthropicSim,
                                                            anthropic_client: anthropic.Anthropic) -> None:
    batch = _create(anthropic_client)
    anthropic_sim.refuse("authentication")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client.messages.batches.retrieve(batch.id)
    anthropic_sim.refuse("billing")
    assert anthropic_client.messages.batches.retrieve(batch.id).id == batch.id  # reads still work


def test_set_and_cleared_over_http(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic) -> None:
    on = raw(anthropic_sim, "PUT", "/_sim/account", json={"refuse": "credit"}, headers={})
    assert on.status_code == 200 and on.json() == {"refuse": "credit"}
    with pytest.raises(anthropic.BadRequestError):
        _create(anthropic_client)
    off = raw(anthropic_sim, "DELETE", "/_sim/account", headers={})
    assert off.json() == {"refuse": None}
    assert _create(anthropic_client).processing_status == "in_progress"
    bad = raw(anthropic_sim, "PUT", "/_sim/account", json={"refuse": "gremlins"}, headers={})
    assert bad.status_code == 400 and "unknown refusal" in bad.json()["error"]
    assert set(ACCOUNT_REFUSALS) == {"authentication", "billing", "permission", "credit", "spend_limit", "model",
                                     "rate_limit"}
    assert all(source for *_, source in ACCOUNT_REFUSALS.values())  # every entry names its source


@pytest.mark.parametrize("kind", ["organization_on_hold", "enforced_spend_limit_reached",
                                  "contract_spend_limit_reached", "ramp_limit_exceeded",
                                  "linked_organization_spend_limit_reached"])
def test_coded_refusals_are_the_sdks_typed_errors(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic,
                                                  kind: str) -> None:
    # anthropic 2.17 picks the class by (status, error.details.error_code) (_error_classes.py ERROR_CLASSES):
    # the typed class proves the simulator's status and code are a pair the SDK knows
    status, error_type, code, message, source = CODED_REFUSALS[kind]
    typed = getattr(anthropic, "".join(part.title() for part in code.split("_")) + "Error")
    anthropic_sim.refuse(kind, retry_after=42)
    with pytest.raises(typed) as exc:
        _create(anthropic_client)
    assert exc.value.status_code == status and exc.value.error_code == code and exc.value.type == error_type
    assert exc.value.body["error"] == {"type": error_type, "message": message, "details": {"error_code": code}}
    assert (exc.value.response.headers.get("retry-after") == "42") is (status == 429)
    assert source and anthropic_sim.requests_seen() == 0


def test_an_unknown_code_keeps_its_type(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic) -> None:
    anthropic_sim.refuse("unknown_code_402")
    with pytest.raises(anthropic.APIStatusError) as exc:
        _create(anthropic_client)
    assert exc.value.status_code == 402 and exc.value.error_code == "some_future_billing_code"
    assert exc.value.type == "billing_error"


@pytest.mark.parametrize("fault", ["create_landed_500", "create_landed_drop"])
def test_a_create_can_land_and_still_fail(anthropic_sim: AnthropicSim, anthropic_client: anthropic.Anthropic,
                                          fault: str) -> None:
    # DESIGN §7: a create answered with a 5xx, or cut by a dropped connection, may still have created the batch
    anthropic_sim.set_faults(**{fault: 1.0})
    expected = anthropic.InternalServerError if fault == "create_landed_500" else anthropic.APIConnectionError
    with pytest.raises(expected):
        _create(anthropic_client, 3)
    (batch,) = anthropic_sim.batches()
    assert anthropic_sim.requests_seen() == 3 and batch["request_counts"]["processing"] == 3
    listed = anthropic_client.messages.batches.list(limit=5).data
    assert [b.id for b in listed] == [batch["id"]]


def test_results_can_answer_404_for_seventy_seconds_after_the_end(anthropic_sim: AnthropicSim,
                                                                 anthropic_client: anthropic.Anthropic,
                                                                 anthropic_clock: ManualClock) -> None:
    # DESIGN §7: a results download recorded answering 404 just after the end, then 200 seventy seconds later
    anthropic_sim.set_faults(results_late=1.0)
    batch = _create(anthropic_client)
    anthropic_clock.advance(60)
    assert anthropic_client.messages.batches.retrieve(batch.id).processing_status == "ended"
    with pytest.raises(anthropic.NotFoundError):
        list(anthropic_client.messages.batches.results(batch.id))
    anthropic_clock.advance(RESULTS_LATE_SECONDS)
    assert len(list(anthropic_client.messages.batches.results(batch.id))) == 2
