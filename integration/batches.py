"""Message Batches through the anthropic SDK. Network only: no database here.

``client.messages.batches.create / retrieve / results / cancel``; results are streamed line by
line (the SDK's JSONL decoder) and reduced to small dicts, so a 100,000-result batch never sits
in memory at once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Iterator

# the SDK takes about a second to import: it is imported where a client is made or used, so commands that
# never call Anthropic (status, report, estimate without --exact, retry) start without it
if TYPE_CHECKING:
    import anthropic

from .config import AnthropicConfig

MAX_REQUESTS = 100_000  # per batch (DESIGN §7)
MAX_BATCH_BYTES = 256 * 1024 * 1024  # per batch body (DESIGN §7)
# We cut batches well below the API's 256 MB: while one is built and sent, our requests, the SDK's
# copy of them and its JSON text and body are all in memory, about 8x the body at peak (measured,
# bench/README.md): 32 MB batches took the daemon past 340 MB, 16 MB to ~250 MB; at 8 MB the peak
# stays near 180 MB whatever the queue. The cost is more batches: one create and, while open, one
# retrieve per poll each (a 100,000-ticket backlog of plain tickets makes ~26).
TARGET_BATCH_BYTES = 8 * 1024 * 1024
_ENVELOPE = len(b'{"requests":[]}')


class BatchError(Exception):
    """A Batches call failed; ``retryable`` says whether the same call may work later."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def make_client(cfg: AnthropicConfig) -> anthropic.Anthropic:
    """Build the SDK client from the settings (the one place that knows how to reach Anthropic)."""
    import anthropic

    kwargs: dict[str, Any] = {"api_key": cfg.api_key, "max_retries": 2, "timeout": 600.0}
    if cfg.base_url:
        kwargs["base_url"] = cfg.base_url
    return anthropic.Anthropic(**kwargs)


def request_bytes(request: dict[str, Any]) -> int:
    """Bytes one request adds to the create body (compact JSON plus its comma)."""
    return len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) + 1


def split_batches(requests: Iterable[tuple[Any, dict[str, Any]]], *, max_requests: int = MAX_REQUESTS,
                  max_bytes: int = TARGET_BATCH_BYTES) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """Group ``(key, request)`` pairs into batches under both the count and the byte limit.

    A single request larger than ``max_bytes`` is yielded alone (the API decides; it is far below
    256 MB because prompts are cut to ``max_input_tokens``).
    """
    if max_bytes > MAX_BATCH_BYTES or max_requests > MAX_REQUESTS:
        raise ValueError("limits above the Message Batches API maximum")
    chunk: list[tuple[Any, dict[str, Any]]] = []
    size = _ENVELOPE
    for key, request in requests:
        n = request_bytes(request)
        if chunk and (len(chunk) >= max_requests or size + n > max_bytes):
            yield chunk
            chunk, size = [], _ENVELOPE
        chunk.append((key, request))
        size += n
    if chunk:
        yield chunk


def _translate(exc: Exception) -> BatchError:
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409, 429) or status >= 500
        try:
            message = exc.body["error"]["message"]  # type: ignore[index]
        except (TypeError, KeyError):
            message = type(exc).__name__
        return BatchError(f"Anthropic answered {status}: {str(message)[:300]}", retryable=retryable, status=status)
    if isinstance(exc, (anthropic.APIConnectionError, anthropic.APITimeoutError)):
        return BatchError(f"cannot reach Anthropic: {type(exc).__name__}", retryable=True)
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


def create_batch(client: anthropic.Anthropic, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Create one batch; raises :class:`BatchError`."""
    import anthropic

    try:
        return _batch_dict(client.messages.batches.create(requests=requests))  # type: ignore[arg-type]
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def retrieve_batch(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    import anthropic

    try:
        return _batch_dict(client.messages.batches.retrieve(batch_id))
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def list_recent_batches(client: anthropic.Anthropic, limit: int = 100) -> list[dict[str, Any]]:
    """The newest batches of the workspace (crash recovery: find a batch created but not recorded)."""
    import anthropic

    try:
        page = client.messages.batches.list(limit=limit)
        return [_batch_dict(b) for b in page.data]
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def iter_results(client: anthropic.Anthropic, batch_id: str) -> Iterator[dict[str, Any]]:
    """Stream an ended batch's results as small dicts, in the order the API sends them (any order).

    ``{"custom_id", "type": succeeded|errored|canceled|expired, "text", "stop_reason", "usage",
    "model", "error_type", "error_message"}``.
    """
    import anthropic

    try:
        stream = client.messages.batches.results(batch_id)
        for line in stream:
            out: dict[str, Any] = {"custom_id": line.custom_id, "type": line.result.type, "text": None,
                                   "stop_reason": None, "usage": None, "model": None,
                                   "error_type": None, "error_message": None}
            result = line.result
            match result.type:
                case "succeeded":
                    message = result.message
                    out["text"] = "".join(b.text for b in message.content if getattr(b, "type", "") == "text")
                    out["stop_reason"] = message.stop_reason
                    out["usage"] = message.usage.model_dump()
                    out["model"] = message.model
                case "errored":
                    error = result.error.error
                    out["error_type"] = getattr(error, "type", "api_error")
                    out["error_message"] = str(getattr(error, "message", ""))[:300]
                case _:
                    pass
            yield out
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None


def count_tokens(client: anthropic.Anthropic, params: dict[str, Any]) -> int:
    """Exact input tokens of one request's ``params`` through the free ``count_tokens`` endpoint."""
    import anthropic

    kwargs = {k: params[k] for k in ("model", "system", "messages") if k in params}
    if "output_config" in params:
        kwargs["extra_body"] = {"output_config": params["output_config"]}
    try:
        return int(client.messages.count_tokens(**kwargs).input_tokens)
    except anthropic.AnthropicError as exc:
        raise _translate(exc) from None
