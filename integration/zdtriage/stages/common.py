"""What the stages share: a stage's blocks and problems in the sync table, Zendesk error handling,
eligibility, backoff and time parsing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .. import prompt, store
from .. import zendesk as zd
from ..config import Config
from ..store import Intent, WriteKind, writes
from ..store import tickets as queue
from ..timeutil import iso, parse_time

if TYPE_CHECKING:
    from ..context import Context

BACKOFF_MAX = 3600.0
# what a single ticket's data can raise while it is handled (a database or disk problem is not one of them)
TICKET_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)
MAX_WRITE_ATTEMPTS = 5
MAX_FAILED_TAG_ATTEMPTS = 3  # a failed tag Zendesk keeps refusing is given up, so it cannot starve the rest
WRITE_BACKOFF = 120.0  # a write Zendesk refused (e.g. "Follow Up Date: needed") is resent after this, doubling
BLOCK_MAX = 3600.0  # no Retry-After we honour is longer; a stored block beyond it came from a clock step


def blocked_until(ctx: Context, stage: str) -> float:
    """Until when ``stage`` waits for a rate limit, never more than :data:`BLOCK_MAX` from now (a host clock
    a day fast, then corrected, must not leave the stage "rate limited until tomorrow")."""
    value = store.get_sync(ctx.db, f"blocked_until:{stage}")
    return min(float(value), ctx.now() + BLOCK_MAX) if value else 0.0


def block(ctx: Context, stage: str, seconds: float) -> None:
    store.set_sync(ctx.db, f"blocked_until:{stage}", str(ctx.now() + seconds))


def record_problem(ctx: Context, stage: str, message: str | None) -> None:
    """The last problem per stage, shown by ``status`` (a revoked token must be visible)."""
    store.set_sync(ctx.db, f"problem:{stage}",
                   json.dumps({"at": iso(ctx.now()), "message": message}) if message else None)


@contextmanager
def zendesk_stage(ctx: Context, stage: str, out: dict[str, Any]) -> Iterator[None]:
    """Run a stage's Zendesk work: a 429 blocks the stage until Retry-After, another error is recorded
    for ``status`` (the daemon keeps running), success clears the stage's last problem."""
    try:
        yield
    except zd.ZendeskRateLimited as exc:
        block(ctx, stage, exc.retry_after)
        out["waiting"] = str(exc)
    except zd.ZendeskError as exc:
        record_problem(ctx, stage, str(exc))
        out["error"] = str(exc)
        return
    record_problem(ctx, stage, None)


HOLD_FIRST = 300.0  # the first wait after the account was refused; doubling, at most BLOCK_MAX


def hold(ctx: Context, reason: str, retry_after: float | None = None, *, passing: bool = False) -> str:
    """Stop submitting for a while because the account (not a ticket) was refused; longer each time it is
    refused again, until a create succeeds. A ``passing`` refusal (the ramp limit) waits ``retry_after``
    only and does not lengthen the next hold. Returns the line for the log."""
    refusals = int(store.get_sync(ctx.db, "hold:refusals") or 0) + (0 if passing else 1)
    if passing and retry_after is not None:
        wait = min(max(retry_after, 1.0), BLOCK_MAX)
    else:
        wait = max(min(HOLD_FIRST * 2 ** (max(refusals, 1) - 1), BLOCK_MAX), retry_after or 0.0)
    store.set_sync(ctx.db, "hold:refusals", str(refusals))
    store.set_sync(ctx.db, "hold:submit", json.dumps({"until": ctx.now() + wait, "reason": reason[:300],
                                                      "since": store.loads(store.get_sync(ctx.db, "hold:submit"),
                                                                           {}).get("since", ctx.now())}))
    return f"submitting held for {wait / 60:.1f} min: {reason[:200]}"


def held(ctx: Context) -> tuple[float, str]:
    """``(until, reason)`` of the account hold; ``until`` is never more than BLOCK_MAX from now (clock steps)."""
    value = store.loads(store.get_sync(ctx.db, "hold:submit"), None)
    if not value:
        return 0.0, ""
    return min(float(value["until"]), ctx.now() + BLOCK_MAX), str(value["reason"])


def release_hold(ctx: Context) -> None:
    """A create succeeded: the account is fine again."""
    if store.get_sync(ctx.db, "hold:submit") is not None:
        store.set_sync(ctx.db, "hold:submit", None)
        store.set_sync(ctx.db, "hold:refusals", None)
        record_problem(ctx, "submit", None)


RESUME = "resume:requested"


def resume(ctx: Context) -> dict[str, Any] | None:
    """``zdtriage resume``: the admin fixed what the account was refused for. Clears the hold (and its
    growing back-off) so the next submit check tries at once, and asks a running daemon to submit now (it
    looks every minute: :func:`take_resume`). Returns the hold that was cleared (``since``, ``until``,
    ``reason``), or None when nothing was held."""
    value: dict[str, Any] | None = store.loads(store.get_sync(ctx.db, "hold:submit"), None)
    if not value:
        return None
    with ctx.db.atomic():
        release_hold(ctx)
        store.set_sync(ctx.db, RESUME, str(ctx.now()))
        store.log_event(ctx.db, ctx.now(), "resume", detail=str(value.get("reason") or ""))
    return value


def take_resume(ctx: Context) -> bool:
    """Whether ``zdtriage resume`` asked for a submit since the last call (the request is consumed)."""
    if store.get_sync(ctx.db, RESUME) is None:
        return False
    store.set_sync(ctx.db, RESUME, None)
    return True


def bot_user_id(ctx: Context) -> int | None:
    """The Zendesk user the service writes as (``users/me``), read once and kept: only an internal comment
    by this user can be our note (a customer can paste our footer into a reply)."""
    value = store.get_sync(ctx.db, "bot_user_id")
    if value is None and ctx.zendesk is not None:
        value = str(zd.fetch_me(ctx.zendesk))
        store.set_sync(ctx.db, "bot_user_id", value)
    return int(value) if value else None


def export_limit(ctx: Context) -> int:
    """Requests a minute the account's incremental exports allow us (both exports share them)."""
    return ctx.config.zendesk.export_requests_per_minute


def backoff(base: float, attempts: int) -> float:
    """Delay before retry number ``attempts``: ``base``, doubling, at most an hour."""
    return min(base * (2.0 ** max(attempts - 1, 0)), BACKOFF_MAX)


_SCOPE = (("brands", "brand_id", "brand"), ("groups", "group_id", "group"), ("forms", "ticket_form_id", "form"),
          ("custom_statuses", "custom_status_id", "custom status"))


def eligible(ticket: dict[str, Any], config: Config) -> tuple[bool, str]:
    """Whether a ticket as Zendesk shows it is ours to triage, and why not: its status, skip tags, the
    configured brands, groups, forms and custom statuses (empty lists mean all), and the pilot sample."""
    triage = config.triage
    if ticket["status"] == "deleted":
        return False, "deleted in Zendesk"
    if ticket["status"] not in triage.statuses:
        return False, f"status {ticket['status']}"
    opted_out = set(ticket["tags"]) & set(triage.skip_tags)
    if opted_out:
        return False, f"opted out by tag {sorted(opted_out)[0]}"
    for setting, key, what in _SCOPE:
        allowed = getattr(triage, setting)
        if allowed and ticket.get(key) not in allowed:
            return False, f"{what} {ticket.get(key)} is not in triage.{setting}"
    if triage.sample < 1.0 and not in_sample(ticket["id"], triage.sample):
        return False, f"not in the pilot sample (triage.sample = {triage.sample:g})"
    return True, ""


def in_sample(ticket_id: int, share: float) -> bool:
    """A deterministic ``share`` of ticket ids: the same ticket is in or out on every run and every machine."""
    digest = hashlib.blake2b(str(ticket_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def to_epoch(value: Any) -> float | None:
    """A Zendesk time (ISO-8601 or epoch) as epoch seconds, None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return parse_time(str(value))
    except ValueError:
        return None


def tally(into: dict[str, int], outcome: str, n: int = 1) -> None:
    into[outcome] = into.get(outcome, 0) + n


def count_failure(ctx: Context, ticket_id: int, reason: str, *, retryable: bool, batch: str | None = None,
                  cost: float = 0.0) -> str:
    """A failed attempt of a submitted ticket: back to the queue after a backoff, or dead when its
    attempts run out (or the failure cannot be retried). Returns ``"failed"`` or ``"dead"``."""
    now = ctx.now()
    row = queue.get(ctx.db, ticket_id)
    attempts = (row["attempts"] or 0) + 1 if row else 1
    if not retryable or attempts >= ctx.config.anthropic.max_attempts:
        queue.kill(ctx.db, ticket_id, now, reason=reason, cost_usd=cost)
        store.log_event(ctx.db, now, "dead", ticket_id=ticket_id, batch=batch, detail=reason)
        return "dead"
    queue.fail(ctx.db, ticket_id, now, reason=reason, cost_usd=cost,
               next_attempt_at=now + backoff(ctx.config.anthropic.retry_backoff, attempts))
    return "failed"


def settle_write(ctx: Context, ticket_id: int, intent: Intent, outcome: str, error: str = "") -> str:
    """Record what became of one write (``ok``, ``closed`` or ``error``): see ``store.writes.settle``."""
    now = ctx.now()
    retry_at = None
    if outcome == "error":  # rare: the one extra read is for the backoff of this ticket's next try
        row = queue.get(ctx.db, ticket_id)
        retry_at = now + backoff(WRITE_BACKOFF, ((row or {}).get("write_attempts") or 0) + 1)
    what = writes.settle(ctx.db, now, ticket_id, intent, outcome, error=error, max_write_attempts=MAX_WRITE_ATTEMPTS,
                         max_failed_tag_attempts=MAX_FAILED_TAG_ATTEMPTS, retry_at=retry_at)
    if what in ("written", "skipped") and ctx.config.privacy.drop_text_after_write:
        queue.drop_text(ctx.db, ticket_id)
    if what in ("skipped", "dead", "stale", "failed_tag_given_up"):
        store.log_event(ctx.db, now, what, ticket_id=ticket_id, detail=error or f"{intent.kind} write")
    return what


def settle_landed(ctx: Context, items: Sequence[tuple[int, Intent]]) -> list[str]:
    """:func:`settle_write` with ``"ok"`` for many ``(ticket_id, intent)`` at once (the writes an export page
    shows landed: one statement per kind, issue 22); the outcome of each, in order."""
    now = ctx.now()
    outcomes = writes.landed_many(ctx.db, now, items)
    for (ticket_id, intent), what in zip(items, outcomes, strict=True):
        if what == "written" and ctx.config.privacy.drop_text_after_write:
            queue.drop_text(ctx.db, ticket_id)
        elif what == "stale":
            store.log_event(ctx.db, now, what, ticket_id=ticket_id, detail=f"{intent.kind} write")
    return outcomes


def landed_by_tags(ctx: Context, intent: Intent, tags: list[str], *, inherited: bool) -> bool:
    """Whether a ticket's tags prove that the write ``intent`` landed: the failed tag for a failed-tag write,
    the marker for a first triage's note (a re-triage already carries the marker, and so does a ticket that
    had it when first seen, e.g. a follow-up: ``inherited``; only the note can tell for those)."""
    triage = ctx.config.triage
    if intent.kind == WriteKind.FAILED_TAG:
        return prompt.failed_tag(triage) in tags
    return intent.triage_n == 1 and not inherited and prompt.marker_tag(triage) in tags
