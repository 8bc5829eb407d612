"""Heartbeats of the stages and the health verdict a supervisor acts on (database only).

Every stage run leaves a heartbeat in the sync table (``heartbeat:<stage>``): when it last started, last
succeeded, and its last error with the message. :func:`check` turns the heartbeats, the account hold and the
open batches into one verdict with one line saying why: ``zdtriage status --check``, the Docker
``HEALTHCHECK`` and ``GET /healthz`` all read it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import store
from .config import Config
from .frozen import Record
from .timeutil import iso, parse_time

if TYPE_CHECKING:
    import sqlite_utils

    from .store import Reader

STAGES = ("ingest", "submit", "poll", "writeback")
HEARTBEAT = "heartbeat:"
STALE_PERIODS = 5  # a stage is stale after this many of its periods without a success...
STALE_MIN_SECONDS = 600.0  # ...and never sooner than this (a 1-minute stage may miss a few runs)
BATCH_NEAR_EXPIRY_HOURS = 20.0  # a batch expires 24 h after its creation (reports.BATCH_ALERT_HOURS)
BATCH_LIFETIME = 86400.0
BUDGET_HOLD = "hold:budget"
BUDGET_REWARN_SECONDS = 3600.0  # a budget hold that lasts is logged at WARNING again once an hour
DEAD_SHOWN = 10


# -- heartbeats --------------------------------------------------------------------------------------------


def heartbeat(db: Reader, stage: str) -> dict[str, Any]:
    """The stored heartbeat of ``stage`` (epoch seconds; empty when it never ran)."""
    beat: dict[str, Any] = store.loads(store.get_sync(db, HEARTBEAT + stage), {})
    return beat


def heartbeats(db: Reader) -> dict[str, dict[str, Any]]:
    """Every stage's heartbeat, in pipeline order (a stage that never ran has an empty one)."""
    stored = {stage: json.loads(value) for stage, value in store.sync_like(db, HEARTBEAT).items()}
    return {stage: stored.get(stage, {}) for stage in STAGES} | stored


def started(db: sqlite_utils.Database, stage: str, now: float) -> None:
    """Record that ``stage`` starts now."""
    beat = heartbeat(db, stage)
    beat.setdefault("first_start", now)
    beat["last_start"] = now
    store.set_sync(db, HEARTBEAT + stage, json.dumps(beat))


def finished(db: sqlite_utils.Database, stage: str, now: float, *, error: str | None, worked: bool = False) -> None:
    """Record how a run of ``stage`` ended: a success, or ``error`` (kept, with its time, until the next one);
    ``worked``: the run wrote or confirmed something (``last_work``, see :func:`worked`)."""
    beat = heartbeat(db, stage)
    beat.setdefault("first_start", now)
    beat["last_end"] = now
    if error:
        beat["last_error"] = {"at": now, "message": str(error)[:500]}
    else:
        beat["last_success"] = now
    if worked:
        beat["last_work"] = now
    store.set_sync(db, HEARTBEAT + stage, json.dumps(beat))


def worked(stage: str, summary: Mapping[str, Any]) -> bool:
    """Whether a run wrote or confirmed something: for write-back, a job sent or a write confirmed. A run
    with nothing to do succeeds too, but "last write-back" must not count it."""
    if stage != "writeback":
        return False
    results = summary.get("results") or {}
    return bool(summary.get("jobs_sent")) or bool(results.get("written"))


def period(config: Config, stage: str) -> float:
    """Seconds between two runs of ``stage`` in the daemon."""
    return float(getattr(config.schedule, f"{stage}_every"))


def stale_after(config: Config, stage: str) -> float:
    """Seconds without a success after which ``stage`` counts as stale."""
    return max(STALE_PERIODS * period(config, stage), STALE_MIN_SECONDS)


# -- the verdict -------------------------------------------------------------------------------------------


class Verdict(Record):
    """Healthy or not, the one line saying why, every problem found, and the heartbeats it rests on."""

    healthy: bool
    reason: str  # one line: why not, or what healthy rests on
    problems: tuple[str, ...] = ()
    stages: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def line(self) -> str:
        """What ``status --check`` prints."""
        return f"{'healthy' if self.healthy else 'unhealthy'}: {self.reason}"


def check(db: Reader, config: Config, now: float) -> Verdict:
    """Healthy, or not and why: the account refused (submitting held), a stage without a success for
    several of its periods, a batch near its 24-hour expiry, write-back without progress. The first problem is the
    reason; the others are counted in it."""
    beats = heartbeats(db)
    problems = _held(db) + _stale(beats, config, now) + _expiring(db, now) + _stalled_writes(db, config, now)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s): see zdtriage status)" if len(problems) > 1 else ""
        return Verdict(False, problems[0] + more, tuple(problems), beats)
    written = beats.get("writeback", {}).get("last_work")
    waiting = [stage for stage in STAGES if not beats.get(stage, {}).get("last_success")]
    reason = ("every stage succeeded within its period" if not waiting
              else f"no problem yet; {', '.join(waiting)} not run with success yet")
    reason += f"; last write-back {_ago(now, written)}" if written else "; nothing written back yet"
    return Verdict(True, reason, (), beats)


RESUME_HINT = "`zdtriage resume` tries again at once after the cause is fixed"


def _held(db: Reader) -> list[str]:
    hold = store.loads(store.get_sync(db, "hold:submit"), None)
    if not hold:
        return []
    return [f"submitting held since {_when(float(hold['since']))}: {hold['reason']} ({RESUME_HINT})"]


def _stale(beats: Mapping[str, dict[str, Any]], config: Config, now: float) -> list[str]:
    never = [stage for stage in STAGES if not beats.get(stage)]
    if len(never) == len(STAGES):
        return ["no stage has ever run: is the service (zdtriage run) running?"]
    found: list[tuple[float, str]] = []
    began = min(beat["first_start"] for beat in beats.values() if beat)
    for stage in STAGES:
        beat = beats.get(stage)
        if not beat:  # not reached yet (the single worker is still on the first stages) or never scheduled
            quiet, limit = now - began, stale_after(config, stage)
            if quiet > limit:
                found.append((quiet / limit, f"{stage} has never run; the first stage started {_ago(now, began)}"))
            continue
        since = beat.get("last_success") or beat["first_start"]
        quiet, limit = now - since, stale_after(config, stage)
        error = beat.get("last_error")
        if not beat.get("last_success") and error:
            # every run since the first one failed: named at once, even within the stage's grace
            found.append((max(quiet / limit, 1.0), f"{stage} has failed on every run since it first ran "
                                                   f"{_ago(now, since)}: {error['message']}"))
            continue
        if quiet <= limit:
            continue
        if beat.get("last_success"):
            line = f"{stage} has not succeeded for {_span(quiet)} (period {_span(period(config, stage))})"
        else:
            line = (f"{stage} has not succeeded since it first ran {_ago(now, since)} "
                    f"(period {_span(period(config, stage))})")
        if error and error["at"] >= since:
            line += f": {error['message']}"
        found.append((quiet / limit, line))
    last = max(beat.get("last_end") or beat["first_start"] for beat in beats.values() if beat)
    if len(found) == len(STAGES) and not never and now - last > min(stale_after(config, stage) for stage in STAGES):
        # nothing has even ended for a while: the service is not running (the stages' errors are older news)
        return [f"no stage has succeeded within its period; the last run ended {_ago(now, last)}: "
                "is the service (zdtriage run) running?"]
    found.sort(key=lambda item: -item[0])  # the most overdue first
    return [line for _, line in found]


def _stalled_writes(db: Reader, config: Config, now: float) -> list[str]:
    """Answers have waited two ``zendesk.verify_after`` periods and no write has landed (or been settled as
    skipped) in that time: write-back succeeds as a stage yet makes no progress (jobs stuck, writes refused).
    Two index seeks on (state, changed_at)."""
    if config.writeback.mode == "off":
        return []  # pilot mode: answers stay in the state on purpose
    limit = 2 * config.zendesk.verify_after
    waiting = next(db.query("select count(*) as n, min(changed_at) as oldest from tickets where state = 'answered'"))
    if not waiting["n"] or parse_time(waiting["oldest"]) > now - limit:
        return []
    last = next(db.query("select max(changed_at) as at from tickets where state in ('written', 'skipped')"))["at"]
    if last is not None and parse_time(last) > now - limit:
        return []
    since = f"for {_span(now - parse_time(last))}" if last else "ever"
    return [f"write-back has written nothing {since} while {waiting['n']} answer(s) wait (oldest answered "
            f"{_ago(now, parse_time(waiting['oldest']))}): update jobs stuck or writes refused, see zdtriage status"]


def _expiring(db: Reader, now: float) -> list[str]:
    out = []
    for row in db.query("select batch_id, created_at, expires_at from batches where state = 'open' "
                        "and ended_at is null order by created_at"):
        created = parse_time(row["created_at"])
        age = now - created
        if age <= BATCH_NEAR_EXPIRY_HOURS * 3600:
            continue
        expires = parse_time(row["expires_at"]) if row["expires_at"] else created + BATCH_LIFETIME
        left = expires - now
        when = f"expires in {left / 3600:.1f} h" if left > 0 else f"expired {-left / 3600:.1f} h ago"
        out.append(f"batch {row['batch_id']} open {age / 3600:.1f} h, {when}")
    return out


def healthz(db: Reader | None, config: Config, now: float, *, missing: str = "") -> dict[str, Any]:
    """The body of ``GET /healthz`` and ``status --check --json``; ``db`` None means there is none (``missing``
    says why)."""
    verdict = Verdict(False, missing or "no state database") if db is None else check(db, config, now)

    def stamp(value: Any) -> str | None:
        return iso(float(value)) if value is not None else None

    stages = {}
    for stage, beat in verdict.stages.items():
        error = beat.get("last_error")
        stages[stage] = {"last_start": stamp(beat.get("last_start")), "last_success": stamp(beat.get("last_success")),
                         "last_error": {"at": stamp(error["at"]), "message": error["message"]} if error else None}
    return {
        "healthy": verdict.healthy,
        "reason": verdict.reason,
        "problems": list(verdict.problems),
        "checked_at": iso(now),
        # the last write-back run that wrote or confirmed something (a run with nothing to do is no write-back)
        "last_writeback_success": stamp(verdict.stages.get("writeback", {}).get("last_work")),
        "stages": stages,
    }


def probe(config: Config, now: float) -> dict[str, Any]:
    """:func:`healthz` of the configured state database, opened read-only for this call and closed; a
    database that is missing or cannot be read is unhealthy, and the reason says so."""
    try:
        db = store.open_reader(config.state.path)  # a plain read-only connection: no sqlite-utils to import
    except store.StoreError as exc:
        return healthz(None, config, now, missing=str(exc))
    try:
        return healthz(db, config, now)
    except sqlite3.Error as exc:  # locked past the timeout, a damaged page
        return healthz(None, config, now, missing=unreadable(config, exc))
    finally:
        db.close()


def unreadable(config: Config, exc: Exception) -> str:
    """The reason given when the state database exists but a read of it failed."""
    return f"cannot read the state database {config.state.path}: {exc}"


# -- what an operator should look at: dead tickets and budget holds -------------------------------------------


def last_event_id(db: sqlite_utils.Database) -> int:
    """The newest event's id (0 when there is none): :func:`dead_since` lists what came after it."""
    return int(next(db.query("select coalesce(max(id), 0) as n from events"))["n"])


def dead_since(db: sqlite_utils.Database, event_id: int) -> list[dict[str, Any]]:
    """Tickets given up on after event ``event_id``: ``{ticket_id, reason}``, oldest first."""
    return [{"ticket_id": r["ticket_id"], "reason": r["detail"]} for r in db.query(
        "select ticket_id, detail from events where id > ? and action = 'dead' order by id", [event_id])]


def recent_dead(db: Reader, limit: int = DEAD_SHOWN) -> dict[str, Any]:
    """How many tickets are dead, and the latest ``limit`` of them with their reason (``status``)."""
    total = int(next(db.query("select count(*) as n from tickets where state = 'dead'"))["n"])
    rows = db.query("select id, last_error, dead_at from tickets where state = 'dead' "
                    "order by dead_at desc, id desc limit ?", [limit])
    return {
        "total": total,
        "latest": [{"id": r["id"], "reason": r["last_error"] or "", "at": r["dead_at"]} for r in rows],
    }


def note_budget_hold(db: sqlite_utils.Database, now: float, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keep track of tickets the budget keeps in the queue, from a submit summary.

    Returns the hold when it is worth a WARNING line (it began, or it has lasted another hour since the
    last one), else None. A submit that held nothing clears it once it reached the budget (or nothing
    is queued any more).
    """
    held = int(summary.get("held_for_budget") or 0)
    previous = store.loads(store.get_sync(db, BUDGET_HOLD), None)
    if not held:
        reached_budget = "waiting" not in summary and "error" not in summary
        if previous and (reached_budget or not _queued(db)):
            store.set_sync(db, BUDGET_HOLD, None)
        return None
    hold = {"since": previous["since"] if previous else now, "at": now, "tickets": held,
            "ticket_ids": list(summary.get("held_ids") or [])[:DEAD_SHOWN], "reason": str(summary.get("note") or ""),
            "warned_at": previous.get("warned_at", now) if previous else now}
    warn = previous is None or now - float(previous.get("warned_at", 0)) >= BUDGET_REWARN_SECONDS
    if warn:
        hold["warned_at"] = now
    store.set_sync(db, BUDGET_HOLD, json.dumps(hold))
    return _budget_view(hold) if warn else None


def budget_hold(db: Reader) -> dict[str, Any] | None:
    """The budget hold as of the last submit (``status``), or None."""
    hold = store.loads(store.get_sync(db, BUDGET_HOLD), None)
    return _budget_view(hold) if hold else None


def _budget_view(hold: Mapping[str, Any]) -> dict[str, Any]:
    return {"since": iso(float(hold["since"])), "at": iso(float(hold["at"])), "tickets": hold["tickets"],
            "ticket_ids": hold["ticket_ids"], "reason": hold["reason"]}


def _queued(db: sqlite_utils.Database) -> int:
    return int(next(db.query("select count(*) as n from tickets where state = 'queued'"))["n"])


# -- wording -------------------------------------------------------------------------------------------------


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _ago(now: float, then: float) -> str:
    return f"{_span(max(now - then, 0))} ago"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
