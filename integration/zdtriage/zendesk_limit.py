"""The account's shared API limit as the Zendesk session sees it: the gate a request passes before it is sent,
and the limit headers every response carries. No client and no database here (the gate itself is the
pipeline's: ``stages/account.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Gate(Protocol):
    """What the session consults before every request and tells after every response (the pipeline owns it:
    see ``stages/account.py``); network code keeps no count itself."""

    def before(self, method: str, url: str) -> None:
        """Raise :class:`ZendeskPaced` when the request must not be sent now."""

    def observe(self, limit: int, remaining: int, reset: float | None) -> None:
        """The account's limit and what is left of it, as the last response said."""


def limit_headers(headers: Mapping[str, str]) -> tuple[int, int, float | None] | None:
    """``(limit, remaining, reset seconds or None)`` from a response's headers, None when absent or unreadable.

    Every response carries ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining`` (DESIGN §7); the reset comes as
    ``rate-limit-reset`` or ``ratelimit-reset`` depending on the recording (fixtures/real/zendesk).
    """
    try:
        limit = int(headers["x-rate-limit"])
        remaining = int(headers["x-rate-limit-remaining"])
    except (KeyError, ValueError, TypeError):
        return None
    raw = headers.get("rate-limit-reset") or headers.get("ratelimit-reset")
    try:
        reset = float(raw) if raw is not None else None
    except ValueError:
        reset = None
    return limit, remaining, reset


def install_gate(session: Any, gate: Gate) -> None:
    """Ask ``gate`` before every request of ``session`` and tell it the limit headers of every response."""
    # Session.request sends through self.send: every call of zenpy (pages of a listing included) passes here
    send = session.send

    def gated_send(request: Any, **kwargs: Any) -> Any:
        gate.before(str(request.method), str(request.url))
        return send(request, **kwargs)

    def observe(response: Any, *args: Any, **kwargs: Any) -> None:
        seen = limit_headers(response.headers)
        if seen is not None:
            gate.observe(*seen)

    session.send = gated_send
    session.hooks["response"].append(observe)  # before the hook that raises on a 429: a 429 tells too
