"""Prometheus metrics (optional) with prometheus-client, and ``GET /healthz`` beside them.

Two kinds of figures share one registry: what the store says (tickets per state, open batches, spend,
export lag, each stage's last success, the health verdict), read at scrape time through a read-only
connection of its own (the daemon's connection never crosses threads) and kept for a few seconds; and
what this process counted (Zendesk calls and 429s per endpoint, stage durations and outcomes). ``run``
serves them on ``metrics.host:metrics.port`` or writes them to ``metrics.textfile`` after each stage.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, make_wsgi_app, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import budget, health, reports, store
from .config import Config
from .store import pace
from .store import tickets as queue

CACHE_SECONDS = 5.0  # every agent's sidebar asks /healthz: one read of the store serves them all for this long
DURATION_BUCKETS = (0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
OUTCOMES = ("ok", "error", "crash")
CORS = [("Access-Control-Allow-Origin", "*")]  # the sidebar fetches /healthz from the agent's browser


def route_of(url: str) -> str:
    """A Zendesk URL's path with its ids as ``{id}`` and no query: ``/api/v2/tickets/{id}/comments.json``."""
    segments = []
    for segment in urlsplit(url).path.split("/"):
        stem, dot, ext = segment.partition(".")
        # ticket ids are numbers and job ids hex strings; no word of a Zendesk route has a digit but "v2"
        segments.append(("{id}" if stem != "v2" and any(c.isdigit() for c in stem) else stem) + dot + ext)
    return "/".join(segments)


class StoreView:
    """The store's figures and the health verdict, read through a read-only connection opened for each
    read, and kept ``cache_seconds`` (``monotonic``) so that a burst of scrapes reads the store once."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, cache_seconds: float = CACHE_SECONDS) -> None:
        self.config = config
        self._clock, self._monotonic, self._cache = clock, monotonic, cache_seconds
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None
        self._read_at = 0.0
        self.reads = 0  # how often the store was actually read

    def get(self, *, fresh: bool = False) -> dict[str, Any]:
        """The figures, read again when ``fresh`` or older than the cache."""
        with self._lock:
            if fresh or self._data is None or self._monotonic() - self._read_at >= self._cache:
                self._data = self._read()
                self._read_at = self._monotonic()
                self.reads += 1
            return self._data

    def _read(self) -> dict[str, Any]:
        now = self._clock()
        try:
            db = store.open_db(self.config.state.path, readonly=True)
        except store.StoreError as exc:
            return {"readable": False, "health": health.healthz(None, self.config, now, missing=str(exc))}
        try:
            spend = budget.spend(db, now)
            return {
                "readable": True,
                "tickets": queue.counts(db),
                "batches_open": int(next(db.query(
                    "select count(*) as n from batches where state in ('open', 'creating')"))["n"]),
                "spend": {"today": spend.spent, "month": spend.spent_month},
                "reserved": spend.reserved,
                "export_lag": reports.flow(db, now)["event_lag_seconds"],
                "zendesk_limit": pace.account_limit(db, now),
                "submit_held": store.get_sync(db, "hold:submit") is not None,
                "budget_held": (health.budget_hold(db) or {}).get("tickets", 0),
                "beats": health.heartbeats(db),
                "health": health.healthz(db, self.config, now),
            }
        except sqlite3.Error as exc:  # locked past the timeout, a damaged page: the scrape says so, never crashes
            return {"readable": False, "health": health.healthz(None, self.config, now, missing=health.unreadable(
                self.config, exc))}
        finally:
            db.close()


class _StoreCollector(Collector):
    def __init__(self, view: StoreView) -> None:
        self.view = view

    def describe(self) -> list[Any]:
        return []  # nothing is read at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        data = self.view.get()
        yield GaugeMetricFamily(
            "zdtriage_state_readable", "1 when the state database could be read", value=int(data["readable"])
        )
        yield GaugeMetricFamily("zdtriage_healthy", "1 when `zdtriage status --check` would exit 0",
                                value=int(data["health"]["healthy"]))
        if not data["readable"]:
            return
        tickets = GaugeMetricFamily("zdtriage_tickets", "Tickets per state", labels=["state"])
        for state, n in data["tickets"].items():
            tickets.add_metric([state], n)
        yield tickets
        yield GaugeMetricFamily("zdtriage_batches_open", "Message Batches created and not collected yet",
                                value=data["batches_open"])
        spend = GaugeMetricFamily("zdtriage_spend_usd", "Actual spend of batches created this UTC day / month",
                                  labels=["period"])
        for period, usd in data["spend"].items():
            spend.add_metric([period], usd)
        yield spend
        yield GaugeMetricFamily("zdtriage_reserved_usd", "Worst-case dollars reserved by requests in open batches",
                                value=data["reserved"])
        caps = GaugeMetricFamily("zdtriage_budget_usd", "The configured caps (0 = no cap)", labels=["period"])
        caps.add_metric(["today"], self.view.config.budget.daily_usd)
        caps.add_metric(["month"], self.view.config.budget.monthly_usd)
        yield caps
        yield GaugeMetricFamily("zdtriage_budget_held_tickets", "Tickets the budget kept queued at the last submit",
                                value=data["budget_held"])
        yield GaugeMetricFamily("zdtriage_submit_held", "1 while submitting is held because the account was refused",
                                value=int(data["submit_held"]))
        yield GaugeMetricFamily(
            "zdtriage_export_lag_seconds",
            "How far behind now the comment-event export has been read",
            value=data["export_lag"],
        )
        seen = data["zendesk_limit"]
        if seen:  # the account's API limit, shared with every app, as the last Zendesk response said
            yield GaugeMetricFamily("zdtriage_zendesk_rate_limit", "The account's Zendesk API requests a minute",
                                    value=seen["limit"])
            yield GaugeMetricFamily("zdtriage_zendesk_rate_limit_remaining",
                                    "What the account had left of its Zendesk API limit at the last response",
                                    value=seen["remaining"])
            yield GaugeMetricFamily("zdtriage_zendesk_rate_limit_age_seconds",
                                    "How long ago the last Zendesk response told the limit", value=seen["age_seconds"])
            yield GaugeMetricFamily("zdtriage_zendesk_calls_last_minute", "Our Zendesk calls in the last minute",
                                    value=seen["used_last_minute"])
        success = GaugeMetricFamily("zdtriage_stage_last_success_timestamp_seconds",
                                    "When each stage last succeeded (epoch seconds)", labels=["stage"])
        error = GaugeMetricFamily("zdtriage_stage_last_error_timestamp_seconds",
                                  "When each stage last failed (epoch seconds)", labels=["stage"])
        for stage, beat in data["beats"].items():
            if beat.get("last_success") is not None:
                success.add_metric([stage], beat["last_success"])
            if beat.get("last_error"):
                error.add_metric([stage], beat["last_error"]["at"])
        yield success
        yield error


class Metrics:
    """The service's registry: the store's figures plus what this process counts. Give
    :meth:`zendesk_call` to ``zendesk.make_client(on_call=…)`` and each stage summary to :meth:`stage_finished`."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, cache_seconds: float = CACHE_SECONDS) -> None:
        self.config = config
        self.registry = CollectorRegistry()
        self.view = StoreView(config, clock=clock, monotonic=monotonic, cache_seconds=cache_seconds)
        self.registry.register(_StoreCollector(self.view))
        self.zendesk_requests = Counter("zdtriage_zendesk_requests", "Zendesk API responses, per route and method",
                                        ["endpoint", "method"], registry=self.registry)
        self.zendesk_rate_limited = Counter("zdtriage_zendesk_rate_limited", "Zendesk 429 answers, per route",
                                            ["endpoint"], registry=self.registry)
        self.stage_duration = Histogram("zdtriage_stage_duration_seconds", "How long each stage run took",
                                        ["stage"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.stage_runs = Counter("zdtriage_stage_runs", "Stage runs by outcome (error: its summary says so; "
                                  "crash: it raised)", ["stage", "outcome"], registry=self.registry)
        for stage in health.STAGES:  # every series exists from the first scrape, at 0
            self.stage_duration.labels(stage)
            for outcome in OUTCOMES:
                self.stage_runs.labels(stage, outcome)

    def zendesk_call(self, method: str, url: str, status: int) -> None:
        """Count one Zendesk response (the ``on_call`` of ``zendesk.make_client``)."""
        route = route_of(url)
        self.zendesk_requests.labels(route, method.upper()).inc()
        if status == 429:
            self.zendesk_rate_limited.labels(route).inc()

    def stage_finished(self, summary: dict[str, Any]) -> None:
        """Count a stage run from its summary (``stage``, ``seconds``, ``error``)."""
        stage = str(summary.get("stage", "stage"))
        self.stage_runs.labels(stage, "error" if summary.get("error") else "ok").inc()
        if summary.get("seconds") is not None:
            self.stage_duration.labels(stage).observe(float(summary["seconds"]))

    def stage_crashed(self, stage: str) -> None:
        self.stage_runs.labels(stage, "crash").inc()

    def exposition(self, *, fresh: bool = False) -> bytes:
        """The text format, as ``/metrics`` serves it (``fresh``: read the store now)."""
        if fresh:
            self.view.get(fresh=True)
        return generate_latest(self.registry)

    def write_textfile(self) -> None:
        """Write everything to ``metrics.textfile``, read fresh: a temporary file in the same folder, then a
        rename, so node_exporter never reads half a file. Nothing when no textfile is configured."""
        if self.config.metrics.textfile:
            self.view.get(fresh=True)
            write_to_textfile(self.config.metrics.textfile, self.registry)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """``(200 or 503, body)`` of ``GET /healthz``."""
        body = self.view.get()["health"]
        return (200 if body["healthy"] else 503), body

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application: ``/metrics`` (and ``/``), ``/healthz``."""
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            if method == "OPTIONS":  # a preflight, should a browser send one: GET is all there is
                start_response("204 No Content", [*CORS, ("Access-Control-Allow-Methods", "GET, OPTIONS"),
                                                  ("Access-Control-Allow-Headers", "*"),
                                                  ("Access-Control-Max-Age", "600")])
                return [b""]
            if method not in ("GET", "HEAD"):
                start_response("405 Method Not Allowed", [*CORS, ("Allow", "GET, OPTIONS")])
                return [b""]
            status, body = self.healthz()
            data = json.dumps(body, sort_keys=True).encode()
            start_response("200 OK" if status == 200 else "503 Service Unavailable",
                           [*CORS, ("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(data)))])
            return [data if method == "GET" else b""]
        if path in ("/", "/metrics"):
            return make_wsgi_app(self.registry)(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    def serve(self, host: str | None = None, port: int | None = None) -> MetricsServer:
        """Serve :meth:`app` on ``host:port`` (default: the config's; port 0 picks a free one) in a thread."""
        host = host if host is not None else self.config.metrics.host
        port = port if port is not None else self.config.metrics.port
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("_Server", (_ThreadingServer,), {"address_family": family})
        httpd: WSGIServer = make_server(host, port, self.app, server_class, handler_class=_QuietHandler)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="zdtriage-metrics",
                                  daemon=True)
        thread.start()
        return MetricsServer(httpd, thread)


class MetricsServer:
    """A running metrics server: :attr:`port` is the one bound; :meth:`close` stops it."""

    def __init__(self, httpd: WSGIServer, thread: threading.Thread) -> None:
        self._httpd, self._thread = httpd, thread
        self.host, self.port = str(httpd.server_address[0]), int(httpd.server_address[1])  # an IP socket: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds the service's stop


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every 15 s are not news
        pass
