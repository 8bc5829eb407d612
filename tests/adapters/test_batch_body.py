"""The create body submit sends: the requests encoded once (``batches.encode_request``) and posted as bytes must
be byte for byte what the SDK's ``messages.batches.create`` would send for the same requests (issue 22: the
SDK's copy and re-encode of every request was a third of submit's CPU)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest

from zdtriage import batches

BATCH = {"id": "msgbatch_01", "type": "message_batch", "processing_status": "in_progress",
         "request_counts": {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
         "ended_at": None, "created_at": "2026-01-01T00:05:23.250396+00:00",
         "expires_at": "2026-01-02T00:05:23.250396+00:00", "archived_at": None, "cancel_initiated_at": None,
         "results_url": None}  # the shape of tests/fixtures batch-create.json's answer


def _client(sent: list[httpx2.Request]) -> anthropic.Anthropic:
    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json=BATCH)

    return anthropic.Anthropic(api_key="k", base_url="https://api.example.test", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))


REQUESTS: list[dict[str, Any]] = [
    {"custom_id": "zt-1-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 600, "system": [
        {"type": "text", "text": "Triage.\n\t\"quoted\" \\ back", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": "<ticket>\nSubject: Grüße — ça 🚀 不工作\n\u2028</ticket>"}],
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object", "additionalProperties": False, "properties": {"confidence": {"type": "number"}}}}}}},
    {"custom_id": "zt-2-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 1, "temperature": 0.0,
                                       "messages": [{"role": "user", "content": "x" * 5000}]}},
]


def test_encoded_body_is_what_the_sdk_sends() -> None:
    theirs: list[httpx2.Request] = []
    ours: list[httpx2.Request] = []
    _client(theirs).messages.batches.create(requests=REQUESTS)  # type: ignore[arg-type]
    batch = batches.create_batch(_client(ours), [batches.encode_request(r) for r in REQUESTS])
    assert ours[0].content == theirs[0].content
    assert ours[0].url == theirs[0].url and ours[0].method == theirs[0].method == "POST"
    assert ours[0].headers["content-type"] == "application/json"
    assert ours[0].headers["anthropic-version"] == theirs[0].headers["anthropic-version"]
    assert batch["id"] == "msgbatch_01" and batch["request_counts"]["processing"] == 2
    # the byte count that cut the batch is the body's: envelope + each request and its comma, less one
    assert len(ours[0].content) == len(b'{"requests":[]}') + sum(batches.request_bytes(r) for r in REQUESTS) - 1


def test_plain_requests_and_encoded_ones_make_the_same_body() -> None:
    plain: list[httpx2.Request] = []
    encoded: list[httpx2.Request] = []
    batches.create_batch(_client(plain), REQUESTS)
    batches.create_batch(_client(encoded), [batches.encode_request(r) for r in REQUESTS])
    assert plain[0].content == encoded[0].content
    assert json.loads(plain[0].content) == {"requests": REQUESTS}


def test_a_value_json_cannot_hold_is_refused_before_sending() -> None:
    sent: list[httpx2.Request] = []
    with pytest.raises(ValueError):
        batches.create_batch(_client(sent), [{"custom_id": "zt-1-1", "params": {"temperature": float("nan")}}])
    assert not sent  # as the SDK's encoder (allow_nan=False): nothing half-sent


def _list_client(asked: list[httpx2.Request]) -> anthropic.Anthropic:
    def answer(request: httpx2.Request) -> httpx2.Response:
        asked.append(request)
        return httpx2.Response(200, json={"data": [BATCH, {**BATCH, "id": "msgbatch_other"}], "has_more": False,
                                          "first_id": "msgbatch_01", "last_id": "msgbatch_other"})

    return anthropic.Anthropic(api_key="k", base_url="https://api.example.test", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))


@pytest.mark.parametrize("raw_get", [True, False])
def test_the_batch_list_reads_our_batches_through_either_path(raw_get: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll's list: the client's raw GET (anthropic 2.17, on httpx2), or the SDK's own list on an SDK without it;
    the same request, and only the batches asked for."""
    if not raw_get:
        monkeypatch.setitem(__import__("sys").modules, "httpx2", None)  # `import httpx2` fails inside the call
    asked: list[httpx2.Request] = []
    got = batches.list_recent_batches(_list_client(asked), limit=7, only={"msgbatch_01"})
    assert [b["id"] for b in got] == ["msgbatch_01"] and got[0]["request_counts"]["processing"] == 2
    assert asked[0].url.path == "/v1/messages/batches" and asked[0].url.params["limit"] == "7"
