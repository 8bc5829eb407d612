"""A loopback simulator of the Zendesk Support API (the parts the triage sidecar uses).

Start it in-process::

    sim = ZendeskSim(email="triage-bot@example.com", token="sim-token")
    base_url = sim.start()          # http://127.0.0.1:PORT
    sim.seed(500, seed=1)
    ...
    sim.stop()

zenpy has no base-URL argument: point it here with ``ZENPY_FORCE_SCHEME=http`` and
``ZENPY_FORCE_NETLOC=127.0.0.1:PORT``. Every absolute URL the simulator returns is built
from the request's ``Host`` header, so pagination links lead back to it.

Behaviour follows the recorded real responses (tests/fixtures/real/zendesk) and the
Zendesk docs; ``zendesk_shapes`` lists the source of every body. Limits are settable so
tests stay fast, and a ``/_sim/`` API (no auth, no limits, no faults) lets tests and the
demo seed tickets, add customer replies and read everything back.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import time
from typing import Any
from urllib.parse import quote, urlencode

from zdtriage.sim import zendesk_shapes as shapes
from zdtriage.sim.helpcenter import HelpCenter
from zdtriage.sim.server import Clock, Handler, Request, Response, SimServer
from zdtriage.sim.zendesk_admin import ZendeskAdmin
from zdtriage.sim.zendesk_inspect import ZendeskInspection
from zdtriage.sim.zendesk_store import BOT_USER_ID, MAX_BULK, ApiError, Store, comments_of

EXPORT_MAX_PER_PAGE = 1000  # Zendesk incremental exports docs
EXPORT_PER_MINUTE = 10  # "up to 10 requests per minute to these endpoints" (Incremental Exports docs)
EXPORT_PER_MINUTE_HIGH_VOLUME = 30  # with the High Volume API add-on (DESIGN §7)
COMMENTS_MAX_PAGE_SIZE = 100  # Zendesk cursor pagination docs
# The account's API limit a minute, over all endpoints and shared with every app of the account (DESIGN §7,
# Zendesk "Rate limits" docs: Team 200, Growth/Professional 400, Enterprise 700, Enterprise Plus / High Volume 2,500)
PLANS = {"team": 200, "growth": 400, "professional": 400, "enterprise": 700, "enterprise_plus": 2500,
         "high_volume": 2500}


class _Window:
    """A fixed-window request counter (Zendesk reports ``ratelimit-reset`` = seconds to the next window).

    ``background``: requests a window that another app of the account spends steadily over it (on the sim
    clock) from the same limit; ``own`` counts the requests that came through the API, ``peak_own`` its most
    in one window."""

    def __init__(self, limit: int | None, seconds: float, background: int = 0) -> None:
        self.limit = limit
        self.seconds = seconds
        self.background = background
        self._index = -1
        self.count = 0
        self.own = self.peak_own = self.background_total = self.background_refused = 0
        self.min_left: int | None = None  # the least the account had left just after one of our accepted requests
        self._background_spent = 0

    def accrue(self, now: float) -> None:
        """Start a new window when due, and count the other app's requests made by ``now``."""
        index = int(now // self.seconds)
        if index != self._index:
            if self._index >= 0:
                self._spend_background(self.background)  # the rest of the old window happened meanwhile
            self._index, self.count, self.own, self._background_spent = index, 0, 0, 0
        self._spend_background(math.floor(self.background * (now - index * self.seconds) / self.seconds))

    def _spend_background(self, due: int) -> None:
        if self.background:
            for _ in range(due - self._background_spent):
                # the other app's request is refused when the window is spent (it is not ours to count)
                if self.limit is not None and self.count >= self.limit:
                    self.background_refused += 1
                else:
                    self.count += 1
                    self.background_total += 1
            self._background_spent = max(due, self._background_spent)

    def hit(self, now: float) -> bool:
        """Count one request; True if it is over the limit."""
        self.accrue(now)
        self.count += 1
        self.own += 1
        self.peak_own = max(self.peak_own, self.own)
        if self.limit is not None and self.count <= self.limit:
            self.min_left = min(self.limit - self.count, self.limit if self.min_left is None else self.min_left)
        return self.limit is not None and self.count > self.limit

    def reset_in(self, now: float) -> int:
        return max(1, math.ceil((int(now // self.seconds) + 1) * self.seconds - now))

    def remaining(self) -> int:
        return max(0, (self.limit or 0) - self.count)


class ZendeskSim(ZendeskAdmin, ZendeskInspection, SimServer):
    """The Zendesk Support API simulator; see the module docstring and ``ZendeskInspection``.

    ``email`` / ``token``: the only accepted credentials (Basic ``email/token:TOKEN`` or
    ``Bearer TOKEN``). ``clock``: epoch seconds, e.g. a ``ManualClock``. Limits count per fixed
    window of ``rate_window_seconds``: ``rate_per_minute`` for every real-API request,
    ``export_per_minute`` for the two incremental exports, ``ticket_updates_per_minute`` (None =
    off) for ``PUT /tickets/{id}``. ``export_exclude_recent_seconds``: changes this recent are not
    exported yet. ``job_complete_after_seconds``: clock time before an update_many job applies
    (it reports ``working`` from half-way). ``max_queued_jobs``: queued or working jobs allowed.
    ``job_status_ttl_seconds`` / ``job_status_keep``: a job status is forgotten after that long and beyond
    the newest that many (404 ``RecordNotFound``, left out of show_many; defaults from the 2021 report of
    an hour and 100 jobs, harsher than the documented day: DESIGN §7). ``stick_jobs`` / ``fail_job_items``:
    jobs that stay queued, items refused.
    ``fault_seed``: seed of the injected-fault draws (see ``set_faults``). ``high_volume``: the High
    Volume add-on (30 export requests a minute instead of 10; ``export_per_minute`` overrides either).
    ``plan``: the account limit's preset (:data:`PLANS`; ``rate_per_minute`` overrides it).
    ``other_app_per_minute``: another app spends this many requests a minute, evenly on the sim clock, from
    the same account limit. ``admin``: the token's user is an admin (else the exports answer 403).
    ``default_triggers``: Zendesk's standard notification triggers are active, as on every real account
    (their e-mails appear as ``Notification`` events in audits and in the event export).
    """

    def __init__(
        self,
        email: str = "triage-bot@example.com",
        token: str = "sim-token",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        export_per_minute: int | None = None,
        rate_per_minute: int | None = None,
        rate_window_seconds: float = 60,
        export_exclude_recent_seconds: int = 60,
        job_complete_after_seconds: float = 0.0,
        max_queued_jobs: int = 30,
        job_status_ttl_seconds: float | None = 3600.0,
        job_status_keep: int | None = 100,
        ticket_updates_per_minute: int | None = None,
        fault_seed: int = 0,
        high_volume: bool = False,
        default_triggers: bool = True,
        plan: str = "enterprise",
        other_app_per_minute: int = 0,
        admin: bool = True,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.email = email
        self.token = token
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {sorted(PLANS)}")
        self.rate_per_minute = rate_per_minute = PLANS[plan] if rate_per_minute is None else rate_per_minute
        self.admin = admin
        self.export_exclude_recent_seconds = export_exclude_recent_seconds
        self.job_complete_after_seconds = job_complete_after_seconds
        self.max_queued_jobs = max_queued_jobs
        self.job_status_ttl_seconds = job_status_ttl_seconds
        self.job_status_keep = job_status_keep
        self._stuck_jobs: list[float] = []  # how long each of the next update_many jobs stays queued
        self.store = Store(triggers=default_triggers)
        self.help_center = HelpCenter(clock)  # articles and their incremental export (sim/helpcenter.py)
        if export_per_minute is None:
            export_per_minute = EXPORT_PER_MINUTE_HIGH_VOLUME if high_volume else EXPORT_PER_MINUTE
        # another app of the account spends its requests a minute from the same limit (DESIGN §7: shared)
        self._account = _Window(rate_per_minute, rate_window_seconds,
                                background=round(other_app_per_minute * rate_window_seconds / 60))
        # One window for both incremental exports: the limit is the account's, not the endpoint's (DESIGN §7;
        # incremental-export-429.json was answered on incremental/users.json by the same rule)
        self._export = _Window(export_per_minute, rate_window_seconds)
        self._ticket_updates = _Window(ticket_updates_per_minute, rate_window_seconds)
        self._faults = {"rate_429": 0.0, "rate_500": 0.0, "rate_503": 0.0}
        self._fault_rng = random.Random(fault_seed)
        self._counters = {
            "rate_limited": 0,
            "faults_injected": 0,
            "unauthorized": 0,
            "max_update_many_size": 0,
            "max_jobs_in_flight": 0,
            "jobs_created": 0,
        }
        self._register_routes()

    # -- routes -----------------------------------------------------------------------------
    def _register_routes(self) -> None:
        api = self._api
        self._register_admin_routes()  # first: its users/me carries the role (zendesk_admin)
        # Specific paths before "{id}" patterns: the route table matches in order.
        self.route("GET", "/api/v2/incremental/tickets/cursor.json", api(self._export_cursor))
        self.route("GET", "/api/v2/incremental/ticket_events.json", api(self._export_events))
        self.route("GET", "/api/v2/tickets/show_many.json", api(self._show_many))
        self.route("PUT", "/api/v2/tickets/update_many.json", api(self._update_many))
        self.route("GET", "/api/v2/tickets/{id}/comments.json", api(self._comments))
        self.route("GET", "/api/v2/tickets/{id}/audits.json", api(self._audits))
        self.route("GET", "/api/v2/users/me.json", api(self._me))
        self.route("GET", "/api/v2/users/show_many.json", api(self._users_show_many))
        self.route("GET", "/api/v2/help_center/incremental/articles.json",
                   api(lambda request: self.help_center.export(request, self._base(request))))
        self.route("GET", "/api/v2/macros/active.json",
                   api(lambda request: self.help_center.macros_active(request, self._base(request))))
        for method in ("GET", "PUT", "POST", "DELETE"):
            self.route(method, "/api/v2/tickets/{id}/tags.json", api(self._tags))
        self.route("GET", "/api/v2/tickets/{id}.json", api(self._show_ticket))
        self.route("PUT", "/api/v2/tickets/{id}.json", api(self._update_ticket))
        self.route("DELETE", "/api/v2/tickets/{id}.json", api(self._delete_ticket))
        self.route("GET", "/api/v2/job_statuses/show_many.json", api(self._jobs_show_many))
        self.route("GET", "/api/v2/job_statuses/{id}.json", api(self._job_show))
        self._register_sim_routes()

    def not_found(self, request: Request) -> Response:
        if request.path.startswith("/api/"):
            return Response(404, shapes.INVALID_ENDPOINT)
        return Response(404, {"error": "Not found"})

    def _api(self, handler: Handler) -> Handler:
        """Wrap a real-API handler with what Zendesk does to every request: injected faults,
        auth, the account-wide limit, due background jobs and the rate-limit headers."""

        def wrapped(request: Request) -> Response:
            with self.lock:
                now = self.clock()
                self.store.process_jobs(now, BOT_USER_ID)
                self.store.expire_job_statuses(now, self.job_status_ttl_seconds, self.job_status_keep)
                response = self._inject_fault()
                if response is None and not self._authorized(request):
                    self._counters["unauthorized"] += 1
                    response = Response(401, shapes.AUTH_FAILED, {"www-authenticate": 'Basic realm="Web Password"'})
                if response is None:
                    if self._account.hit(now):
                        response = Response(
                            429, shapes.ACCOUNT_RATE_LIMITED, {"retry-after": str(self._account.reset_in(now))}
                        )
                    else:
                        try:
                            response = handler(request)
                        except ApiError as exc:
                            response = Response(exc.status, exc.body, dict(exc.headers))
                    response.headers.update(self._rate_headers(now))
                if response.status == 429:
                    self._counters["rate_limited"] += 1
                return response

        return wrapped

    def _rate_headers(self, now: float) -> dict[str, str]:
        # Header family of the 2024 recordings (ticket-comments-cursor.json) and the rate-limits docs.
        self._account.accrue(now)
        limit, remaining, reset = (
            str(self.rate_per_minute),
            str(self._account.remaining()),
            str(self._account.reset_in(now)),
        )
        return {
            "x-rate-limit": limit,
            "x-rate-limit-remaining": remaining,
            "ratelimit-limit": limit,
            "ratelimit-remaining": remaining,
            "ratelimit-reset": reset,
        }

    def _inject_fault(self) -> Response | None:
        f = self._faults
        total = f["rate_429"] + f["rate_500"] + f["rate_503"]
        if total <= 0:
            return None
        draw = self._fault_rng.random()
        if draw >= total:
            return None
        self._counters["faults_injected"] += 1
        if draw < f["rate_429"]:
            return Response(429, shapes.ACCOUNT_RATE_LIMITED, {"retry-after": "1"})
        if draw < f["rate_429"] + f["rate_500"]:
            return Response(500, shapes.SERVER_ERROR)
        return Response(503, shapes.UNAVAILABLE_HTML, {"retry-after": "1"}, content_type="text/html")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() == self.token
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.email}/token:{self.token}"
        return False

    @staticmethod
    def _base(request: Request) -> str:
        return f"http://{request.headers.get('host', '127.0.0.1')}"

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, shapes.invalid_value("Request body is not valid JSON")) from None
        return body if isinstance(body, dict) else {}

    # -- incremental exports ----------------------------------------------------------------
    def _export_limit(self, now: float) -> None:
        if not self.admin:
            raise ApiError(403, shapes.FORBIDDEN)  # exports are for admins only (DESIGN §7)
        if self._export.hit(now):
            raise ApiError(429, shapes.EXPORT_RATE_LIMITED, {"retry-after": str(self._export.reset_in(now))})

    def _per_page(self, request: Request, maximum: int) -> tuple[int, bool]:
        raw = request.arg("per_page")
        if raw is None:
            return maximum, False
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= maximum:
            raise ApiError(400, shapes.invalid_value(f"per_page must be between 1 and {maximum}"))
        return value, True

    def _start_time(self, raw: str, now: float) -> int:
        try:
            start = int(raw)
        except ValueError:
            raise ApiError(400, shapes.invalid_value("start_time must be a Unix epoch time in seconds")) from None
        if start > now - self.export_exclude_recent_seconds:
            minutes = max(1, math.ceil(self.export_exclude_recent_seconds / 60))
            unit = "minute" if minutes == 1 else "minutes"
            raise ApiError(
                422, shapes.invalid_value(f"Too recent start_time. Use a start_time older than {minutes} {unit}")
            )
        return start

    @staticmethod
    def _encode_cursor(gts: int, ticket_id: int) -> str:
        # Real cursors decode to "<generated_timestamp>.0||<id>|" (incremental-tickets-cursor-*.json).
        return base64.b64encode(f"{gts}.0||{ticket_id}|".encode()).decode()

    @staticmethod
    def _decode_cursor(cursor: str) -> tuple[int, int]:
        try:
            # zenpy sends ?cursor= unescaped, so a "+" may arrive as a space.
            text = base64.b64decode(cursor.replace(" ", "+"), validate=True).decode()
            stamp, _, rest = text.partition("||")
            return int(float(stamp)), int(rest.strip("|"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ApiError(400, shapes.invalid_value("Invalid cursor")) from None

    def _export_cursor(self, request: Request) -> Response:
        now = self.clock()
        self._export_limit(now)
        cursor, start_raw = request.arg("cursor"), request.arg("start_time")
        if (cursor is None) == (start_raw is None):
            raise ApiError(400, shapes.invalid_value("Provide either start_time or cursor"))
        per_page, explicit = self._per_page(request, EXPORT_MAX_PER_PAGE)
        after = self._decode_cursor(cursor) if cursor is not None else None
        start = self._start_time(start_raw, now) if start_raw is not None else None
        cutoff = int(now) - self.export_exclude_recent_seconds
        page = self.store.export_page(after, start, per_page, cutoff)
        base = self._base(request)
        body: dict[str, Any]
        if not page:  # incremental-tickets-cursor-empty-final-page.json
            body = {
                "tickets": [],
                "after_url": None,
                "before_url": None,
                "after_cursor": None,
                "before_cursor": None,
                "end_of_stream": True,
            }
            return Response(200, body)
        last = page[-1]
        next_cursor = self._encode_cursor(last.gts, last.id)
        after_url = f"{base}/api/v2/incremental/tickets/cursor.json?cursor={quote(next_cursor, safe='')}"
        if explicit:
            after_url += f"&per_page={per_page}"
        body = {
            "tickets": [shapes.ticket_json(t, base, generated_timestamp=True) for t in page],
            "after_url": after_url,
            "before_url": None,
            "after_cursor": next_cursor,
            "before_cursor": None,
            # A full page says "more may follow" even when it holds the last ticket
            # (incremental-tickets-cursor-second-page.json).
            "end_of_stream": len(page) < per_page,
        }
        return Response(200, body)

    def _export_events(self, request: Request) -> Response:
        now = self.clock()
        self._export_limit(now)
        start_raw = request.arg("start_time")
        if start_raw is None:
            raise ApiError(400, shapes.invalid_value("start_time is required"))
        start = self._start_time(start_raw, now)
        per_page, explicit = self._per_page(request, EXPORT_MAX_PER_PAGE)
        include = request.arg("include") or ""
        with_comments = "comment_events" in include.split(",")
        cutoff = int(now) - self.export_exclude_recent_seconds
        audits, end_time = self.store.events_page(start, per_page, cutoff)
        base = self._base(request)
        if not audits:  # incremental-tickets-time-based-empty-final-page.json
            return Response(
                200, {"ticket_events": [], "count": 0, "end_of_stream": True, "next_page": None, "end_time": None}
            )
        query = {"start_time": str(end_time)}
        if include:
            query["include"] = include
        if explicit:
            query["per_page"] = str(per_page)
        body = {
            "ticket_events": [shapes.ticket_event_json(a, with_comments, self.store.tickets[a.ticket_id].requester_id)
                              for a in audits],
            "count": len(audits),
            "end_of_stream": len(audits) < per_page,
            "next_page": f"{base}/api/v2/incremental/ticket_events.json?{urlencode(query)}",
            "end_time": end_time,
        }
        return Response(200, body)

    # -- tickets ----------------------------------------------------------------------------
    def _show_ticket(self, request: Request) -> Response:
        t = self.store.get(request.params["id"])
        return Response(200, {"ticket": shapes.ticket_json(t, self._base(request))})

    def _show_many(self, request: Request) -> Response:
        ids = [part for part in (request.arg("ids") or "").split(",") if part.strip()]
        if len(ids) > MAX_BULK:
            raise ApiError(400, shapes.too_many_values("ids", MAX_BULK))
        base = self._base(request)
        tickets = []
        for raw in ids:
            try:
                tickets.append(shapes.ticket_json(self.store.get(raw.strip()), base))
            except ApiError:
                continue  # show_many leaves out ids it cannot find
        return Response(200, {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)})

    def _update_ticket(self, request: Request) -> Response:
        now = self.clock()
        body = self._body(request)
        changes = body.get("ticket")
        if not isinstance(changes, dict):
            raise ApiError(400, shapes.invalid_value("Parameter 'ticket' is required"))
        t = self.store.get(request.params["id"])
        if self._ticket_updates.hit(now):
            raise ApiError(
                429, shapes.TICKET_UPDATE_RATE_LIMITED, {"retry-after": str(self._ticket_updates.reset_in(now))}
            )
        self.store.check_per_ticket_limit(t.id, now)
        audit = self.store.update(t, changes, BOT_USER_ID, int(now))
        headers = {}
        if "id" in changes:
            # ticket-update-put.json: "id" inside the body is dropped with a warning header
            headers["x-zendesk-api-warn"] = (
                '{:allowed_parameters=>{:controller=>"tickets", :action=>"update", '
                ':unpermitted_keys=>["ticket.id"], :invalid_values=>[]}}'
            )
        base = self._base(request)
        return Response(200, {"ticket": shapes.ticket_json(t, base), "audit": shapes.audit_json(audit, t.requester_id)},
                        headers)

    def _delete_ticket(self, request: Request) -> Response:
        t = self.store.get(request.params["id"])
        self.store.delete(t, BOT_USER_ID, self._now())
        return Response(204, None, content_type="application/json; charset=utf-8")

    def _comments(self, request: Request) -> Response:
        t = self.store.get(request.params["id"])
        comments = comments_of(t)
        base = self._base(request)
        path = f"{base}/api/v2/tickets/{t.id}/comments.json"
        if not any(key.startswith("page[") for key in request.query):
            # Offset pagination when no page[...] is sent (ticket-comments-offset-2017.json).
            try:
                page = max(1, int(request.arg("page", "1") or 1))
                size = min(COMMENTS_MAX_PAGE_SIZE, max(1, int(request.arg("per_page", "100") or 100)))
            except ValueError:
                raise ApiError(400, shapes.invalid_pagination("page and per_page must be integers")) from None
            chunk = comments[(page - 1) * size : page * size]
            more = page * size < len(comments)
            return Response(
                200,
                {
                    "comments": [shapes.comment_json(c) for c in chunk],
                    "next_page": f"{path}?page={page + 1}&per_page={size}" if more else None,
                    "previous_page": f"{path}?page={page - 1}&per_page={size}" if page > 1 else None,
                    "count": len(comments),
                },
            )
        try:
            size = int(request.arg("page[size]", str(COMMENTS_MAX_PAGE_SIZE)) or 0)
        except ValueError:
            size = 0
        if not 1 <= size <= COMMENTS_MAX_PAGE_SIZE:
            raise ApiError(400, shapes.invalid_pagination(f"page[size] must be between 1 and {COMMENTS_MAX_PAGE_SIZE}"))
        after, before = request.arg("page[after]"), request.arg("page[before]")
        if before is not None:
            end = self._decode_comment_cursor(before)
            start = max(0, end - size)
            has_more = start > 0
        else:
            start = self._decode_comment_cursor(after) + 1 if after is not None else 0
            end = start + size
            has_more = end < len(comments)
        chunk = comments[start:end]
        extra = {k: v[0] for k, v in request.query.items() if not k.startswith("page[")}
        meta: dict[str, Any] = {"has_more": has_more, "after_cursor": None, "before_cursor": None}
        links: dict[str, Any] = {"prev": None, "next": None}
        if chunk:
            first_cursor, last_cursor = self._comment_cursor(start), self._comment_cursor(start + len(chunk) - 1)
            meta.update(after_cursor=last_cursor, before_cursor=first_cursor)
            # ticket-comments-cursor.json: links are set even when has_more is false; params sorted
            links["prev"] = (
                f"{path}?{urlencode(sorted({**extra, 'page[before]': first_cursor, 'page[size]': str(size)}.items()))}"
            )
            links["next"] = (
                f"{path}?{urlencode(sorted({**extra, 'page[after]': last_cursor, 'page[size]': str(size)}.items()))}"
            )
        return Response(200, {"comments": [shapes.comment_json(c) for c in chunk], "meta": meta, "links": links})

    def _audits(self, request: Request) -> Response:
        # ticket-audits-notifications.json: one page with offset-style links (we never need a second one)
        t = self.store.get(request.params["id"])
        audits = [shapes.audit_json(a, t.requester_id) for a in self.store.audits_of(t.id)]
        return Response(200, {"audits": audits, "next_page": None, "previous_page": None, "count": len(audits)})

    def _me(self, request: Request) -> Response:
        return Response(200, {"user": shapes.user_json(BOT_USER_ID, self.email, self._base(request), self.clock())})

    def _users_show_many(self, request: Request) -> Response:
        # Zendesk Users API "Show Many Users": at most 100 ids; ids it does not know are left out
        ids = [part.strip() for part in (request.arg("ids") or "").split(",") if part.strip()]
        if len(ids) > MAX_BULK:
            raise ApiError(400, shapes.too_many_values("ids", MAX_BULK))
        base, now, found = self._base(request), self.clock(), []
        for raw in ids:
            role = self.store.roles.get(int(raw)) if raw.isdigit() else None
            if role is not None:
                email = self.email if int(raw) == BOT_USER_ID else f"user{raw}@example.com"
                found.append(shapes.user_json(int(raw), email, base, now, role=role, name=f"User {raw}"))
        return Response(200, {"users": found, "next_page": None, "previous_page": None, "count": len(found)})

    @staticmethod
    def _comment_cursor(index: int) -> str:
        # Real cursors are base64 JSON {"o": "created_at,id", "v": <opaque>} (ticket-comments-cursor.json).
        inner = base64.b64encode(f"{index:016d}".encode()).decode()
        return base64.b64encode(json.dumps({"o": "created_at,id", "v": inner}, separators=(",", ":")).encode()).decode()

    @staticmethod
    def _decode_comment_cursor(cursor: str) -> int:
        try:
            outer = json.loads(base64.b64decode(cursor.replace(" ", "+"), validate=True))
            return int(base64.b64decode(outer["v"]).decode())
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise ApiError(400, shapes.invalid_pagination("Invalid page cursor")) from None

    def _tags(self, request: Request) -> Response:
        t = self.store.get(request.params["id"])
        if request.method == "GET":
            return Response(200, {"tags": list(t.tags)})
        tags = self._body(request).get("tags")
        if tags is None:
            raise ApiError(400, shapes.invalid_value("Parameter 'tags' is required"))
        now = self.clock()
        self.store.check_per_ticket_limit(t.id, now)
        mode = {"PUT": "add", "POST": "set", "DELETE": "remove"}[request.method]
        result = self.store.set_tags(t, mode, tags, BOT_USER_ID, int(now))
        # tags-set-post.json answers 201, tags-add-put.json 200; both with the full list.
        return Response(201 if mode == "set" else 200, {"tags": result})

    # -- bulk updates and jobs --------------------------------------------------------------
    def _update_many(self, request: Request) -> Response:
        body = self._body(request)
        ids_param = request.arg("ids")
        items: list[tuple[int | None, dict[str, Any]]] = []
        if ids_param is not None:  # bulk form: same change to every id
            ids = [part.strip() for part in ids_param.split(",") if part.strip()]
            self._counters["max_update_many_size"] = max(self._counters["max_update_many_size"], len(ids))
            if len(ids) > MAX_BULK:
                raise ApiError(400, shapes.too_many_values("ids", MAX_BULK))
            changes = body.get("ticket")
            if not isinstance(changes, dict):
                raise ApiError(400, shapes.invalid_value("Parameter 'ticket' is required"))
            for raw in ids:
                items.append((int(raw) if raw.isdigit() else None, dict(changes)))
        else:  # batch form: each ticket with its own changes
            tickets = body.get("tickets")
            if not isinstance(tickets, list):
                raise ApiError(400, shapes.invalid_value("Parameter 'tickets' is required"))
            self._counters["max_update_many_size"] = max(self._counters["max_update_many_size"], len(tickets))
            if len(tickets) > MAX_BULK:
                raise ApiError(400, shapes.too_many_values("tickets", MAX_BULK))
            for item in tickets:
                item = dict(item) if isinstance(item, dict) else {}
                raw_id = item.pop("id", None)
                items.append((int(raw_id) if str(raw_id).isdigit() else None, item))
        now = self.clock()
        if self.store.in_flight() >= self.max_queued_jobs:
            soonest = self.store.next_job_due(now)
            raise ApiError(429, shapes.TOO_MANY_JOBS, {"retry-after": str(max(1, math.ceil(soonest - now)))})
        stuck_for = self._stuck_jobs.pop(0) if self._stuck_jobs else None
        job = self.store.create_job(items, now, self.job_complete_after_seconds, stuck_for=stuck_for)
        self._counters["jobs_created"] += 1
        self._counters["max_jobs_in_flight"] = max(self._counters["max_jobs_in_flight"], self.store.in_flight())
        # tickets-update-many-queued.json: 200 (not 202) and a queued job_status
        return Response(200, {"job_status": shapes.job_json(job, self._base(request))})

    def stick_jobs(self, n: int = 1, run_after: float | None = None) -> None:
        """The next ``n`` update_many jobs stay ``queued``: forever, or until ``run_after`` seconds have passed,
        then they apply as sent (a stuck job running late). DESIGN §7: "jobs ... can stay queued"."""
        with self.lock:
            self._stuck_jobs += [math.inf if run_after is None else float(run_after)] * n

    def fail_job_items(self, ticket_ids: list[int], details: str = "Follow Up Date: needed", times: int = 1) -> None:
        """The next ``times`` job items of these tickets fail as ``{index, error: "TicketUpdateFailed", id,
        details}`` with nothing applied (recorded shape: job-status-completed-with-errors.json; the details
        text is the one DESIGN §7 cites)."""
        with self.lock:
            for ticket_id in ticket_ids:
                self.store.item_failures.setdefault(int(ticket_id), []).extend([details] * times)

    def _job_show(self, request: Request) -> Response:
        job = self.store.jobs.get(request.params["id"])
        if job is None:
            raise ApiError(404, shapes.NOT_FOUND)
        return Response(200, {"job_status": shapes.job_json(job, self._base(request))})

    def _jobs_show_many(self, request: Request) -> Response:
        ids = [part.strip() for part in (request.arg("ids") or "").split(",") if part.strip()]
        if len(ids) > MAX_BULK:
            raise ApiError(400, shapes.too_many_values("ids", MAX_BULK))
        base = self._base(request)
        found = [shapes.job_json(self.store.jobs[i], base) for i in ids if i in self.store.jobs]
        return Response(200, {"job_statuses": found})


def make_zenpy_env(base_url: str) -> dict[str, str]:
    """The environment variables that send zenpy to ``base_url`` (``http://host:port``)."""
    scheme, _, netloc = base_url.partition("://")
    return {"ZENPY_FORCE_SCHEME": scheme, "ZENPY_FORCE_NETLOC": netloc}

