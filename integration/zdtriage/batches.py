"""Message Batches through the anthropic SDK. Network only: no database here.

``client.messages.batches.create / retrieve / results / cancel``; results are streamed line by
line and reduced to small dicts, so a 100,000-result batch never sits in memory at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

# the SDK takes about a second to import: it is imported where a client is made or used, so commands that
# never call Anthropic (status, report, estimate without --exact, retry) start without it
if TYPE_CHECKING:
    import anthropic

from . import jsonfast
from .config import AnthropicConfig
from .timeutil import parse_time

MAX_REQUESTS = 100_000  # per batch (DESIGN §7)
MAX_BATCH_BYTES = 256 * 1024 * 1024  # per batch body (DESIGN §7)
# We cut batches well below the API's 256 MB: while one is built and sent, our requests, the SDK's
# copy of them and its JSON text and body are all in memory, about 8x the body at peak (measured,
# bench/README.md): 32 MB batches took the daemon past 340 MB, 16 MB to ~250 MB; at 8 MB the peak
# stays near 180 MB whatever the queue. The cost is more batches: one create and, while open, one
# retrieve per poll each (a 100,000-ticket backlog of plain tickets makes ~26).
TARGET_BATCH_BYTES = 8 * 1024 * 1024
_ENVELOPE = len(b'{"requests":[]}')


# What a failed call says about the tickets it carried (BatchError.kind)
ACCOUNT = "account"  # the account is refused (key, billing, credit, permission, model, rate/spend limit)
REQUEST = "request"  # a 400 that names one request of the batch (request_index / custom_id)
TRANSIENT = "transient"  # 5xx, 529, 408/409, timeouts, connection errors: the same call may work later
BATCH = "batch"  # anything else: the batch as a whole was refused
_REQUEST_INDEX = re.compile(r"^requests\.(\d+)[.:]")
_DUPLICATE = re.compile(r"Duplicate custom_id found: ([A-Za-z0-9_-]{1,64})")
# 400s that refuse the account, not the request (quoted from live errors: anthropic-sdk-python#1646,
# openclaw/openclaw#48526 for the credit balance; NousResearch/hermes-agent#80553 for the spend limit).
# Message text is the last resort: only for answers that carry no code (DESIGN §7).
_ACCOUNT_400 = ("credit balance is too low", "reached your specified api usage limits")
# `error.details.error_code` values that refuse the organization, not the requests: the typed errors of
# anthropic 2.17 (types/shared/*_error.py) a batch create can raise. Any other code falls back to its type.
ACCOUNT_CODES = frozenset({
    "organization_on_hold",  # 400, trust and safety
    "organization_type_not_supported", "parent_organization_required",  # 400
    "cmek_key_disabled", "cmek_key_network_blocked", "workspace_human_review_disabled",  # 400
    "claude_code_key_creator_not_member",  # 400
    "enforced_spend_limit_reached", "contract_spend_limit_reached", "ramp_limit_exceeded",  # 429
    "linked_organization_spend_limit_reached", "linked_organization_billing_unavailable",  # 402
})
_ACCOUNT_TYPES = ("authentication_error", "billing_error", "permission_error", "rate_limit_error")
# a refusal that passes by itself: wait what retry-after says, not the doubling account hold
# (RampLimitExceededError: "Retry after the time in the `retry-after` header")
PASSING_CODES = frozenset({"ramp_limit_exceeded"})


class BatchError(Exception):
    """A Batches call failed; ``str()`` is one line without secrets.

    ``retryable``: the same call may work later. ``status``: the HTTP status, if there was one.
    ``kind``: what it says about the tickets (``ACCOUNT``, ``REQUEST``, ``TRANSIENT``, ``BATCH``).
    ``request_index`` / ``custom_id``: the request a ``REQUEST`` error names. ``retry_after``: seconds
    the API asked us to wait, if it said. ``code``: ``error.details.error_code``, if the answer had one.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None, kind: str = BATCH,
                 request_index: int | None = None, custom_id: str | None = None,
                 retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.kind = kind
        self.request_index = request_index
        self.custom_id = custom_id
        self.retry_after = retry_after
        self.code = code

    @property
    def outcome_unknown(self) -> bool:
        """The call may have done its work anyway: a timeout, a dropped connection or a 5xx (DESIGN §7: a
        create answered 5xx or cut may still have created the batch). Only a clear refusal is not."""
        return self.kind == TRANSIENT and (self.status is None or self.status >= 500)

    @property
    def passing(self) -> bool:
        """An account refusal that ends by itself after ``retry_after`` (the ramp limit)."""
        return self.kind == ACCOUNT and self.code in PASSING_CODES and self.retry_after is not None


def make_client(cfg: AnthropicConfig) -> anthropic.Anthropic:
    """Build the SDK client from the settings (the one place that knows how to reach Anthropic)."""
    import anthropic

    kwargs: dict[str, Any] = {"api_key": cfg.api_key, "max_retries": 2, "timeout": 600.0}
    if cfg.base_url:
        kwargs["base_url"] = cfg.base_url
    return anthropic.Anthropic(**kwargs)


def encode_request(request: dict[str, Any]) -> bytes:
    """One request as the create body holds it: compact UTF-8 JSON, byte for byte what the SDK's encoder writes
    (``anthropic._utils._json``: ``ensure_ascii=False``, ``separators=(",", ":")``, ``allow_nan=False``)."""
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def request_bytes(request: dict[str, Any] | bytes) -> int:
    """Bytes one request (or its :func:`encode_request`) adds to the create body: its JSON plus its comma."""
    return len(request if isinstance(request, bytes) else encode_request(request)) + 1


def split_batches(requests: Iterable[tuple[Any, dict[str, Any]]], *, max_requests: int = MAX_REQUESTS,
                  max_bytes: int = TARGET_BATCH_BYTES,
                  size_of: Callable[[dict[str, Any]], int] = request_bytes,
                  ) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """Group ``(key, request)`` pairs into batches under both the count and the byte limit (``size_of``: the
    bytes a request adds, :func:`request_bytes`; submit passes the length of the body it already encoded).

    A single request larger than ``max_bytes`` is yielded alone (the API decides; it is far below
    256 MB because prompts are cut to ``max_input_tokens``).
    """
    if max_bytes > MAX_BATCH_BYTES or max_requests > MAX_REQUESTS:
        raise ValueError("limits above the Message Batches API maximum")
    chunk: list[tuple[Any, dict[str, Any]]] = []
    size = _ENVELOPE
    for key, request in requests:
        n = size_of(request)
        if chunk and (len(chunk) >= max_requests or size + n > max_bytes):
            yield chunk
            chunk, size = [], _ENVELOPE
        chunk.append((key, request))
        size += n
    if chunk:
        yield chunk


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    try:
        value = float(exc.response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _classify(
    status: int, error_type: str, message: str, code: str | None = None
) -> tuple[str, int | None, str | None]:
    """(kind, request_index, custom_id) of an error answer: by its code, else its type and status, and by
    its message only where neither says (an unknown code is read as its bare type, as the SDK advises)."""
    lowered = message.lower()
    if code in ACCOUNT_CODES:
        return ACCOUNT, None, None
    if status in (401, 402, 403, 429) or error_type in _ACCOUNT_TYPES:
        return ACCOUNT, None, None
    if status == 404 and lowered.startswith("model:"):  # error-404-not-found-model.json
        return ACCOUNT, None, None
    if status == 400 and any(marker in lowered for marker in _ACCOUNT_400):
        return ACCOUNT, None, None
    if status in (408, 409) or status >= 500:
        return TRANSIENT, None, None
    if status == 400:
        named = _REQUEST_INDEX.match(message)
        if named:  # "requests.3.custom_id: ..." (the 2026-09 research note's live captures)
            return REQUEST, int(named.group(1)), None
        duplicate = _DUPLICATE.search(message)
        if duplicate:
            return REQUEST, None, duplicate.group(1)
    return BATCH, None, None


def _connection_reason(exc: Exception) -> str:
    """`` at <host>: <DNS or TLS reason>`` for a failed connection (issue 20: name the host and the cause)."""
    from .netreason import connection_reason

    try:
        host = exc.request.url.host  # type: ignore[attr-defined]  # httpx.Request of an APIConnectionError
    except (AttributeError, RuntimeError):
        host = None
    return f"{f' at {host}' if host else ''}: {connection_reason(exc)}"


def _translate(exc: Exception) -> BatchError:
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409, 429) or status >= 500
        error_type, message = "", type(exc).__name__
        body = exc.body
        code = getattr(exc, "error_code", None)  # anthropic >= 2.17; read from the body below otherwise
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error_type = str(body["error"].get("type") or "")
            message = str(body["error"].get("message") or message)
            details = body["error"].get("details")
            if code is None and isinstance(details, dict) and isinstance(details.get("error_code"), str):
                code = details["error_code"]
        code = code[:64] if isinstance(code, str) and code else None
        kind, index, custom_id = _classify(status, error_type, message, code)
        named = f"{status} {code}" if code else str(status)
        return BatchError(f"Anthropic answered {named}: {message[:300]}", retryable=retryable, status=status,
                          kind=kind, request_index=index, custom_id=custom_id, retry_after=_retry_after(exc),
                          code=code)
    if isinstance(exc, (anthropic.APIConnectionError, anthropic.APITimeoutError)):
        return BatchError(f"cannot reach Anthropic{_connection_reason(exc)}", retryable=True, kind=TRANSIENT)
    return BatchError(f"Anthropic call failed: {type(exc).__name__}", retryable=False)


def _batch_dict(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "processing_status": batch.processing_status,
        "request_counts": batch.request_counts.model_dump(),
        "created_at": batch.created_at.timestamp(),
        "expires_at": batch.expires_at.timestamp(),
        "ended_at": batch.ended_at.timestamp() if batch.ended_at else None,
        "results_url": batch.results_url,
    }


def create_batch(client: anthropic.Anthropic, requests: Sequence[dict[str, Any] | bytes]) -> dict[str, Any]:
    """Create one batch of ``requests`` (each a request, or its :func:`encode_request`), in one attempt; raises
    :class:`BatchError`.

    The SDK would retry a POST that timed out or got a 429/5xx with no idempotency key, and a retry
    whose first try had landed makes a second, billed batch (DESIGN §7): retries are off for this call
    only (reads keep the client's). An unknown outcome is settled from the workspace's batch list.

    The body goes as the bytes submit already measured, through the client's documented ``post``
    (``content=``; auth, errors and the answer's model as ``batches.create``): ``create`` would copy and
    re-encode every request of up to 8 MiB (``maybe_transform``, ``copy_tree``), a third of submit's CPU
    (issue 22). ``tests/adapters`` hold the body to what ``create`` sends.
    """
    import anthropic
    from anthropic.types.messages import MessageBatch

    body = b'{"requests":[' + b",".join(r if isinstance(r, bytes) else encode_request(r) for r in requests) + b"]}"
    try:
        once = client.with_options(max_retries=0)
        return _batch_dict(once.post("/v1/messages/batches", cast_to=MessageBatch, content=body))
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def retrieve_batch(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    import anthropic

    try:
        return _batch_dict(client.messages.batches.retrieve(batch_id))
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def _batch_json(batch: dict[str, Any]) -> dict[str, Any]:
    """:func:`_batch_dict` of a batch as the API's JSON shows it (batch-retrieve-ended.json: RFC 3339 times)."""
    ended = batch.get("ended_at")
    return {
        "id": str(batch["id"]),
        "processing_status": str(batch["processing_status"]),
        "request_counts": dict(batch["request_counts"]),
        "created_at": parse_time(batch["created_at"]),
        "expires_at": parse_time(batch["expires_at"]),
        "ended_at": parse_time(ended) if ended else None,
        "results_url": batch.get("results_url"),
    }


def list_recent_batches(client: anthropic.Anthropic, limit: int = 100,
                        only: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The newest batches of the workspace (poll's states of the open batches, and crash recovery: find a
    batch created but not recorded); with ``only``, just those of these ids. The page's JSON is read as it is:
    the SDK's model objects of every batch were most of poll's CPU, a list a minute (issue 22)."""
    import anthropic

    try:
        try:
            import httpx2  # anthropic 2.17's HTTP client: its Response is the raw answer `cast_to` takes
        except ImportError:  # an SDK on another HTTP client: its own list, read as raw JSON
            text = client.messages.batches.with_raw_response.list(limit=limit).text()
        else:
            # the client's documented raw GET: ``batches.list`` builds a ``SyncPage[MessageBatch]`` pydantic class
            # and a page object around the same JSON on every call (a list a minute: most of poll's CPU, issue 22)
            raw = client.get("/v1/messages/batches", cast_to=httpx2.Response, options={"params": {"limit": limit}})
            text = raw.text
        body = json.loads(text)
        return [_batch_json(b) for b in body["data"] if only is None or b.get("id") in only]
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BatchError(f"Anthropic's batch list could not be read: {type(exc).__name__}", retryable=True,
                         kind=TRANSIENT) from None


_RESULT_KEYS = ("custom_id", "type", "text", "stop_reason", "usage", "model", "error_type", "error_message")
_CUSTOM_ID_AHEAD = re.compile(r'"custom_id"\s*:\s*"([A-Za-z0-9_-]{1,64})"')
_USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _malformed(raw: str, why: str) -> dict[str, Any]:
    found = _CUSTOM_ID_AHEAD.search(raw[:512])
    out = dict.fromkeys(_RESULT_KEYS)
    out.update(custom_id=found.group(1) if found else None, type="malformed", error_type="malformed_line",
               error_message=why[:300])
    return out


def _result(raw: str) -> dict[str, Any]:
    """One results line as a small dict (see ``iter_results``); never raises."""
    try:
        line = jsonfast.loads(raw)
    except RecursionError:
        return _malformed(raw, "results line nested too deep to parse")
    except ValueError as exc:
        return _malformed(raw, f"results line is not JSON: {exc}")
    try:
        out: dict[str, Any] = dict.fromkeys(_RESULT_KEYS)
        result = line["result"]
        out["custom_id"] = str(line["custom_id"])
        out["type"] = str(result["type"])
        match out["type"]:
            case "succeeded":
                message = result["message"]
                out["text"] = "".join(str(b.get("text", "")) for b in message.get("content") or []
                                      if isinstance(b, dict) and b.get("type") == "text")
                out["stop_reason"] = message.get("stop_reason")
                out["usage"] = {**dict.fromkeys(_USAGE_COUNTS, 0), **(message.get("usage") or {})}
                out["model"] = message.get("model")
            case "errored":
                error = (result.get("error") or {}).get("error") or {}
                out["error_type"] = error.get("type") or "api_error"
                out["error_message"] = str(error.get("message") or "")[:300]
            case _:
                pass
        return out
    except (KeyError, TypeError, AttributeError) as exc:
        return _malformed(raw, f"results line has an unexpected shape ({type(exc).__name__})")


def iter_results(client: anthropic.Anthropic, batch_id: str,
                 results_url: str | None = None) -> Iterator[dict[str, Any]]:
    """Stream an ended batch's results as small dicts, in the order the API sends them (any order).

    ``{"custom_id", "type": succeeded|errored|canceled|expired|malformed, "text", "stop_reason", "usage",
    "model", "error_type", "error_message"}``. A line that cannot be read (not JSON, nested deeper than
    ``json.loads`` goes, or not the documented shape) is ``type: "malformed"`` with ``error_type:
    "malformed_line"``, its ``custom_id`` as far as it can be seen at the start of the line (else None),
    and the stream goes on. Lines are parsed one at a time from the HTTP stream. ``results_url``: the one
    the caller's list or retrieve of the ended batch gave; without it the SDK's ``results()`` retrieves the
    batch once more to learn it (issue 22: a call and a model parse per batch).
    """
    import anthropic

    try:
        direct = _results_at(client, results_url) if results_url else None
        if direct is not None:
            try:
                for raw in direct.iter_lines():
                    if raw.strip():
                        yield _result(raw)
            finally:
                direct.close()
            return
        with client.messages.batches.with_streaming_response.results(batch_id) as response:
            for raw in response.iter_lines():
                if raw.strip():
                    yield _result(raw)
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def _results_at(client: anthropic.Anthropic, url: str) -> Any:
    """The response of ``url``, its body not read yet, asked as the SDK's ``results()`` asks (its headers,
    retries and errors); None if the SDK's HTTP client is not the one this was written for (then
    ``results()`` is used)."""
    try:
        import httpx2  # anthropic 2.17's HTTP client: its Response is the raw stream `cast_to` takes
    except ImportError:
        return None
    return client.get(url, cast_to=httpx2.Response, stream=True, options={"headers": {"Accept": "application/binary"}})


def count_tokens(client: anthropic.Anthropic, params: dict[str, Any]) -> int:
    """Exact input tokens of one request's ``params`` through the free ``count_tokens`` endpoint."""
    import anthropic

    kwargs: dict[str, Any] = {k: params[k] for k in ("model", "system", "messages") if k in params}
    if "output_config" in params:
        kwargs["extra_body"] = {"output_config": params["output_config"]}
    try:
        return int(client.messages.count_tokens(**kwargs).input_tokens)
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None
