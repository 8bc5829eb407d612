"""Loopback simulator of the Anthropic Message Batches API (``/v1/messages/batches``).

Built from the documented behaviour (DESIGN.md §7) and recorded responses
(tests/fixtures/real/anthropic/, see tests/fixtures/real/SOURCES.md), so that the ``anthropic`` SDK
pointed at it with ``base_url=`` sees what it would see from api.anthropic.com::

    sim = AnthropicSim(clock=ManualClock(), processing_seconds=60)
    base_url = sim.start()
    client = anthropic.Anthropic(api_key="sim-key", base_url=base_url, max_retries=0)

Batches are processed lazily: whenever a request arrives, every batch whose time has come is ended
(requests done in a shuffled order over ``processing_seconds``, cut at cancel or 24-hour expiry).
Answers come from the deterministic stand-in in :mod:`zdtriage.sim.model`.

Auth is ``x-api-key`` or ``Authorization: Bearer`` (anthropic ≥ 2.0 sends the key that way), and
``anthropic-version`` must be 2023-01-01, 2023-06-01 or 2026-10-21 (what anthropic ≥ 2.0 sends; it
rejects ``temperature``/``top_p``/``top_k``).

Inspection without auth: ``GET /_sim/batches``, ``GET /_sim/usage`` (usage totals and
``requests_seen``), ``PUT /_sim/faults`` (a JSON object of rates), ``GET /_sim/calls``,
``PUT /_sim/account {"refuse": kind, "retry_after": s}`` / ``DELETE /_sim/account`` (an account-level
refusal of batch creates, see ``ACCOUNT_REFUSALS`` and, with ``error.details.error_code``,
``CODED_REFUSALS``; ``refuse()`` / ``clear_refusal()`` in Python). Faults ``create_landed_500`` /
``create_landed_drop`` create the batch and then answer 500 or close the connection; ``results_late`` makes
a batch's results answer 404 for ``RESULTS_LATE_SECONDS`` after its end (DESIGN §7).

What is checked when: the create answers 400 only for the envelope (the body, ``requests``, each
item's ``custom_id`` and that ``params`` is an object) and duplicate custom_ids; everything in
``params`` is checked per request once the batch runs, and comes back as an ``errored`` line (the
2026-09 research note's live captures: a line without ``messages`` was accepted, 200, and errored later;
the batch-processing guide says validation errors may surface after the batch ends).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import re
import threading
import time
from typing import Any

from zdtriage.sim import model as stand_in
from zdtriage.sim.anthropic_batches import (
    Batch,
    Faults,
    PromptCache,
    Record,
    Usage,
    finish,
    make_id,
    shuffled_order,
    stream_results,
)
from zdtriage.sim.server import Clock, Request, Response, SimServer

MAX_REQUESTS = 100_000  # per batch (batch-processing guide: "100,000 Message requests or 256 MB")
MAX_BODY_BYTES = 256 * 1024 * 1024
RESULTS_RETENTION_SECONDS = 29 * 86400  # results downloadable for 29 days after creation
# 2026-10-21 is what anthropic>=2.0 sends (anthropic/_constants.py); platform.claude.com/docs/en/api/versioning
API_VERSIONS = ("2023-01-01", "2023-06-01", "2026-10-21")
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")  # removed in 2026-10-21 (versioning page)
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Refusals of the account on batch create: (status, error type, message, source). None of them depends on
# the requests. "authentication" answers every /v1 call (a revoked key); the others the create only.
ACCOUNT_REFUSALS: dict[str, tuple[int, str, str, str]] = {
    "authentication": (401, "authentication_error", "invalid x-api-key",
                       "recorded on this endpoint: error-401-invalid-key.json"),
    "billing": (402, "billing_error", "There's an issue with your billing or payment information.",
                "type and wording from the Errors page of the API docs (no recording)"),
    "permission": (403, "permission_error", "Your API key does not have permission to use the specified resource.",
                   "type and wording from the Errors page of the API docs (no recording)"),
    "credit": (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. "
               "Please go to Plans & Billing to upgrade or purchase credits.",
               "quoted from live errors: openclaw/openclaw#48526, anthropics/anthropic-sdk-python#1646"),
    "spend_limit": (400, "invalid_request_error", "You have reached your specified API usage limits. "
                    "You will regain access on {next_month}",
                    "quoted from a live error: NousResearch/hermes-agent#80553 (a 400, not a 429)"),
    "model": (404, "not_found_error", "model: {model}", "error-404-not-found-model.json"),
    "rate_limit": (429, "rate_limit_error", "This request would exceed your account's rate limit. "
                   "Please try again later.", "error-429-rate-limit-issue.json; retry-after always sent"),
}

# Refusals that name their cause in `error.details.error_code` (DESIGN §7): (status, error type, error_code,
# message, source). Status and code from anthropic 2.17's typed errors (types/shared/<code>_error.py: the base
# class gives the status); no live body has been recorded, so the message is the SDK docstring's wording.
CODED_REFUSALS: dict[str, tuple[int, str, str, str, str]] = {
    "organization_on_hold": (400, "invalid_request_error", "organization_on_hold",
                             "Anthropic has disabled the organization for trust and safety reasons.",
                             "anthropic 2.17 types/shared/organization_on_hold_error.py (BadRequestError)"),
    "enforced_spend_limit_reached": (429, "rate_limit_error", "enforced_spend_limit_reached",
                                     "The organization has crossed the monthly API usage threshold of its API tier.",
                                     "anthropic 2.17 types/shared/enforced_spend_limit_reached_error.py "
                                     "(RateLimitError)"),
    "contract_spend_limit_reached": (429, "rate_limit_error", "contract_spend_limit_reached",
                                     "The organization has reached the spend limit of its contract.",
                                     "anthropic 2.17 types/shared/contract_spend_limit_reached_error.py "
                                     "(RateLimitError)"),
    "ramp_limit_exceeded": (429, "rate_limit_error", "ramp_limit_exceeded",
                            "The request would exceed a ramp limit, which caps how fast usage can grow.",
                            "anthropic 2.17 types/shared/ramp_limit_exceeded_error.py (RateLimitError, retry-after)"),
    "linked_organization_spend_limit_reached": (
        402, "billing_error", "linked_organization_spend_limit_reached",
        "The organization linked to the request's user profile has reached a spend limit that it set, "
        "or lacks credit for the request.",
        "anthropic 2.17 types/shared/linked_organization_spend_limit_reached_error.py (PaymentRequiredError)"),
    # a code this product does not know: the SDK says to treat it as the bare type (_exceptions.py)
    "unknown_code_400": (400, "invalid_request_error", "some_future_code", "A cause not named yet.",
                         "anthropic 2.17 _exceptions.py: an unrecognized error_code is the bare type"),
    "unknown_code_402": (402, "billing_error", "some_future_billing_code", "A cause not named yet.",
                         "anthropic 2.17 _exceptions.py: an unrecognized error_code is the bare type"),
}
RESULTS_LATE_SECONDS = 70.0  # DESIGN §7: results recorded answering 404, then 200 seventy seconds later

__all__ = ["CODED_REFUSALS", "MAX_BODY_BYTES", "MAX_REQUESTS", "RESULTS_RETENTION_SECONDS", "AnthropicSim", "Faults"]


class _Invalid(Exception):
    """A request that the API rejects with 400 invalid_request_error."""


class AnthropicSim(SimServer):
    """The Message Batches API on loopback; see the module docstring."""

    def __init__(
        self,
        api_key: str = "sim-key",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        processing_seconds: float = 0.0,
        seed: int = 0,
        max_requests: int = MAX_REQUESTS,
        max_body_bytes: int = MAX_BODY_BYTES,
        results_retention_seconds: float = RESULTS_RETENTION_SECONDS,
        cancel_seconds: float = 0.0,
        retry_after_seconds: int = 10,
        cache_waves: int = 10,
    ) -> None:
        """Create a stopped simulator.

        ``processing_seconds``: a batch ends this long (by ``clock``) after creation, or at its
        24-hour expiry if that comes first. ``cancel_seconds``: how long a batch stays ``canceling``.
        ``retry_after_seconds``: the ``retry-after`` of an injected 429 (the SDK sleeps exactly that long
        before retrying). ``cache_waves``: how many waves a batch's requests run in, for prompt caching
        (see ``anthropic_batches.finish``: the first wave's requests all pay the cache write).
        """
        super().__init__(host=host, port=port, clock=clock)
        self.api_key = api_key
        self.processing_seconds = float(processing_seconds)
        self.seed = seed
        self.max_requests = max_requests
        self.max_body_bytes = max_body_bytes  # SimServer answers body_too_large() before reading more
        self.results_retention_seconds = float(results_retention_seconds)
        self.cancel_seconds = float(cancel_seconds)
        self.retry_after_seconds = retry_after_seconds
        self.cache_waves = cache_waves
        self._refusal: tuple[str, int] | None = None  # (kind, retry_after)
        self._faults = Faults()
        self._rng = random.Random(seed)
        self._fault_rng = random.Random(f"{seed}:faults")
        self._batches: dict[str, Batch] = {}
        self._open: dict[str, Batch] = {}  # not ended yet: the only ones _advance() looks at
        self._cache = PromptCache()
        self._usage = Usage()
        self._requests_seen = 0
        self._local = threading.local()
        for method, pattern, handler in (
            ("POST", "/v1/messages/batches", self._create),
            ("POST", "/v1/messages/count_tokens", self._count_tokens),
            ("GET", "/v1/messages/batches", self._list),
            ("GET", "/v1/messages/batches/{id}", self._retrieve),
            ("DELETE", "/v1/messages/batches/{id}", self._delete),
            ("POST", "/v1/messages/batches/{id}/cancel", self._cancel),
            ("GET", "/v1/messages/batches/{id}/results", self._results),
            ("GET", "/_sim/batches", lambda r: Response(200, self._views(self._host_url(r)))),
            (
                "GET",
                "/_sim/usage",
                lambda r: Response(200, {**self.usage_totals(), "requests_seen": self.requests_seen()}),
            ),
            ("PUT", "/_sim/faults", self._put_faults),
            ("PUT", "/_sim/account", self._put_account),
            ("DELETE", "/_sim/account", self._delete_account),
            ("GET", "/_sim/calls", lambda r: Response(200, self.call_counts())),
        ):
            self.route(method, pattern, handler)

    # -- inspection (tests, demo, benchmarks) ----------------------------------------------------
    def set_faults(self, **rates: float) -> None:
        """Set fault rates (0..1); unnamed rates keep their value. Names as in :class:`Faults`."""
        unknown = set(rates) - {f.name for f in dataclasses.fields(Faults)}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for name, rate in rates.items():
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{name}: rate must be between 0 and 1")
        with self.lock:
            self._faults = dataclasses.replace(self._faults, **{k: float(v) for k, v in rates.items()})

    def refuse(self, kind: str, retry_after: int | None = None) -> None:
        """Refuse batch creates for the whole account from now on (``ACCOUNT_REFUSALS`` keys) until
        ``clear_refusal()``; ``retry_after`` is sent on a ``rate_limit`` refusal."""
        if kind not in ACCOUNT_REFUSALS and kind not in CODED_REFUSALS:
            raise ValueError(f"unknown refusal: {kind} (one of {', '.join([*ACCOUNT_REFUSALS, *CODED_REFUSALS])})")
        with self.lock:
            self._refusal = (kind, int(retry_after if retry_after is not None else self.retry_after_seconds))

    def clear_refusal(self) -> None:
        """The account is fixed: creates are accepted again."""
        with self.lock:
            self._refusal = None

    def faults(self) -> dict[str, float]:
        """The current fault rates."""
        with self.lock:
            return dataclasses.asdict(self._faults)

    def batches(self) -> list[dict[str, Any]]:
        """Every batch (deleted ones excluded) as the API shows it, newest first."""
        url = self.base_url if self._httpd is not None else f"http://{self.host}:{self.port}"
        return self._views(url)

    def custom_ids_sent(self) -> dict[str, int]:
        """How many accepted batches held each custom_id: a request billed twice shows 2."""
        with self.lock:
            counts: dict[str, int] = {}
            for batch in self._batches.values():
                for record in batch.records:
                    counts[record.custom_id] = counts.get(record.custom_id, 0) + 1
            return counts

    def requests_seen(self) -> int:
        """Requests received in accepted batches."""
        with self.lock:
            return self._requests_seen

    def usage_totals(self) -> dict[str, int]:
        """Token usage summed over every succeeded result of the batches that have ended."""
        with self.lock:
            self._advance()
            return self._usage.as_dict()

    def advance(self) -> None:
        """End every batch whose time has come (requests do this too)."""
        with self.lock:
            self._advance()

    # -- plumbing ------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        self._local.request_id = _request_id(self._rng_for_ids())
        response = super().dispatch(request)
        if response.status == 405:
            response = self._error(405, "invalid_request_error", f"Method {request.method} not allowed")
        response.headers.setdefault("request-id", self._local.request_id)
        return response

    def _rng_for_ids(self) -> random.Random:
        rng = getattr(self._local, "rng", None)
        if rng is None:
            rng = self._local.rng = random.Random(f"{self.seed}:{threading.get_ident()}:ids")
        return rng

    def _error(self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None,
               code: str | None = None) -> Response:
        # Envelope of error-400-invalid-request.json: type/error/request_id, request-id header too; a coded
        # error adds error.details.error_code (anthropic 2.17 _exceptions.py extract_error_code)
        request_id = getattr(self._local, "request_id", None) or _request_id(self._rng_for_ids())
        error: dict[str, Any] = {"type": error_type, "message": message}
        if code is not None:
            error["details"] = {"error_code": code}
        body = {"type": "error", "error": error, "request_id": request_id}
        retry = "true" if status in (408, 409, 429) or status >= 500 else "false"
        return Response(status, body, {"request-id": request_id, "x-should-retry": retry, **(headers or {})},
                        content_type="application/json")

    def not_found(self, request: Request) -> Response:
        return self._error(404, "not_found_error", "Not found")  # alexrudall batch_messages_results.yml (2024)

    def body_too_large(self, request: Request) -> Response:
        # Cloudflare answers before the API: no request_id, no "type":"error" (anthropic-sdk-python#938,
        # claude-code#10314: 413 {"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}).
        return Response(413, {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}},
                        content_type="application/json")

    def before(self, request: Request) -> Response | None:
        if request.path.startswith("/_sim/"):
            return None
        key = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        if key is None and authorization.lower().startswith("bearer "):
            # anthropic 2.13 sends api_key= as "Authorization: Bearer <key>" (anthropic/_client.py
            # _api_key_auth), not x-api-key as earlier SDKs did; both must work.
            key = authorization[7:].strip()
        if key is None:
            return self._error(401, "authentication_error", "x-api-key header is required")
        if key != self.api_key:
            # alexrudall/anthropic spec/fixtures/cassettes/http_post_with_error_response.yml (2025-01)
            return self._error(401, "authentication_error", "invalid x-api-key")
        refusal = self._refusal
        if refusal is not None and refusal[0] == "authentication":
            return self._refused(refusal, None)  # a revoked key opens no door
        version = request.headers.get("anthropic-version")
        if version is None:
            # envoyproxy/ai-gateway#1909 quotes this body (with request_id) from the live API, 2026-03
            return self._error(400, "invalid_request_error", "anthropic-version: header is required")
        if version not in API_VERSIONS:
            # decolua/9router#2357: 'anthropic-version: "<value>" is not a valid version'
            return self._error(400, "invalid_request_error", f'anthropic-version: "{version}" is not a valid version')
        with self.lock:
            self._advance()
        return None

    def _advance(self) -> None:
        now = self.clock()
        due = []
        for batch in self._open.values():
            end, cutoff, code = batch.due(self.cancel_seconds)
            if now >= end:
                due.append((end, batch, cutoff, code))
        # In end order, so that prompt-cache writes and reads happen in the order they would have.
        for end, batch, cutoff, code in sorted(due, key=lambda item: item[0]):
            finish(batch, end, cutoff, code, self._faults, self.seed, self._cache, self._usage, self.cache_waves)
            del self._open[batch.id]

    def _host_url(self, request: Request) -> str:
        host = request.headers.get("host")
        return f"http://{host}" if host else self.base_url

    def _views(self, base_url: str) -> list[dict[str, Any]]:
        with self.lock:
            self._advance()
            now = self.clock()
            return [b.view(base_url, now, self.results_retention_seconds) for b in self._newest_first()]

    def _newest_first(self) -> list[Batch]:
        live = [b for b in self._batches.values() if not b.deleted]
        return [b for _, b in sorted(enumerate(live), key=lambda p: (p[1].created, p[0]), reverse=True)]

    def _get(self, batch_id: str) -> Batch | None:
        batch = self._batches.get(batch_id)
        return None if batch is None or batch.deleted else batch

    def _missing(self, batch_id: str) -> Response:
        # Live capture in a public research note (2026-09): 404 "Message Batch msgbatch_… not found."
        return self._error(404, "not_found_error", f"Message Batch {batch_id} not found.")

    # -- POST /v1/messages/batches -------------------------------------------------------------
    def _count_tokens(self, request: Request) -> Response:
        """``POST /v1/messages/count_tokens``: free, same token accounting as the batch results."""
        body = request.json() or {}
        if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            return self._error(400, "invalid_request_error", "model and messages are required")
        if stand_in.resolve_model(str(body["model"])) is None:
            # an unknown model is refused as on every /v1/messages call (error-404-not-found-model.json)
            return self._error(404, "not_found_error", f"model: {body['model']}")
        info = stand_in.read_prompt(body, str(body["model"]))
        schema = stand_in.output_schema(body)
        extra = stand_in.schema_tokens(schema) if schema is not None else 0
        return Response(200, {"input_tokens": info.input_tokens + extra})

    def _refused(self, refusal: tuple[str, int], body: bytes | None) -> Response:
        kind, retry_after = refusal
        if kind in CODED_REFUSALS:
            status, error_type, code, message, _source = CODED_REFUSALS[kind]
            return self._error(
                status, error_type, message, {"retry-after": str(retry_after)} if status == 429 else None, code=code
            )
        status, error_type, message, _source = ACCOUNT_REFUSALS[kind]
        if "{model}" in message:
            model = "claude-haiku-4-5"
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                model = str(json.loads(body or b"{}")["requests"][0]["params"]["model"])
            message = message.format(model=model)
        if "{next_month}" in message:
            now = time.gmtime(self.clock())
            year, month = (now.tm_year + 1, 1) if now.tm_mon == 12 else (now.tm_year, now.tm_mon + 1)
            message = message.format(next_month=f"{year:04d}-{month:02d}-01")
        headers = {"retry-after": str(retry_after)} if status == 429 else None
        return self._error(status, error_type, message, headers)

    def _create(self, request: Request) -> Response:
        with self.lock:
            refusal = self._refusal
        if refusal is not None:
            return self._refused(refusal, request.raw_body)
        with self.lock:
            faults = self._faults
            draw = self._fault_rng.random()
        if draw < faults.create_429:
            # error-429-rate-limit-issue.json body; retry-after is always sent on 429 since 2024-07
            # (error-429-headers-issue.json notes)
            return self._error(429, "rate_limit_error",
                               "This request would exceed your account's rate limit. Please try again later.",
                               {"retry-after": str(self.retry_after_seconds)})
        draw -= faults.create_429
        if draw < faults.create_529:
            return self._error(529, "overloaded_error", "Overloaded")  # error-529-overloaded-issue.json
        draw -= faults.create_529
        if draw < faults.create_500:
            return self._error(500, "api_error", "Internal server error")
        try:
            records = self._parse_batch(request.raw_body, request.headers["anthropic-version"])
        except _Invalid as exc:
            return self._error(400, "invalid_request_error", str(exc))
        with self.lock:
            batch_id = make_id("msgbatch_", self._rng)
            while batch_id in self._batches:
                batch_id = make_id("msgbatch_", self._rng)
            batch = Batch(
                id=batch_id,
                created=self.clock(),
                processing_seconds=self.processing_seconds,
                records=records,
                order=shuffled_order(len(records), f"{self.seed}:{batch_id}"),
            )
            self._batches[batch_id] = batch
            self._open[batch_id] = batch
            self._requests_seen += len(records)
            if faults.create_landed_500 or faults.create_landed_drop:
                landed = self._fault_rng.random()
                if landed < faults.create_landed_500:  # the batch exists and is billed; the answer is lost
                    return self._error(500, "api_error", "Internal server error")
                if landed < faults.create_landed_500 + faults.create_landed_drop:
                    return Response(drop=True)
            return Response(200, batch.view(self._host_url(request), self.clock(), self.results_retention_seconds),
                            content_type="application/json")

    def _parse_batch(self, raw: bytes, version: str) -> list[Record]:
        # Messages are those of the live API as captured in a public research note (2026-09,
        # "custom_id's must be unique…", "String should match pattern…", "List should have at least 1 item…").
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _Invalid(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Invalid("Input should be a valid dictionary")
        requests = body.get("requests")
        if requests is None:
            raise _Invalid("requests: Field required")
        if not isinstance(requests, list):
            raise _Invalid("requests: Input should be a valid list")
        if not requests:
            raise _Invalid("requests: List should have at least 1 item after validation, not 0")
        if len(requests) > self.max_requests:
            raise _Invalid(f"requests: List should have at most {self.max_requests} items after validation, "
                           f"not {len(requests)}")
        seen: set[str] = set()
        duplicate: str | None = None
        for i, item in enumerate(requests):
            if not isinstance(item, dict):
                raise _Invalid(f"requests.{i}: Input should be a valid dictionary")
            cid = item.get("custom_id")
            if cid is None:
                raise _Invalid(f"requests.{i}.custom_id: Field required")
            if not isinstance(cid, str):
                raise _Invalid(f"requests.{i}.custom_id: Input should be a valid string")
            if len(cid) > 64:
                raise _Invalid(f"requests.{i}.custom_id: String should have at most 64 characters")
            if not cid:
                raise _Invalid(f"requests.{i}.custom_id: String should have at least 1 character")
            if not CUSTOM_ID.match(cid):
                raise _Invalid(f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if cid in seen and duplicate is None:
                duplicate = cid
            seen.add(cid)
            params = item.get("params")
            if params is None:
                raise _Invalid(f"requests.{i}.params: Field required")
            if not isinstance(params, dict):
                raise _Invalid(f"requests.{i}.params: Input should be a valid dictionary")
        if duplicate is not None:
            raise _Invalid(
                f"requests: custom_id's must be unique within a batch. Duplicate custom_id found: {duplicate}"
            )
        schemas: list[tuple[dict[str, Any], int]] = []
        return [_record(item["custom_id"], item["params"], schemas, version) for item in requests]

    # -- GET /v1/messages/batches[/{id}] ---------------------------------------------------------
    def _retrieve(self, request: Request) -> Response:
        with self.lock:
            batch = self._get(request.params["id"])
            if batch is None:
                return self._missing(request.params["id"])
            view = batch.view(self._host_url(request), self.clock(), self.results_retention_seconds)
        # Live capture (research note, 2026-09): in-progress polls carried retry-after: 10.
        headers = {"retry-after": "10"} if view["processing_status"] != "ended" else {}
        return Response(200, view, headers, content_type="application/json")

    def _list(self, request: Request) -> Response:
        # Shape: alexrudall/anthropic spec/fixtures/cassettes/batch_list_with_params.yml (data, has_more,
        # first_id, last_id); limit 1..1000, default 20 (SDK docstring of batches.list).
        raw_limit = request.arg("limit", "20") or "20"
        try:
            limit = int(raw_limit)
        except ValueError:
            return self._error(400, "invalid_request_error", "limit: Input should be a valid integer, "
                                                               "unable to parse string as an integer")
        if limit < 1:
            return self._error(400, "invalid_request_error", "limit: Input should be greater than or equal to 1")
        if limit > 1000:
            return self._error(400, "invalid_request_error", "limit: Input should be less than or equal to 1000")
        after_id, before_id = request.arg("after_id"), request.arg("before_id")
        if after_id and before_id:
            return self._error(400, "invalid_request_error", "Cannot specify both after_id and before_id")
        base_url = self._host_url(request)
        with self.lock:
            now = self.clock()
            items = self._newest_first()
            ids = [b.id for b in items]
            if after_id:
                start = ids.index(after_id) + 1 if after_id in ids else len(ids)
                page, has_more = items[start:start + limit], start + limit < len(items)
            elif before_id:
                stop = ids.index(before_id) if before_id in ids else 0
                page, has_more = items[max(0, stop - limit):stop], stop - limit > 0
            else:
                page, has_more = items[:limit], len(items) > limit
            data = [b.view(base_url, now, self.results_retention_seconds) for b in page]
        return Response(200, {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }, content_type="application/json")

    # -- cancel / delete -----------------------------------------------------------------------
    def _cancel(self, request: Request) -> Response:
        with self.lock:
            batch = self._get(request.params["id"])
            if batch is None:
                return self._missing(request.params["id"])
            if batch.ended is not None:
                # Unconfirmed wording; the API reference says batches can be canceled "any time before
                # processing ends".
                return self._error(400, "invalid_request_error",
                                   f"Message Batch {batch.id} has already ended and cannot be canceled.")
            if batch.cancel_at is None:
                batch.cancel_at = self.clock()
            # alexrudall/anthropic batch_cancel.yml: canceling, counts unchanged, cancel_initiated_at set
            view = batch.view(self._host_url(request), self.clock(), self.results_retention_seconds)
        return Response(200, view, content_type="application/json")

    def _delete(self, request: Request) -> Response:
        with self.lock:
            batch = self._get(request.params["id"])
            if batch is None:
                return self._missing(request.params["id"])
            if batch.ended is None:
                # Live capture (research note, 2026-09)
                return self._error(400, "invalid_request_error",
                                   "In progress batches cannot be deleted. Consider canceling the batch instead.")
            batch.deleted = True
        return Response(200, {"id": batch.id, "type": "message_batch_deleted"}, content_type="application/json")

    # -- GET /v1/messages/batches/{id}/results -------------------------------------------------
    def _results(self, request: Request) -> Response:
        with self.lock:
            batch = self._get(request.params["id"])
            if batch is None:
                return self._missing(request.params["id"])
            expired = self.clock() >= batch.created + self.results_retention_seconds
            if batch.ended is None or expired:
                # alexrudall/anthropic batch_results.yml (2025-01): 404 not_found_error
                # "Message Batch <id> has no available results." while in progress. After the 29 days the
                # same answer is assumed (no recording).
                return self._error(404, "not_found_error", f"Message Batch {batch.id} has no available results.")
            if (self._faults.results_late and self.clock() < batch.ended + RESULTS_LATE_SECONDS
                    and random.Random(f"{self.seed}:{batch.id}:late").random() < self._faults.results_late):
                # DESIGN §7: a download recorded answering 404 just after the batch ended, 200 seventy seconds later
                return self._error(404, "not_found_error", f"Message Batch {batch.id} has no available results.")
        # Research note capture (2026-09): content-type application/x-jsonl; the file name is from
        # alexrudall/anthropic batch_messages_results.yml (Content-Disposition: attachment).
        return Response(
            200,
            headers={"content-disposition": f'attachment; filename="{batch.id}_results.jsonl"'},
            content_type="application/x-jsonl",
            stream=stream_results(batch, self.seed, faults=self._faults),
        )

    # -- PUT|DELETE /_sim/account -------------------------------------------------------------
    def _put_account(self, request: Request) -> Response:
        try:
            body = request.json() or {}
            self.refuse(str(body.get("refuse")), body.get("retry_after"))
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
        return Response(200, {"refuse": self._refusal[0] if self._refusal else None})

    def _delete_account(self, request: Request) -> Response:
        self.clear_refusal()
        return Response(200, {"refuse": None})

    # -- PUT /_sim/faults ----------------------------------------------------------------------
    def _put_faults(self, request: Request) -> Response:
        try:
            rates = request.json() or {}
            if not isinstance(rates, dict):
                raise ValueError("body must be a JSON object of rates")
            self.set_faults(**rates)
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
        return Response(200, self.faults())


def _request_id(rng: random.Random) -> str:
    # req_011CWfgTxvZTs8ocP6cAyx6S (batch-create.json): "req_011C" and 20 base62 characters
    return "req_011C" + make_id("", rng)[4:]


def _params_problem(params: dict[str, Any]) -> str | None:
    """What is wrong with a request's params, as ``field: message``, or None."""
    model = params.get("model")
    if model is None:
        return "model: Field required"
    if not isinstance(model, str):
        return "model: Input should be a valid string"
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        return "max_tokens: Field required"
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        return "max_tokens: Input should be a valid integer"
    if max_tokens < 1:
        # live batch row: "max_tokens: must be greater than or equal to 1" (research note, 2026-09)
        return "max_tokens: must be greater than or equal to 1"
    messages = params.get("messages")
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    return None


def _record(custom_id: str, params: dict[str, Any], schemas: list[tuple[dict[str, Any], int]], version: str) -> Record:
    problem = _params_problem(params)
    if problem is None and version >= "2026-10-21":
        # "temperature: Extra inputs are not permitted" even at default values (versioning page; qiita
        # Synthorai report). Extra params in a batch fail per request, as the research-note capture saw
        # for "tools.0…_requestedType: Extra inputs are not permitted".
        sent = next((name for name in SAMPLING_PARAMS if name in params), None)
        if sent is not None:
            problem = f"{sent}: Extra inputs are not permitted"
    if problem is not None:
        return Record(custom_id, str(params.get("model")), 1, 0, (), None, None, ("invalid_request_error", problem))
    model_name = params["model"]
    info = stand_in.resolve_model(model_name)
    if info is None:
        # error-404-not-found-model.json; in a batch it is an errored row (research note capture)
        return Record(custom_id, model_name, params["max_tokens"], 0, (), None, None,
                      ("not_found_error", f"model: {model_name}"))
    if params["max_tokens"] > info.max_output:
        message = (f"max_tokens: {params['max_tokens']} > {info.max_output}, which is the maximum allowed number "
                   f"of output tokens for {info.model_id}")  # batch-result-errored-line.json
        return Record(custom_id, model_name, params["max_tokens"], 0, (), None, None,
                      ("invalid_request_error", message))
    if params.get("stream"):
        return Record(custom_id, model_name, params["max_tokens"], 0, (), None, None,
                      ("invalid_request_error", '"stream=True" is not supported in the Message Batches API'))
    prompt = stand_in.read_prompt(params, info.model_id)
    schema = stand_in.output_schema(params)
    extra = 0
    if schema is not None:
        # Requests of a batch nearly always share one schema: keep one copy and count it once.
        known = next((pair for pair in schemas if pair[0] == schema), None)
        if known is None:
            known = (schema, stand_in.schema_tokens(schema))
            schemas.append(known)
        schema, extra = known
    return Record(
        custom_id=custom_id,
        model=model_name,
        max_tokens=params["max_tokens"],
        input_tokens=prompt.input_tokens + extra,
        breakpoints=prompt.breakpoints,
        schema=schema,
        analysis=stand_in.analyse(prompt.user_text),
    )
