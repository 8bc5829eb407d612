"""Loopback HTTP plumbing shared by the Zendesk and Anthropic simulators.

Standard library only (``http.server.ThreadingHTTPServer``): the simulators are
loopback test doubles, so a server dependency would buy nothing but install time.

A simulator subclasses :class:`SimServer`, registers routes with :meth:`route`
and answers with :class:`Response`. Everything that the real services do to
every request (auth, rate limits, injected faults) goes in :meth:`before`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Clock = Callable[[], float]


class ManualClock:
    """A clock that only moves when told to; pass it as ``clock=`` to a simulator."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, epoch: float) -> None:
        with self._lock:
            self._now = float(epoch)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route
    route: str = ""  # the route's label, e.g. "GET /api/v2/tickets/{id}.json"

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.raw_body:
            return None
        return json.loads(self.raw_body.decode("utf-8"))


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    stream: Any = None  # an iterable of bytes, sent chunked (JSONL results)
    drop: bool = False  # close the connection without answering (a connection cut after the request was read)


Handler = Callable[[Request], Response]


class SimServer:
    """A threaded loopback HTTP server with a route table and per-route call counts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Clock = time.time) -> None:
        self.host = host
        self.port = port
        self.clock = clock
        self.latency_seconds = 0.0
        self.max_body_bytes: int | None = None  # larger bodies get body_too_large() without being kept
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()  # guards the simulator's state; handlers take it
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- routing -------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a path ``pattern`` like ``/api/v2/tickets/{id}.json``."""
        regex = re.escape(pattern)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+?)", regex)
        self._routes.append((method, re.compile(f"^{regex}$"), f"{method} {pattern}", handler))

    def before(self, request: Request) -> Response | None:
        """Hook run before every routed request; return a Response to answer early."""
        return None

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": "Not found"})

    def body_too_large(self, request: Request) -> Response:
        """Answer to a body over ``max_body_bytes`` (the body is read and dropped, not kept)."""
        return Response(413, {"error": "Payload too large"})

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, regex, label, handler in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            request.route = label
            with self.lock:
                self.calls[label] += 1
            early = self.before(request)
            if early is not None:
                return early
            return handler(request)
        if allowed:
            return Response(405, {"error": "Method not allowed"})
        return self.not_found(request)

    # -- lifecycle -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving in a daemon thread; return the base URL (``http://127.0.0.1:PORT``)."""
        sim = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: avoid a 40 ms delayed ACK

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                too_large = sim.max_body_bytes is not None and length > sim.max_body_bytes
                if too_large:
                    remaining = length
                    while remaining > 0:  # drain, so the client reads our answer instead of a reset
                        chunk = self.rfile.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                raw = self.rfile.read(length) if length and not too_large else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw_body=raw,
                )
                if too_large:
                    self._send(sim.body_too_large(request))
                    return
                if sim.latency_seconds:
                    time.sleep(sim.latency_seconds)
                try:
                    response = sim.dispatch(request)
                except Exception as exc:  # a simulator bug must show as a 500, not a hang
                    response = Response(500, {"error": "SimulatorError", "description": repr(exc)})
                self._send(response)

            def _send(self, response: Response) -> None:
                if response.drop:
                    self.close_connection = True
                    return
                self.send_response(response.status)
                headers = {"content-type": response.content_type, **response.headers}
                if response.stream is not None:
                    headers["transfer-encoding"] = "chunked"
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    for chunk in response.stream:
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                body = response.body
                if body is None:
                    payload = b""
                elif isinstance(body, bytes):
                    payload = body
                elif isinstance(body, str):
                    payload = body.encode("utf-8")
                else:
                    payload = json.dumps(body).encode("utf-8")
                headers["content-length"] = str(len(payload))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client killed mid-response (the kill test does this on purpose) is not a server error
                import sys

                if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    return
                super().handle_error(request, client_address)

        self._httpd = _Server((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: stop() waits up to one interval, and tests stop a server each.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call_counts(self) -> dict[str, int]:
        """Calls per route label since start (inspection and benchmarks)."""
        with self.lock:
            return dict(self.calls)
