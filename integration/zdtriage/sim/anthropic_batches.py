"""Batch state of the Anthropic simulator: compact per-request records, lazy processing, result lines.

Nothing here speaks HTTP; :mod:`zdtriage.sim.anthropic` does. A batch keeps, per request, a
:class:`Record` (custom_id, model, token counts, cache breakpoints and the model stand-in's
:class:`~zdtriage.sim.model.Analysis`), never the prompt text nor an answer: result lines are
built one at a time while they stream.
"""

from __future__ import annotations

import json
import random
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zdtriage.sim import model as stand_in

BATCH_WINDOW_SECONDS = 24 * 3600  # expires_at = created_at + 24 h exactly (batch-create.json)

# Outcome codes of one request once its batch has ended.
SUCCEEDED, NOT_JSON, BAD_ENUM = 0, 1, 2
ERR_OVERLOADED, ERR_API, ERR_INVALID, ERR_RECORD = 3, 4, 5, 6
EXPIRED, CANCELED = 7, 8
CUT, REFUSED = 9, 10  # stop_reason "max_tokens" / "refusal"
_KIND = {
    SUCCEEDED: "succeeded", NOT_JSON: "succeeded", BAD_ENUM: "succeeded", CUT: "succeeded", REFUSED: "succeeded",
    ERR_OVERLOADED: "errored", ERR_API: "errored", ERR_INVALID: "errored", ERR_RECORD: "errored",
    EXPIRED: "expired", CANCELED: "canceled",
}
# A refusal, as Anthropic's "Streaming refusals" page shows it (stop_details with the example category);
# the content is empty and nothing is billed as output when it comes before any output (docs.apiyi.com
# "Why Does a Claude Refusal Return Empty Content?", measured on the native API, batch jobs included).
REFUSAL_DETAILS = {"type": "refusal", "category": "cyber",
                   "explanation": "This request was declined because it could enable cyber harm."}
# Opt-in faults of the results file itself (not behaviours of the real API; the client must survive them):
# a line nested deeper than json.loads can parse (RecursionError), and a custom_id the batch never had,
# its first number pushed out of the 64-bit range.
MALFORMED_DEPTH = 100_000
_FIRST_NUMBER = re.compile(r"\d+")
DEFAULT_CACHE_WAVES = 10

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def timestamp(epoch: float) -> str:
    """RFC 3339 with microseconds and ``+00:00``, like ``2026-01-01T00:05:23.250396+00:00``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def make_id(prefix: str, rng: random.Random | None = None, key: str | None = None) -> str:
    """``prefix`` + 24 base62 characters starting ``01`` (msgbatch_01UdG5…, msg_017SY5…)."""
    if key is not None:
        rng = random.Random(key)
    assert rng is not None
    return prefix + "01" + "".join(rng.choice(_B62) for _ in range(22))


@dataclass(slots=True)
class Record:
    """One request of a batch, as little of it as answering needs."""

    custom_id: str
    model: str  # as sent
    max_tokens: int
    input_tokens: int
    breakpoints: tuple[stand_in.Breakpoint, ...]
    schema: dict[str, Any] | None  # shared between records of a batch that send the same schema
    analysis: stand_in.Analysis | None
    error: tuple[str, str] | None = None  # (error type, message): the request fails when processed


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass
class Batch:
    id: str
    created: float
    processing_seconds: float
    records: list[Record]
    order: array  # processing (= results) order: a permutation of record indexes, never the identity
    cancel_at: float | None = None
    ended: float | None = None
    deleted: bool = False
    outcomes: bytearray | None = None
    cache: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # index → (5m write, 1h write, read)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def expires(self) -> float:
        return self.created + BATCH_WINDOW_SECONDS

    def due(self, cancel_seconds: float) -> tuple[float, float | None, int]:
        """When the batch ends, the clock time after which requests are cut, and what they become."""
        natural = self.created + self.processing_seconds
        if self.cancel_at is not None and self.cancel_at + cancel_seconds < min(natural, self.expires):
            return self.cancel_at + cancel_seconds, self.cancel_at, CANCELED
        if natural > self.expires:
            return self.expires, self.expires, EXPIRED
        return natural, None, SUCCEEDED

    def view(self, base_url: str, now: float, retention: float) -> dict[str, Any]:
        """The MessageBatch object, key for key as batch-create.json / batch-retrieve-ended.json."""
        n = len(self.records)
        counts = self.counts if self.ended is not None else {
            "processing": n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0,
        }
        if self.ended is not None:
            status = "ended"
        elif self.cancel_at is not None:
            status = "canceling"
        else:
            status = "in_progress"
        archived = self.created + retention
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": dict(counts),
            "ended_at": timestamp(self.ended) if self.ended is not None else None,
            "created_at": timestamp(self.created),
            "expires_at": timestamp(self.expires),
            "archived_at": timestamp(archived) if self.ended is not None and now >= archived else None,
            "cancel_initiated_at": timestamp(self.cancel_at) if self.cancel_at is not None else None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if self.ended is not None else None,
        }


def shuffled_order(n: int, key: str) -> array:
    """A deterministic permutation of ``range(n)`` that is never request order (for n ≥ 2)."""
    order = list(range(n))
    random.Random(key).shuffle(order)
    if n >= 2 and order == sorted(order):
        order = order[1:] + order[:1]
    return array("I", order)


class PromptCache:
    """Prompt prefixes written to the cache, by digest, with the clock time each one expires."""

    def __init__(self) -> None:
        self._expiry: dict[bytes, float] = {}

    def commit(self, pending: list[tuple[bytes, float]]) -> None:
        """Make writes deferred by ``use(..., pending=...)`` visible, and forget them."""
        for digest, expiry in pending:
            self._expiry[digest] = max(self._expiry.get(digest, -1.0), expiry)
        pending.clear()

    def use(self, record: Record, at: float, minimum: int,
            pending: list[tuple[bytes, float]] | None = None) -> tuple[int, int, int]:
        """(5-minute write, 1-hour write, read) tokens for ``record`` processed at ``at``.

        The longest breakpoint already cached is read; the longest eligible one is written beyond it.
        Every hit or write (re)starts the entry's TTL, as the prompt-caching docs describe. With
        ``pending``, the (re)starts are appended there instead of applied: requests running at the same
        time do not see each other's writes until ``commit``.
        """
        eligible = [bp for bp in record.breakpoints if bp.tokens >= minimum]
        if not eligible:
            return 0, 0, 0
        read = max((bp.tokens for bp in eligible if self._expiry.get(bp.digest, -1.0) >= at), default=0)
        longest = max(eligible, key=lambda bp: bp.tokens)
        write5 = write1h = 0
        if longest.tokens > read:
            if longest.ttl >= 3600:
                write1h = longest.tokens - read
            else:
                write5 = longest.tokens - read
        for bp in eligible:
            if pending is not None:
                pending.append((bp.digest, at + bp.ttl))
            else:
                self._expiry[bp.digest] = max(self._expiry.get(bp.digest, -1.0), at + bp.ttl)
        if len(self._expiry) > 200_000:
            self._expiry = {k: v for k, v in self._expiry.items() if v >= at}
        return write5, write1h, read


@dataclass(frozen=True)
class Faults:
    create_429: float = 0.0
    create_529: float = 0.0
    create_500: float = 0.0
    errored_overloaded: float = 0.0
    errored_api: float = 0.0
    errored_invalid: float = 0.0
    expired: float = 0.0
    not_json: float = 0.0
    bad_enum: float = 0.0
    max_tokens_cut: float = 0.0  # the answer runs past max_tokens: cut, stop_reason "max_tokens"
    refusal: float = 0.0  # stop_reason "refusal", no content
    malformed_line: float = 0.0  # opt-in: the results line is nested too deep to parse
    bad_custom_id: float = 0.0  # opt-in: the results line names a custom_id out of range
    # a create that lands (the batch exists and is billed) and then answers 500 / drops the connection before
    # answering (DESIGN §7: a create answered 5xx or cut may still have created the batch)
    create_landed_500: float = 0.0
    create_landed_drop: float = 0.0
    # share of batches whose results answer 404 for RESULTS_LATE_SECONDS after the batch ended (DESIGN §7: a
    # results download recorded answering 404 once, then 200 seventy seconds later)
    results_late: float = 0.0


def finish(batch: Batch, end: float, cutoff: float | None, cut_code: int, faults: Faults, seed: int,
           cache: PromptCache, totals: Usage, cache_waves: int = DEFAULT_CACHE_WAVES) -> None:
    """End ``batch`` at ``end``: decide every request's outcome, its cache use, and add up usage.

    Requests complete one after another over the processing time, in ``batch.order``; those that
    would complete after ``cutoff`` (cancel or 24-hour expiry) become canceled / expired.

    Caching inside a batch is best effort (DESIGN §7; the batch-processing guide: batches are processed
    concurrently, and suggests the 1-hour cache "for better cache hit rates"). The rule here: a batch
    runs in ``cache_waves`` waves of equal size, in processing order; a request sees only the cache as it
    was when its wave started, so every request of the first wave writes a prefix that was not cached
    yet, and only later waves read it. A two-request batch is two waves of one (one write, one read, as
    the live capture of a 2026-09 research note saw); a 1,000-request batch writes 100 times.
    """
    n = len(batch.records)
    outcomes = bytearray(n)
    step = batch.processing_seconds / n if n else 0.0
    wave = max(1, -(-n // max(1, cache_waves)))
    pending: list[tuple[bytes, float]] = []
    for position, index in enumerate(batch.order):
        if position % wave == 0:
            cache.commit(pending)
        at = batch.created + (position + 1) * step
        record = batch.records[index]
        if cutoff is not None and at > cutoff:
            outcomes[index] = cut_code
            continue
        if record.error is not None:
            outcomes[index] = ERR_RECORD
            continue
        draw = stand_in.unit(str(seed), batch.id, record.custom_id, "fault")
        code = SUCCEEDED
        for rate, candidate in (
            (faults.errored_overloaded, ERR_OVERLOADED), (faults.errored_api, ERR_API),
            (faults.errored_invalid, ERR_INVALID), (faults.expired, EXPIRED),
        ):
            if draw < rate:
                code = candidate
                break
            draw -= rate
        if code == SUCCEEDED:
            draw = stand_in.unit(str(seed), batch.id, record.custom_id, "answer")
            for rate, candidate in ((faults.not_json, NOT_JSON), (faults.bad_enum, BAD_ENUM),
                                    (faults.max_tokens_cut, CUT), (faults.refusal, REFUSED)):
                if draw < rate:
                    code = candidate
                    break
                draw -= rate
        outcomes[index] = code
        if _KIND[code] != "succeeded":
            continue
        info = stand_in.resolve_model(record.model)
        assert info is not None  # unknown models were turned into record errors at create
        write5, write1h, read = cache.use(record, at, info.cache_minimum, pending)
        if write5 or write1h or read:
            batch.cache[index] = (write5, write1h, read)
        _, _, output_tokens = answer(batch, index, code, seed)
        totals.input_tokens += record.input_tokens - write5 - write1h - read
        totals.cache_creation_input_tokens += write5 + write1h
        totals.cache_read_input_tokens += read
        totals.output_tokens += output_tokens
    cache.commit(pending)
    batch.outcomes = outcomes
    batch.ended = end
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    for code in outcomes:
        counts[_KIND[code]] += 1
    batch.counts = counts


def answer(batch: Batch, index: int, code: int, seed: int) -> tuple[str, str, int]:
    """(text, stop_reason, output_tokens) of a succeeded request; the same on every call."""
    record = batch.records[index]
    assert record.analysis is not None
    key = f"{seed}:{record.custom_id}"
    if code == REFUSED:
        return "", "refusal", 0
    fault = {NOT_JSON: "not_json", BAD_ENUM: "bad_enum", CUT: "long"}.get(code)
    text = stand_in.answer_text(record.schema, record.analysis, key, fault,
                                min_chars=(record.max_tokens + 1) * stand_in.CHARS_PER_TOKEN)
    tokens = stand_in.count_tokens(text)
    if tokens > record.max_tokens:
        # Cut where the budget ends: the JSON is left unterminated, as a real max_tokens stop leaves it.
        return text[: record.max_tokens * stand_in.CHARS_PER_TOKEN], "max_tokens", record.max_tokens
    return text, "end_turn", tokens


def _error_body(error_type: str, message: str, details: bool) -> dict[str, Any]:
    # batch-result-errored-line.json: the inner error carries details.error_visibility for request
    # validation errors; no recording shows it on overloaded/api errors, so those go without.
    inner: dict[str, Any] = {"details": {"error_visibility": "user_facing"}} if details else {}
    inner.update({"type": error_type, "message": message})
    return {"type": "error", "error": inner, "request_id": None}


def result_line(batch: Batch, index: int, seed: int) -> dict[str, Any]:
    """One JSONL line, shaped as batch-results-succeeded.json / batch-result-errored-line.json."""
    assert batch.outcomes is not None
    record = batch.records[index]
    code = batch.outcomes[index]
    if code == EXPIRED:
        result: dict[str, Any] = {"type": "expired"}
    elif code == CANCELED:
        result = {"type": "canceled"}
    elif code == ERR_OVERLOADED:
        result = {"type": "errored", "error": _error_body("overloaded_error", "Overloaded", False)}
    elif code == ERR_API:
        result = {"type": "errored", "error": _error_body("api_error", "Internal server error", False)}
    elif code == ERR_INVALID:
        too_long = f"prompt is too long: {record.input_tokens + 200_000} tokens > 200000 maximum"
        result = {"type": "errored", "error": _error_body("invalid_request_error", too_long, True)}
    elif code == ERR_RECORD:
        assert record.error is not None
        result = {"type": "errored", "error": _error_body(record.error[0], record.error[1], True)}
    else:
        text, stop_reason, output_tokens = answer(batch, index, code, seed)
        write5, write1h, read = batch.cache.get(index, (0, 0, 0))
        info = stand_in.resolve_model(record.model)
        message: dict[str, Any] = {
            "model": info.model_id if info else record.model,
            "id": make_id("msg_", key=f"{seed}:{batch.id}:{record.custom_id}"),
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}] if code != REFUSED else [],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": record.input_tokens - write5 - write1h - read,
                "cache_creation_input_tokens": write5 + write1h,
                "cache_read_input_tokens": read,
                "cache_creation": {"ephemeral_5m_input_tokens": write5, "ephemeral_1h_input_tokens": write1h},
                "output_tokens": output_tokens,
                "service_tier": "batch",
                "inference_geo": "not_available",
            },
        }
        if code == REFUSED:
            message["stop_details"] = dict(REFUSAL_DETAILS)
        result = {"type": "succeeded", "message": message}
    return {"custom_id": record.custom_id, "result": result}


def _line_bytes(batch: Batch, index: int, seed: int, faults: Faults) -> bytes:
    line = result_line(batch, index, seed)
    custom_id = line["custom_id"]
    draw = stand_in.unit(str(seed), batch.id, custom_id, "line")
    if draw < faults.malformed_line:
        head = json.dumps({"custom_id": custom_id}, separators=(",", ":"))[:-1]
        return (head + ',"result":{"type":"succeeded","message":' + "[" * MALFORMED_DEPTH + "]" * MALFORMED_DEPTH
                + "}}\n").encode("utf-8")
    if draw < faults.malformed_line + faults.bad_custom_id:
        line["custom_id"] = _FIRST_NUMBER.sub("9" * 25, custom_id, count=1) if _FIRST_NUMBER.search(custom_id) \
            else custom_id + "-" + "9" * 25
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def stream_results(
    batch: Batch, seed: int, chunk_bytes: int = 64 * 1024, faults: Faults | None = None
) -> Iterator[bytes]:
    """The results file, built line by line in processing order and sent in ~64 KB chunks."""
    buffer: list[bytes] = []
    size = 0
    faults = faults or Faults()
    for index in batch.order:
        data = _line_bytes(batch, index, seed, faults)
        buffer.append(data)
        size += len(data)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)
