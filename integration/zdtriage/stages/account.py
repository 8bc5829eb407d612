"""The account's Zendesk API limit, shared with every app and integration of the account (DESIGN §7: per minute
over all endpoints, Team 200, Growth/Professional 400, Enterprise 700, High Volume 2,500).

Every response says the limit and what is left of it (``X-Rate-Limit``, ``X-Rate-Limit-Remaining``, and when
the window refills). Before each call :class:`AccountGate` checks that we stay within ``zendesk.account_share``
of the limit in the last minute (counted in the ``pace`` table, so every run and process shares it) and that
what the account has left, less what its other apps and people will spend before the refill at their
observed pace, stays above :data:`RESERVE`. When not, the call is not sent: ``zendesk.ZendeskPaced`` ends the
stage as a 429 would and it resumes at its next run from its cursor. A few calls a window (:data:`TRICKLE`)
are allowed whatever the others' pace while more than the reserve is left, so a busy account is served
slowly, never not at all.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .. import store
from .. import zendesk as zd
from ..store import pace

if TYPE_CHECKING:
    from ..context import Context

BUCKET = pace.ACCOUNT
RESERVE = 5  # requests of a window we never take from what the account has left
TRICKLE = 3  # calls a window allowed even when the others' pace would spend the rest
ASSUMED_LIMIT = 200  # before any response has told us: the smallest plan (Team)
MIN_SAMPLE = 10.0  # seconds into a window before the others' pace is estimated from it


class AccountGate:
    """The gate of the Zendesk session (``zendesk.make_client(gate=...)``); see the module docstring."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sent_since_seen = 0  # our calls since the last response (one process sends at a time: state lock)

    def cap(self, limit: int) -> int:
        """Our calls a minute: the configured share of the account's limit, never less than one."""
        return max(1, math.floor(self.ctx.config.zendesk.account_share * limit))

    def before(self, method: str, url: str) -> None:
        """Count the call about to be sent, or raise ``zendesk.ZendeskPaced`` (nothing sent, nothing counted)."""
        db, now = self.ctx.db, self.ctx.now()
        seen = pace.last_seen(db)
        limit = seen.limit if seen else ASSUMED_LIMIT
        if seen is not None and seen.at <= now < seen.reset_at:
            # what the account had left, less what we sent since; then what the others will spend until the refill
            left = seen.remaining - self.sent_since_seen
            coming = seen.others_per_minute * (seen.reset_at - now) / pace.WINDOW
            ours = pace.used(db, BUCKET, now, window=now - (seen.reset_at - pace.WINDOW))
            if left <= RESERVE or (left - coming <= RESERVE and ours >= TRICKLE):
                raise zd.ZendeskPaced(max(seen.reset_at - now, 1.0),
                                      f"{max(left, 0)} of {limit} left this minute, others spend about "
                                      f"{seen.others_per_minute:.0f} a minute, {RESERVE} kept for them")
        cap = self.cap(limit)
        if not pace.take(db, BUCKET, now, cap):
            raise zd.ZendeskPaced(max(pace.free_at(db, BUCKET, now, cap) - now, 1.0),
                                  f"our {cap} a minute, {self.ctx.config.zendesk.account_share:g} of {limit}, spent")
        self.sent_since_seen += 1

    def observe(self, limit: int, remaining: int, reset: float | None) -> None:
        """Keep the account's limit and what is left, as the response just read said, and the others' pace."""
        if limit <= 0:
            return
        db, now = self.ctx.db, self.ctx.now()
        previous = pace.last_seen(db)
        others = previous.others_per_minute if previous else 0.0
        if reset is not None:
            reset = min(max(reset, 0.0), pace.WINDOW)
            elapsed = pace.WINDOW - reset  # how far into Zendesk's window this response came
            if elapsed >= MIN_SAMPLE:
                spent = limit - remaining - pace.used(db, BUCKET, now, window=elapsed)
                others = max(spent, 0) * pace.WINDOW / elapsed
        self.sent_since_seen = 0
        # without a reset header, assume the window refills a whole minute from now
        store.set_sync(db, pace.SEEN, json.dumps({
            "limit": limit, "remaining": max(remaining, 0), "at": now,
            "reset_at": now + (reset if reset is not None else pace.WINDOW), "others_per_minute": others}))


def client(ctx: Context, on_call: Any = None) -> Any:
    """The zenpy client of ``ctx``'s settings with the account's gate on every call (``on_call`` as for
    ``zendesk.make_client``)."""
    return zd.make_client(ctx.config.zendesk, on_call=on_call, gate=AccountGate(ctx))
