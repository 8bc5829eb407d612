"""The four stages — ingest, submit, poll, writeback — composing ``fetch_*``/``write_*`` (network)
with the store (database). Each stage returns a summary dict; the daemon logs it.

Ordering and crash safety, stage by stage:

* ingest saves a page of tickets and the cursor that follows it in one transaction, so a crash
  re-reads at most one page, and re-reading is harmless (saves are upserts with guarded states).
* submit records a batch row (``creating``) and moves its tickets to ``submitted`` *before* the
  create call, and the returned batch id right after it. A crash in between leaves a ``creating``
  row that the next submit reconciles against the workspace's recent batches.
* poll applies each result with a guarded transition (``submitted`` in *this* batch), so replaying
  a result stream after a crash changes nothing that was already applied.
* writeback records its intent (``write_started_at``) before ``update_many`` and the job id after;
  a ticket whose outcome is unknown is checked in Zendesk for our marker before anything is resent.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import sqlite_utils

from . import batches as anth
from . import prompt, store
from . import zendesk as zd
from .config import Config
from .pricing import usage_cost, worst_case_cost
from .store import State
from .timeutil import day_start, iso, month_start, parse_time

FIRST_START_MARGIN = 300.0  # seconds before the first run: older than the export's "too recent" window
EXPORT_PAGES_PER_RUN = 4
EVENT_PAGES_PER_SUBMIT = 8  # a 429 ends the loop sooner; the rest is read at the next submit  # the export allows 10 requests a minute, shared by tickets and events
BACKOFF_MAX = 3600.0
MAX_WRITE_ATTEMPTS = 5
MAX_JOBS_IN_FLIGHT = 10  # of the account's 30 queued jobs: leave room for the customer's other tools
ALERT_OPEN_HOURS = 20.0
RESULT_CHUNK = 500  # results applied per transaction


@dataclass
class Context:
    """What every stage needs; the clients and the clock are passed in (tests use simulators)."""

    config: Config
    db: sqlite_utils.Database
    zendesk: Any = None
    anthropic: Any = None
    clock: Callable[[], float] = time.time
    _blocked: dict[str, float] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock()


# -- helpers ---------------------------------------------------------------------------


def _blocked_until(ctx: Context, stage: str) -> float:
    value = store.get_sync(ctx.db, f"blocked_until:{stage}")
    return float(value) if value else 0.0


def _block(ctx: Context, stage: str, exc: zd.ZendeskRateLimited) -> None:
    store.set_sync(ctx.db, f"blocked_until:{stage}", str(ctx.now() + exc.retry_after))


def _record_problem(ctx: Context, stage: str, message: str | None) -> None:
    """The last problem per stage, shown by ``status`` (a revoked token must be visible)."""
    store.set_sync(ctx.db, f"problem:{stage}", json.dumps({"at": iso(ctx.now()), "message": message}) if message else None)


@contextmanager
def _zendesk_stage(ctx: Context, stage: str, out: dict[str, Any]) -> Iterator[None]:
    """Run a stage's Zendesk work: a 429 blocks the stage until Retry-After, another error is recorded
    for ``status`` (the daemon keeps running), success clears the stage's last problem."""
    try:
        yield
    except zd.ZendeskRateLimited as exc:
        _block(ctx, stage, exc)
        out["waiting"] = str(exc)
    except zd.ZendeskError as exc:
        _record_problem(ctx, stage, str(exc))
        out["error"] = str(exc)
        return
    _record_problem(ctx, stage, None)


def _backoff(base: float, attempts: int) -> float:
    return min(base * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _eligible(ticket: dict[str, Any], config: Config) -> tuple[bool, str]:
    triage = config.triage
    if ticket["status"] == "deleted":
        return False, "deleted in Zendesk"
    if ticket["status"] not in triage.statuses:
        return False, f"status {ticket['status']}"
    opted_out = set(ticket["tags"]) & set(triage.skip_tags)
    if opted_out:
        return False, f"opted out by tag {sorted(opted_out)[0]}"
    return True, ""


def to_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return parse_time(str(value))
    except ValueError:
        return None


# -- ingest ----------------------------------------------------------------------------


def _rows_by_id(ctx: Context, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored rows of these tickets, one query per 500 ids."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        out.update((r["id"], r) for r in ctx.db.query(
            f"select * from tickets where id in ({', '.join('?' * len(part))})", part))
    return out


def save_tickets(ctx: Context, tickets: list[dict[str, Any]]) -> dict[str, int]:
    """Apply one export page to the store (database only). Call inside a transaction.

    The page's stored rows are read in one query and new and seen tickets written in one statement
    each: row by row, sqlite-utils' per-call overhead was most of a 100,000-ticket backfill's ingest.
    """
    now = ctx.now()
    marker = prompt.marker_tag(ctx.config.triage)
    stats = {"queued": 0, "skipped": 0, "ignored": 0, "seen": 0}
    known = _rows_by_id(ctx, [t["id"] for t in tickets])
    new: list[dict[str, Any]] = []
    seen: list[tuple[Any, ...]] = []

    def flush() -> None:
        ctx.db["tickets"].insert_all(new)
        ctx.db.conn.executemany("update tickets set zd_status = ?, zd_tags = ?, zd_updated_at = ? where id = ?", seen)
        new.clear()
        seen.clear()

    for t in tickets:
        row = known.get(t["id"])
        eligible, why = _eligible(t, ctx.config)
        zd_fields = {
            "zd_status": t["status"],
            "zd_tags": json.dumps(t["tags"]),
            "zd_updated_at": float(t.get("generated_timestamp") or to_epoch(t.get("updated_at")) or now),
        }
        if row is None:
            if not eligible:
                stats["ignored"] += 1  # never ours: not stored, so closed history does not fill the database
                continue
            base = {
                "id": t["id"], "subject": t["subject"], "description": t["description"],
                "requester_id": t.get("requester_id"), "zd_created_at": to_epoch(t.get("created_at")),
                "changed_at": iso(now), **zd_fields,
            }
            if marker in t["tags"]:
                # triaged before (another state database, or a restore): never a second note
                new.append({**base, "state": State.SKIPPED.value, "skipped_at": iso(now),
                            "last_error": f"already carries {marker}"})
                stats["skipped"] += 1
            else:
                new.append({**base, "state": State.QUEUED.value, "queued_at": iso(now)})
                stats["queued"] += 1
            known[t["id"]] = new[-1]  # the same ticket twice in a page is new only once
            continue
        stats["seen"] += 1
        seen.append((zd_fields["zd_status"], zd_fields["zd_tags"], zd_fields["zd_updated_at"], t["id"]))
        if not eligible and row["state"] in (State.QUEUED, State.FAILED):
            flush()  # the row as it was written so far, before it moves
            store.transition(ctx.db, t["id"], [row["state"]], State.SKIPPED, now, last_error=why)
            _drop_text(ctx, t["id"])
            store.log_event(ctx.db, now, "skipped", ticket_id=t["id"], detail=why)
            stats["skipped"] += 1
    flush()
    return stats


def save_comments(ctx: Context, comments: list[dict[str, Any]]) -> int:
    """Store comment events (database only); with re-triage on, a customer reply requeues a written ticket."""
    now = ctx.now()
    requeued = 0
    # our own note is not part of the customer's conversation
    # TRANSITIONAL (text branch): bot_user_id should be zd.fetch_me's id; until that is wired, only
    # internal comments count, which no customer can write
    theirs = [c for c in comments if not prompt.is_our_note(
        c["body"], public=c["public"], author_id=c["author_id"], bot_user_id=c["author_id"], ticket_id=c["ticket_id"])]
    # one statement for the page (row by row, sqlite-utils' per-call overhead dominated a backfill)
    ctx.db["comments"].insert_all([
        {"id": c["id"], "ticket_id": c["ticket_id"], "author_id": c["author_id"], "public": int(c["public"]),
         "body": c["body"], "created_at": to_epoch(c["created_at"]) or now} for c in theirs], pk="id", replace=True)
    for c in theirs:
        if not ctx.config.triage.retriage or not c["public"]:
            continue
        row = store.get_ticket(ctx.db, c["ticket_id"])
        if (row and row["state"] == State.WRITTEN and row["requester_id"] == c["author_id"]
                and (to_epoch(c["created_at"]) or 0) > parse_time(row["written_at"])
                and row["zd_status"] in ctx.config.triage.statuses):
            store.transition(ctx.db, row["id"], [State.WRITTEN], State.QUEUED, now, triage_n=row["triage_n"] + 1,
                             attempts=0, invalid_answers=0, write_attempts=0, answer=None, write_started_at=None,
                             write_job_id=None, last_error=None)
            store.log_event(ctx.db, now, "retriage", ticket_id=row["id"], detail="customer wrote again")
            requeued += 1
    return requeued


def ingest(ctx: Context) -> dict[str, Any]:
    """Pull changed tickets (cursor export) and new comments (event export) into the queue."""
    now = ctx.now()
    if _blocked_until(ctx, "ingest") > now:
        return {"stage": "ingest", "waiting": f"rate limited until {iso(_blocked_until(ctx, 'ingest'))}"}
    db = ctx.db
    start = store.get_sync(db, "start_time")
    if start is None:
        # Zendesk refuses an export start_time inside its last minute (422 "Too recent start_time")
        start = str(int(parse_time(ctx.config.zendesk.start) if ctx.config.zendesk.start else now - FIRST_START_MARGIN))
        store.set_sync(db, "start_time", start)
    totals = {"stage": "ingest", "pages": 0, "queued": 0, "skipped": 0}
    with _zendesk_stage(ctx, "ingest", totals):
        for _ in range(EXPORT_PAGES_PER_RUN):
            cursor = store.get_sync(db, "ticket_cursor")
            page = zd.fetch_ticket_page(ctx.zendesk, cursor=cursor, start_time=None if cursor else int(start))
            with db.atomic():
                stats = save_tickets(ctx, page["tickets"])
                if page["after_cursor"]:
                    store.set_sync(db, "ticket_cursor", page["after_cursor"])  # same transaction as its tickets
            totals["pages"] += 1
            totals["queued"] += stats["queued"]
            totals["skipped"] += stats["skipped"]
            if page["end_of_stream"]:
                break
        totals["histories"] = fetch_missing_conversations(ctx)
    return totals


def sync_conversations(ctx: Context) -> dict[str, Any]:
    """Read new comments of every ticket from the ticket-event export (1,000 events a call).

    Conversations matter only when requests are built, so this runs at the start of submit, not at
    every ingest: on a busy day that halves the export calls. ``caught_up`` is false while pages
    remain (a backlog, or the export's rate limit); submit then waits rather than send a ticket
    without its latest replies. Raises ZendeskError.
    """
    start = store.get_sync(ctx.db, "start_time") or "0"
    out: dict[str, Any] = {"comments": 0, "retriaged": 0, "caught_up": False}
    for _ in range(EVENT_PAGES_PER_SUBMIT):
        since = int(store.get_sync(ctx.db, "events_time") or start)
        page = zd.fetch_comment_events(ctx.zendesk, since)
        with ctx.db.atomic():
            out["retriaged"] += save_comments(ctx, page["comments"])
            if page["end_time"] and page["end_time"] >= since:
                store.set_sync(ctx.db, "events_time", str(page["end_time"]))  # same transaction as its comments
        out["comments"] += len(page["comments"])
        if page["end_of_stream"] or not page["end_time"]:
            out["caught_up"] = True
            break
    return out


def fetch_missing_conversations(ctx: Context, limit: int = 50) -> int:
    """Read the comments of queued tickets that predate the event export and had replies.

    The event export only knows comments made since our start time. A ticket created before it
    and updated since (an old ticket the customer answered) may hold older messages: only those
    tickets cost one comments call each. A ticket whose only update was its creation has nothing
    but its description, so it costs nothing.
    """
    start = float(store.get_sync(ctx.db, "start_time") or 0)
    rows = list(ctx.db.query(
        "select id from tickets where state = 'queued' and coalesce(history_fetched, 0) = 0 "
        "and zd_created_at < ? and zd_updated_at > zd_created_at + 60 order by id limit ?", [start, limit]))
    for row in rows:
        comments = zd.fetch_comments(ctx.zendesk, row["id"])
        with ctx.db.atomic():
            save_comments(ctx, comments)
            ctx.db["tickets"].update(row["id"], {"history_fetched": 1})
    return len(rows)


# -- submit ----------------------------------------------------------------------------


def _messages(ctx: Context, row: dict[str, Any]) -> list[prompt.Message]:
    comments = [c for c in store.conversation(ctx.db, row["id"]) if c["public"]]
    if not comments:
        return [prompt.Message("customer", row["description"] or "")]
    return [prompt.Message("customer" if c["author_id"] == row["requester_id"] else "agent", c["body"]) for c in comments]


def build_request(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    """The batch request for one stored ticket (custom_id + params)."""
    a = ctx.config.anthropic
    params = prompt.request_params(row["subject"] or "", _messages(ctx, row), model=a.model, max_tokens=a.max_tokens,
                                   triage=ctx.config.triage, redact_kinds=ctx.config.privacy.redact)
    return {"custom_id": prompt.custom_id(row["id"], row["triage_n"]), "params": params}


def queued_requests(ctx: Context) -> Iterator[tuple[dict[str, Any], dict[str, Any], int]]:
    """Each queued ticket with its batch request and the characters of text it sends (streamed)."""
    for row in store.iter_rows(ctx.db, "select * from tickets where state = 'queued'"):
        request = build_request(ctx, row)
        params = request["params"]
        # the output schema is billed as input too (the API turns it into hidden instructions)
        chars = (sum(len(b["text"]) for b in params["system"]) + len(params["messages"][0]["content"])
                 + len(json.dumps(params["output_config"]["format"]["schema"], separators=(",", ":"))))
        yield row, request, chars


def spend_since(db: sqlite_utils.Database, since: float) -> float:
    """Actual cost of batches created since ``since`` (epoch)."""
    row = next(db.query("select coalesce(sum(cost_usd), 0) as s from batches where created_at >= ?", [iso(since)]))
    return float(row["s"])


def spend_today(db: sqlite_utils.Database, now: float) -> dict[str, float]:
    """Actual cost of batches created today and worst-case reservations still open (UTC day, UTC month)."""
    reserved = next(db.query(
        "select coalesce(sum(reserved_usd), 0) as s from tickets where state = 'submitted'"))["s"]
    return {"spent": spend_since(db, day_start(now)), "reserved": float(reserved),
            "spent_month": spend_since(db, month_start(now))}


def budget_left(ctx: Context, now: float) -> float:
    """Dollars that may still be reserved now under the daily and monthly caps (inf when uncapped)."""
    budget = ctx.config.budget
    spend = spend_today(ctx.db, now)
    left = float("inf")
    if budget.daily_usd > 0:
        left = min(left, budget.daily_usd - spend["spent"] - spend["reserved"])
    if budget.monthly_usd > 0:
        left = min(left, budget.monthly_usd - spend["spent_month"] - spend["reserved"])
    return left


def _count(ctx: Context, state: str) -> int:
    return next(ctx.db.query("select count(*) as n from tickets where state = ?", [state]))["n"]


def _promote_failed(ctx: Context) -> int:
    now = iso(ctx.now())
    cur = ctx.db.execute(
        "update tickets set state = 'queued', queued_at = ?, changed_at = ? "
        "where state = 'failed' and (next_attempt_at is null or next_attempt_at <= ?)",
        [now, now, now],
    )
    return cur.rowcount


def reconcile_creating(ctx: Context) -> dict[str, int]:
    """Settle batches whose create call may or may not have reached Anthropic (crash in between)."""
    now = ctx.now()
    stuck = list(ctx.db.query("select * from batches where state = 'creating' and created_at <= ?",
                              [iso(now - ctx.config.anthropic.verify_after)]))
    out = {"adopted": 0, "requeued": 0}
    if not stuck:
        return out
    recent = anth.list_recent_batches(ctx.anthropic)
    taken = {r["batch_id"] for r in ctx.db.query("select batch_id from batches where batch_id is not null")}
    for row in stuck:
        created = parse_time(row["created_at"])
        match = next((b for b in recent if b["id"] not in taken
                      and created - 5 <= b["created_at"] <= created + 600
                      and sum(b["request_counts"].values()) == row["request_count"]), None)
        with ctx.db.atomic():
            if match:
                # results are matched by custom_id, so adopting a wrong batch would requeue, never misapply
                ctx.db["batches"].update(row["local_id"], {"batch_id": match["id"], "state": "open",
                                                           "expires_at": iso(match["expires_at"])})
                taken.add(match["id"])
                store.log_event(ctx.db, now, "batch_adopted", batch=match["id"], detail="create recorded after a crash")
                out["adopted"] += 1
            else:
                n = _requeue_batch(ctx, row["local_id"], "batch create not confirmed")
                ctx.db["batches"].update(row["local_id"], {"state": "abandoned", "error": "create not confirmed"})
                out["requeued"] += n
    return out


def _requeue_batch(ctx: Context, local_id: str, reason: str) -> int:
    now = iso(ctx.now())
    cur = ctx.db.execute(
        "update tickets set state = 'queued', queued_at = ?, changed_at = ?, batch = null, reserved_usd = 0, "
        "last_error = ? where state = 'submitted' and batch = ?",
        [now, now, reason, local_id],
    )
    return cur.rowcount


def submit(ctx: Context, *, ignore_min_batch: bool = False) -> dict[str, Any]:
    """Send queued tickets as Message Batches, within the daily budget."""
    now = ctx.now()
    cfg = ctx.config
    out: dict[str, Any] = {"stage": "submit", "batches": 0, "submitted": 0, "held_for_budget": 0}
    out["retrying"] = _promote_failed(ctx)
    try:
        out.update(reconcile_creating(ctx))
    except anth.BatchError as exc:
        out["error"] = str(exc)
        return out
    if cfg.triage.retriage or _count(ctx, "queued"):
        # conversations first: a request is built from every comment Zendesk has for the ticket
        if _blocked_until(ctx, "ingest") > now:
            out["waiting"] = "export rate limited; conversations not read yet"
            return out
        try:
            synced = sync_conversations(ctx)
        except zd.ZendeskRateLimited as exc:
            _block(ctx, "ingest", exc)
            out["waiting"] = f"comment events not all read: {exc}"
            return out
        except zd.ZendeskError as exc:
            _record_problem(ctx, "submit", str(exc))
            out["error"] = str(exc)
            return out
        caught_up = synced.pop("caught_up")
        out.update(synced)
        if not caught_up:
            out["waiting"] = "comment events not all read yet; submitting at the next run"
            return out
    queued = _count(ctx, "queued")
    if queued == 0 or (queued < cfg.schedule.min_batch and not ignore_min_batch):
        out["queued"] = queued
        return out
    remaining = budget_left(ctx, now)
    table = cfg.price_table()

    def requests():
        nonlocal remaining
        for row, request, chars in queued_requests(ctx):
            # reserve the worst case (every input token uncached, answer at max_tokens); released to
            # the actual cost when the result arrives
            reserve = worst_case_cost(cfg.anthropic.model, prompt.estimate_tokens(chars), cfg.anthropic.max_tokens,
                                      table=table)
            if reserve > remaining:
                out["held_for_budget"] += 1
                continue
            remaining -= reserve
            yield (row["id"], chars, reserve), request

    for chunk in anth.split_batches(requests()):
        local_id = uuid.uuid4().hex
        reserved = sum(key[2] for key, _ in chunk)
        with ctx.db.atomic():
            ctx.db["batches"].insert({"local_id": local_id, "state": "creating", "model": cfg.anthropic.model,
                                      "request_count": len(chunk), "reserved_usd": reserved,
                                      "bytes": sum(anth.request_bytes(r) for _, r in chunk), "created_at": iso(now)})
            for (ticket_id, chars, reserve), request in chunk:
                store.transition(ctx.db, ticket_id, [State.QUEUED], State.SUBMITTED, now, batch=local_id,
                                 custom_id=request["custom_id"], input_chars=chars, reserved_usd=reserve)
        try:
            batch = anth.create_batch(ctx.anthropic, [r for _, r in chunk])
        except anth.BatchError as exc:
            with ctx.db.atomic():
                if exc.retryable:
                    _requeue_batch(ctx, local_id, str(exc))
                else:
                    # the API refused the batch itself: count an attempt per ticket so it cannot loop forever
                    for (ticket_id, _, _), _r in chunk:
                        _fail(ctx, ticket_id, local_id, str(exc), retryable=True)
                ctx.db["batches"].update(local_id, {"state": "abandoned", "error": str(exc)[:300]})
                store.log_event(ctx.db, now, "batch_create_failed", batch=local_id, detail=str(exc))
            _record_problem(ctx, "submit", str(exc))
            out["error"] = str(exc)
            break
        with ctx.db.atomic():
            ctx.db["batches"].update(local_id, {"batch_id": batch["id"], "state": "open",
                                                "expires_at": iso(batch["expires_at"])})
            store.log_event(ctx.db, now, "batch_created", batch=batch["id"], detail=f"{len(chunk)} requests")
        out["batches"] += 1
        out["submitted"] += len(chunk)
    else:
        _record_problem(ctx, "submit", None)
    if out["held_for_budget"]:
        caps = [f"daily ${cfg.budget.daily_usd:.2f}" if cfg.budget.daily_usd else "",
                f"monthly ${cfg.budget.monthly_usd:.2f}" if cfg.budget.monthly_usd else ""]
        out["note"] = (f"{out['held_for_budget']} ticket(s) held in the queue: the budget "
                       f"({', '.join(c for c in caps if c)}) is reached")
    return out


# -- poll ------------------------------------------------------------------------------


def _fail(ctx: Context, ticket_id: int, local_id: str, reason: str, *, retryable: bool, cost: float = 0.0) -> str:
    """A failed attempt: back to the queue after a backoff, or dead when attempts run out."""
    now = ctx.now()
    row = store.get_ticket(ctx.db, ticket_id)
    attempts = (row["attempts"] or 0) + 1
    common = {"batch": None, "reserved_usd": 0, "attempts": attempts, "last_error": reason[:300],
              "cost_usd": (row["cost_usd"] or 0) + cost}
    if not retryable or attempts >= ctx.config.anthropic.max_attempts:
        store.transition(ctx.db, ticket_id, [State.SUBMITTED], State.DEAD, now, **common)
        store.log_event(ctx.db, now, "dead", ticket_id=ticket_id, batch=local_id, detail=reason)
        return "dead"
    store.transition(ctx.db, ticket_id, [State.SUBMITTED], State.FAILED, now,
                     next_attempt_at=iso(now + _backoff(ctx.config.anthropic.retry_backoff, attempts)), **common)
    return "failed"


def apply_result(ctx: Context, local_id: str, result: dict[str, Any]) -> str:
    """Apply one result line to its ticket (database only); returns what happened."""
    now = ctx.now()
    parsed = prompt.parse_custom_id(result["custom_id"])
    if not parsed:
        return "unknown"
    ticket_id, triage_n = parsed
    row = store.get_ticket(ctx.db, ticket_id)
    if not row or row["state"] != State.SUBMITTED or row["batch"] != local_id or row["triage_n"] != triage_n:
        return "stale"  # already applied (replay after a crash) or not from this batch
    table = ctx.config.price_table()
    model = result.get("model") or ctx.config.anthropic.model
    try:
        cost = usage_cost(model, result.get("usage"), table=table)
    except KeyError:  # a dated snapshot we have no price for: bill it at the configured model's price
        cost = usage_cost(ctx.config.anthropic.model, result.get("usage"), table=table)
    ctx.db.execute("update batches set cost_usd = cost_usd + ? where local_id = ?", [cost, local_id])
    match result["type"]:
        case "succeeded":
            answer, reason = prompt.validate_answer(result["text"] or "", ctx.config.triage,
                                                    stop_reason=result.get("stop_reason"))
            if answer is not None:
                store.transition(ctx.db, ticket_id, [State.SUBMITTED], State.ANSWERED, now, answer=json.dumps(answer),
                                 usage=json.dumps(result["usage"]), cost_usd=(row["cost_usd"] or 0) + cost,
                                 reserved_usd=0, batch=None, last_error=None)
                return "answered"
            invalid = (row["invalid_answers"] or 0) + 1
            ctx.db["tickets"].update(ticket_id, {"invalid_answers": invalid})
            # an invalid answer is retried once, then the ticket is dead (never a tag outside the lists)
            if invalid >= 2:
                return _fail(ctx, ticket_id, local_id, f"invalid answer: {reason}", retryable=False, cost=cost)
            store.transition(ctx.db, ticket_id, [State.SUBMITTED], State.QUEUED, now, batch=None, reserved_usd=0,
                             attempts=(row["attempts"] or 0) + 1, last_error=f"invalid answer: {reason}",
                             cost_usd=(row["cost_usd"] or 0) + cost)
            return "invalid"
        case "errored":
            retryable = result["error_type"] != "invalid_request_error"
            return _fail(ctx, ticket_id, local_id, f"{result['error_type']}: {result['error_message']}", retryable=retryable)
        case "expired" | "canceled" as kind:
            return _fail(ctx, ticket_id, local_id, f"request {kind}", retryable=True)
    return "unknown"


def collect(ctx: Context, local_id: str, batch_id: str) -> dict[str, int]:
    """Stream an ended batch's results into the store, then requeue anything the results did not cover."""
    tally: dict[str, int] = {}
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        with ctx.db.atomic():
            for item in pending:
                outcome = apply_result(ctx, local_id, item)
                tally[outcome] = tally.get(outcome, 0) + 1
        pending.clear()

    for result in anth.iter_results(ctx.anthropic, batch_id):
        pending.append(result)
        if len(pending) >= RESULT_CHUNK:
            flush()
    flush()
    with ctx.db.atomic():
        missing = _requeue_batch(ctx, local_id, "no result in the batch")
        ctx.db["batches"].update(local_id, {"state": "collected", "collected_at": iso(ctx.now())})
    if missing:
        tally["missing"] = missing
    return tally


def poll(ctx: Context) -> dict[str, Any]:
    """Check open batches; collect the ended ones."""
    now = ctx.now()
    out: dict[str, Any] = {"stage": "poll", "open": 0, "collected": 0, "results": {}}
    for row in list(ctx.db.query("select * from batches where state = 'open' order by created_at")):
        try:
            batch = anth.retrieve_batch(ctx.anthropic, row["batch_id"])
        except anth.BatchError as exc:
            if exc.status == 404 and parse_time(row["created_at"]) > now - 600:
                out["open"] += 1  # just created: the API may not show it yet
                continue
            if exc.status == 404:
                with ctx.db.atomic():
                    n = _requeue_batch(ctx, row["local_id"], "batch no longer exists")
                    ctx.db["batches"].update(row["local_id"], {"state": "abandoned", "error": "not found"})
                out.setdefault("requeued", 0)
                out["requeued"] += n
                continue
            _record_problem(ctx, "poll", str(exc))
            out["error"] = str(exc)
            return out
        if batch["processing_status"] != "ended":
            out["open"] += 1
            if now - batch["created_at"] > ALERT_OPEN_HOURS * 3600:
                # batches expire 24 h after creation: someone should know before the requests do
                out.setdefault("alerts", []).append(f"batch {row['batch_id']} open for "
                                                    f"{(now - batch['created_at']) / 3600:.1f} h")
            continue
        ctx.db["batches"].update(row["local_id"], {"ended_at": iso(batch["ended_at"] or now),
                                                   "counts": json.dumps(batch["request_counts"])})
        try:
            tally = collect(ctx, row["local_id"], row["batch_id"])
        except anth.BatchError as exc:
            if exc.status in (404, 410):
                # results are kept 29 days; past that the tickets must be asked again
                with ctx.db.atomic():
                    n = _requeue_batch(ctx, row["local_id"], "results no longer downloadable")
                    ctx.db["batches"].update(row["local_id"], {"state": "abandoned", "error": "results gone"})
                out.setdefault("requeued", 0)
                out["requeued"] += n
                continue
            _record_problem(ctx, "poll", str(exc))
            out["error"] = str(exc)
            return out
        store.log_event(ctx.db, now, "batch_collected", batch=row["batch_id"], detail=json.dumps(tally))
        out["collected"] += 1
        for k, v in tally.items():
            out["results"][k] = out["results"].get(k, 0) + v
    _record_problem(ctx, "poll", None)
    return out


# -- writeback -------------------------------------------------------------------------


def _update_for(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    triage = ctx.config.triage
    if row["state"] == State.DEAD:
        return {"id": row["id"], "additional_tags": [prompt.failed_tag(triage)], "comment": None}
    answer = json.loads(row["answer"])
    return {
        "id": row["id"],
        "additional_tags": prompt.triage_tags(answer, triage),
        "comment": {"body": prompt.note_body(answer, row["id"], row["triage_n"]), "public": False},
        "priority": prompt.native_priority(answer, triage),
    }


def _drop_text(ctx: Context, ticket_id: int) -> None:
    """Retention: once a ticket is done, keep its outcome but not the customer's words."""
    if ctx.config.privacy.drop_text_after_write:
        row = store.get_ticket(ctx.db, ticket_id)
        answer = store.loads(row["answer"], None) if row else None
        if answer:
            answer.pop("draft", None)  # the draft quotes the customer too
        ctx.db["tickets"].update(ticket_id, {"subject": None, "description": None,
                                             "answer": json.dumps(answer) if answer else None})
        ctx.db.execute("delete from comments where ticket_id = ?", [ticket_id])


def _settle_write(ctx: Context, ticket_id: int, ok: bool, error: str = "", *, closed: bool = False) -> str:
    """Record the outcome of our write for one ticket (database only)."""
    now = ctx.now()
    row = store.get_ticket(ctx.db, ticket_id)
    if row is None:
        return "unknown"
    clear = {"write_started_at": None, "write_job_id": None}
    if row["state"] == State.DEAD:
        ctx.db["tickets"].update(ticket_id, {**clear, "failed_tag_at": iso(now) if ok or closed else None})
        return "failed_tagged" if ok else "failed_tag_error"
    if ok:
        store.transition(ctx.db, ticket_id, [State.ANSWERED], State.WRITTEN, now, **clear)
        _drop_text(ctx, ticket_id)
        return "written"
    if closed:
        store.transition(ctx.db, ticket_id, [State.ANSWERED], State.SKIPPED, now, last_error=error[:300], **clear)
        _drop_text(ctx, ticket_id)
        store.log_event(ctx.db, now, "skipped", ticket_id=ticket_id, detail=error)
        return "skipped"
    attempts = (row["write_attempts"] or 0) + 1
    if attempts >= MAX_WRITE_ATTEMPTS:
        store.transition(ctx.db, ticket_id, [State.ANSWERED], State.DEAD, now, write_attempts=attempts,
                         last_error=f"write-back: {error}"[:300], **clear)
        return "dead"
    ctx.db["tickets"].update(ticket_id, {**clear, "write_attempts": attempts, "last_error": f"write-back: {error}"[:300]})
    return "retry"


def _verify(ctx: Context, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Tickets whose write may have landed: look for our marker in Zendesk before resending."""
    tally: dict[str, int] = {}
    marker = prompt.marker_tag(ctx.config.triage)
    failed = prompt.failed_tag(ctx.config.triage)
    for start in range(0, len(rows), zd.UPDATE_MANY_LIMIT):
        group = rows[start:start + zd.UPDATE_MANY_LIMIT]
        found = {t["id"]: t for t in zd.fetch_tickets(ctx.zendesk, [r["id"] for r in group])}
        for row in group:
            ticket = found.get(row["id"])
            landed = False
            if ticket is not None and row["state"] == State.DEAD:
                landed = failed in ticket["tags"]
            elif ticket is not None and marker in ticket["tags"]:
                # a re-triage already carries the marker from the first note: look for this triage's note
                landed = row["triage_n"] == 1 or any(
                    prompt.is_our_note(c["body"], public=c["public"], author_id=c["author_id"],
                                       bot_user_id=c["author_id"], ticket_id=row["id"], triage_n=row["triage_n"])
                    for c in zd.fetch_comments(ctx.zendesk, row["id"]))  # TRANSITIONAL bot_user_id, as above
            with ctx.db.atomic():
                if landed:
                    outcome = _settle_write(ctx, row["id"], True)
                elif ticket is None or ticket["status"] in ("closed", "deleted"):
                    outcome = _settle_write(ctx, row["id"], False, "ticket closed or deleted", closed=True)
                else:
                    ctx.db["tickets"].update(row["id"], {"write_started_at": None, "write_job_id": None})
                    outcome = "resend"
            tally[outcome] = tally.get(outcome, 0) + 1
    return tally


def writeback(ctx: Context) -> dict[str, Any]:
    """Write tags and one internal note per answered ticket, 100 tickets per ``update_many``."""
    now = ctx.now()
    cfg = ctx.config
    out: dict[str, Any] = {"stage": "writeback", "jobs_sent": 0, "results": {}}
    if _blocked_until(ctx, "writeback") > now:
        out["waiting"] = f"rate limited until {iso(_blocked_until(ctx, 'writeback'))}"
        return out

    def count(tally: dict[str, int]) -> None:
        for k, v in tally.items():
            out["results"][k] = out["results"].get(k, 0) + v

    with _zendesk_stage(ctx, "writeback", out):
        # 1. jobs we sent: settle their tickets from the job results
        job_ids = [r["write_job_id"] for r in ctx.db.query(
            "select distinct write_job_id from tickets where write_job_id is not null")]
        in_flight = 0
        for job in zd.fetch_jobs(ctx.zendesk, job_ids):
            if job["status"] in ("queued", "working"):
                in_flight += 1
                continue
            members = [r["id"] for r in ctx.db.query("select id from tickets where write_job_id = ?", [job["id"]])]
            by_id = {r["id"]: r for r in job["results"] if r["id"] is not None}
            tally: dict[str, int] = {}
            with ctx.db.atomic():
                for ticket_id in members:
                    result = by_id.get(ticket_id)
                    if job["status"] == "completed" and result is not None:
                        error = f"{result['error'] or ''} {result['details'] or ''}".strip()
                        outcome = _settle_write(ctx, ticket_id, result["success"], error,
                                                closed=not result["success"] and zd.is_closed_error(result))
                    else:
                        # job failed, vanished, or said nothing of this ticket: verify before resending
                        ctx.db["tickets"].update(ticket_id, {"write_job_id": None})
                        outcome = "unknown"
                    tally[outcome] = tally.get(outcome, 0) + 1
            count(tally)

        # 2. writes whose outcome is unknown (crash or timeout after the call): verify once the job had time
        unsure = list(ctx.db.query(
            "select * from tickets where write_started_at is not null and write_job_id is null and write_started_at <= ?",
            [iso(now - cfg.zendesk.verify_after)]))
        if unsure:
            count(_verify(ctx, unsure))

        # 3. new writes, paced to the account's ticket-update allowance
        allowance = max(int(cfg.zendesk.updates_per_minute * cfg.schedule.writeback_every / 60), zd.UPDATE_MANY_LIMIT)
        allowance = min(allowance, max(MAX_JOBS_IN_FLIGHT - in_flight, 0) * zd.UPDATE_MANY_LIMIT)
        rows = list(ctx.db.query(
            "select * from tickets where write_started_at is null and "
            "(state = 'answered' or (state = 'dead' and failed_tag_at is null and zd_status in "
            f"({', '.join('?' for _ in cfg.triage.statuses)}))) order by id limit ?",
            [*cfg.triage.statuses, allowance]))
        for start in range(0, len(rows), zd.UPDATE_MANY_LIMIT):
            if in_flight >= MAX_JOBS_IN_FLIGHT:
                out["note"] = f"{in_flight} write jobs in flight; the rest waits"
                break
            group = rows[start:start + zd.UPDATE_MANY_LIMIT]
            updates = [_update_for(ctx, r) for r in group]
            with ctx.db.atomic():  # intent, before the call (one statement per group: bench/README.md)
                ctx.db.conn.executemany("update tickets set write_started_at = ? where id = ?",
                                        [(iso(now), r["id"]) for r in group])
            try:
                job_id = zd.write_updates(ctx.zendesk, updates)
            except zd.ZendeskUnavailable:
                raise  # may have landed: intent stays, verified after zendesk.verify_after
            except zd.ZendeskError:
                with ctx.db.atomic():  # refused before anything was applied (429, 401, 4xx)
                    for r in group:
                        ctx.db["tickets"].update(r["id"], {"write_started_at": None})
                raise
            with ctx.db.atomic():
                ctx.db.conn.executemany("update tickets set write_job_id = ? where id = ?",
                                        [(job_id, r["id"]) for r in group])
            in_flight += 1
            out["jobs_sent"] += 1
    return out


def run_once(ctx: Context) -> list[dict[str, Any]]:
    """Every stage once, in order, ignoring schedules and the minimum batch size (budget still applies)."""
    return [ingest(ctx), submit(ctx, ignore_min_batch=True), poll(ctx), writeback(ctx)]
