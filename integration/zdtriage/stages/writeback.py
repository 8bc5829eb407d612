"""Write-back: tags and one internal note per answered ticket (the failed tag for a dead one), 100 tickets
per ``update_many``.

The intent (kind and triage) is recorded before the call and the job id after it; a job's outcome settles
only the intent it was sent for, so a ticket revived or re-triaged meanwhile is never settled by an old
job. A write whose outcome is unknown (crash, timeout) is checked in Zendesk for our marker before anything
is resent. One ticket's surprise is recorded on that ticket; the others go on.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .. import prompt, store
from .. import zendesk as zd
from ..store import IllegalTransition, Intent, State, WriteKind, pace, writes
from ..store import articles as help_center
from ..store import tickets as queue
from ..timeutil import iso
from .common import (
    TICKET_ERRORS,
    blocked_until,
    bot_user_id,
    eligible,
    landed_by_tags,
    settle_landed,
    settle_write,
    tally,
    zendesk_stage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..context import Context

MAX_JOBS_IN_FLIGHT = 10  # of the account's 30 queued jobs: leave room for the customer's other tools
# fewer writable tickets than this wait for more while a batch is open, at most schedule.max_wait (issue 22:
# a re-asked answer, a lone failed tag or a retried write cost their own show_many and update_many)
SMALL_GROUP = 10
_NONE: help_center.Provided = {"articles": [], "macros": []}  # a request that held no article and no macro


def job_check_after(ctx: Context) -> float:
    """How long after sending a job we ask for its status: ``zendesk.verify_after``, by default past the next
    ingest (the export leaves out the last minute), which usually confirms the write without a call."""
    return ctx.config.zendesk.verify_after


def writeback(ctx: Context) -> dict[str, Any]:
    """Settle finished jobs, verify unsure writes, then send new writes within the update allowance."""
    out: dict[str, Any] = {"stage": "writeback", "jobs_sent": 0, "results": {}}
    if blocked_until(ctx, "writeback") > ctx.now():
        out["waiting"] = f"rate limited until {iso(blocked_until(ctx, 'writeback'))}"
        return out
    with zendesk_stage(ctx, "writeback", out):
        intents = writes.open_intents(ctx.db)
        in_flight = settle_jobs(ctx, out["results"], intents) if set(intents) - {None} else 0
        # intents without a job id (a crash or timeout hid, or settle_jobs just forgot, the job): none without intents
        unsure = writes.unsure_writes(ctx.db, ctx.now() - ctx.config.zendesk.verify_after,
                                      ctx.now()) if intents else []
        if unsure:
            verify(ctx, unsure, out["results"])
        send(ctx, in_flight, out)
    return out


def settle_jobs(ctx: Context, results: dict[str, int], intents: dict[str | None, str] | None = None) -> int:
    """Settle the tickets of every finished job from its results; returns the jobs still in flight.

    A job is asked about once the ticket export has had time to show its tickets (ingest settles a write
    whose marker it sees, which costs no call), or sooner when every slot is taken and writes wait: then the
    statuses of all open jobs come in one ``show_many``, so a job Zendesk finished seconds after the call
    frees its slot now, not at the next ingest (issue 22). A job still ``queued`` or ``working`` after
    ``zendesk.verify_after`` is stuck: its tickets are verified and resent (``_stuck``), and it frees its slot.
    ``intents``: ``store.writes.open_intents`` if the caller has read it.
    """
    now = ctx.now()
    sent = writes.open_intents(ctx.db) if intents is None else intents
    # open_jobs(), and open_jobs(sent_before=..., now=...), from the one read
    before, ahead = iso(now - job_check_after(ctx)), iso(now + 60)
    every = [job for job in sent if job is not None]
    due = [job for job in every if sent[job] is not None and (sent[job] <= before or sent[job] > ahead)]
    ask = due
    if (len(every) >= MAX_JOBS_IN_FLIGHT and pace.room(ctx.db, "updates", now, ctx.config.zendesk.updates_per_minute)
            and writes.writable(ctx.db, ctx.config.triage.statuses, 1, now)):
        ask = every
    in_flight = len(every) - len(ask)
    overdue = set(due)
    for job in zd.fetch_jobs(ctx.zendesk, ask):
        if job["status"] in ("queued", "working"):
            if job["id"] in overdue:
                _stuck(ctx, job, results)
            else:
                in_flight += 1
            continue
        members = writes.job_members(ctx.db, job["id"])
        by_id = {r["id"]: r for r in job["results"] if r["id"] is not None}
        gone = set(by_id) - {m["id"] for m in members}
        if gone:
            # the intents these outcomes were for no longer exist (ticket revived or settled): ignore them
            store.log_event(ctx.db, now, "stale_write_outcome", detail=f"job {job['id']}: tickets {sorted(gone)}")
            tally(results, "stale", len(gone))
        try:  # the job's tickets in one transaction (a savepoint each was most of its SQLite: issue 22)
            with ctx.db.atomic():
                outcomes = _settle_members(ctx, members, job, by_id)
        except (IllegalTransition, *TICKET_ERRORS):  # rolled back whole: one at a time, the bad one alone
            with ctx.db.atomic():
                outcomes = [_isolated(ctx, r, lambda r=r, job=job, by_id=by_id:
                                      _settle_one(ctx, r, job, by_id.get(r["id"]))) for r in members]
        for outcome in outcomes:
            tally(results, outcome)
    return in_flight


def _stuck(ctx: Context, job: dict[str, Any], results: dict[str, int]) -> None:
    """A job not done after ``verify_after`` (queued forever, or very late): its tickets are verified in
    Zendesk and resent if the write is not there. Every write carries ``safe_update`` with the
    ``updated_at`` of the read before it, so whichever of the old job and the new one runs second finds
    the ticket changed and is refused (409): a late job never adds a second note."""
    store.log_event(ctx.db, ctx.now(), "write_job_stuck", detail=f"job {job['id']} still {job['status']}: verifying")
    with ctx.db.atomic():
        for row in writes.job_members(ctx.db, job["id"]):
            intent = writes.current_intent(row)
            if intent is not None and writes.forget_job(ctx.db, row["id"], intent):
                tally(results, "stuck")


def _settle_members(ctx: Context, members: list[dict[str, Any]], job: dict[str, Any],
                    by_id: dict[int, dict[str, Any]]) -> list[str]:
    """:func:`_settle_one` for every ticket of a finished job; the writes that landed (most of them) in one
    statement per kind (``settle_landed``: a job holds up to 100, issue 22), the others one at a time."""
    landed: list[tuple[int, Intent]] = []
    outcomes: list[str] = []
    for row in members:
        result, intent = by_id.get(row["id"]), writes.current_intent(row)
        if intent is not None and job["status"] == "completed" and result is not None and result["success"]:
            landed.append((row["id"], intent))
        else:
            outcomes.append(_settle_one(ctx, row, job, result))
    return outcomes + settle_landed(ctx, landed)


def _settle_one(ctx: Context, row: dict[str, Any], job: dict[str, Any], result: dict[str, Any] | None) -> str:
    intent = writes.current_intent(row)
    if intent is None:
        return "stale"
    if job["status"] != "completed" or result is None or (not result["success"] and _conflict(result)):
        # the job failed, its status expired (404, left out of show_many), it said nothing of this ticket,
        # or the ticket changed between our read and the job (safe_update): unknown, verify before resending
        writes.forget_job(ctx.db, row["id"], intent)
        return "unknown"
    error = f"{result['error'] or ''} {result['details'] or ''}".strip()
    outcome = "ok" if result["success"] else ("closed" if zd.is_closed_error(result) else "error")
    return settle_write(ctx, row["id"], intent, outcome, error)


def _conflict(result: dict[str, Any]) -> bool:
    # a safe_update refusal: the 409 UpdateConflict of the docs ("Protecting against ticket update
    # collisions"); inside a job only its text can say so (no recording of that item)
    text = f"{result['error']} {result['details']}".lower()
    return "updateconflict" in text or "safe update" in text


def verify(ctx: Context, rows: list[dict[str, Any]], results: dict[str, int]) -> None:
    """Writes that may have landed: look for them in Zendesk before resending."""
    for start in range(0, len(rows), zd.UPDATE_MANY_LIMIT):
        group = rows[start:start + zd.UPDATE_MANY_LIMIT]
        found = {t["id"]: t for t in zd.fetch_tickets(ctx.zendesk, [r["id"] for r in group], state_only=True)}
        for row in group:
            with ctx.db.atomic():
                tally(results, _isolated(ctx, row, lambda r=row, found=found: _verify_one(ctx, r, found.get(r["id"]))))


def _verify_one(ctx: Context, row: dict[str, Any], ticket: dict[str, Any] | None) -> str:
    intent = writes.current_intent(row)
    if intent is None:
        return "stale"
    if ticket is not None and _landed(ctx, row, intent, ticket):
        return settle_write(ctx, row["id"], intent, "ok")
    if ticket is None or ticket["status"] in ("closed", "deleted"):
        return settle_write(ctx, row["id"], intent, "closed", "ticket closed or deleted")
    writes.release(ctx.db, row["id"], intent)
    return "resend"


def _landed(ctx: Context, row: dict[str, Any], intent: Intent, ticket: dict[str, Any]) -> bool:
    inherited = bool(row.get("marker_inherited"))
    if landed_by_tags(ctx, intent, ticket["tags"], inherited=inherited):
        return True
    if intent.kind == WriteKind.FAILED_TAG or prompt.marker_tag(ctx.config.triage) not in ticket["tags"]:
        return False
    if ctx.config.writeback.mode == "tags":  # no note to look for: this triage's tags are the proof
        # unless they may have been copied in (a follow-up): adding the same tags again is harmless
        return not inherited and set(prompt.triage_tags(json.loads(row["answer"]), ctx.config.triage)) <= set(
            ticket["tags"])
    # a re-triage already carries the marker from the first note: look for this triage's note
    bot = bot_user_id(ctx)
    return any(prompt.is_our_note(c["body"], public=c["public"], author_id=c["author_id"], bot_user_id=bot,
                                  ticket_id=row["id"], triage_n=intent.triage_n)
               for c in zd.fetch_comments(ctx.zendesk, row["id"]))


def send(ctx: Context, in_flight: int, out: dict[str, Any]) -> None:
    """New writes, paced to the account's ticket-update allowance and the jobs it may have queued.

    Each group is read again (one ``show_many``) right before its ``update_many``: an agent may have
    solved the ticket or opted it out since it was submitted, and nothing is written where it must not be.
    """
    cfg = ctx.config
    if cfg.writeback.mode == "off":
        # pilot mode: answers stay in the state for `report`; nothing at all is written to Zendesk
        return
    # the account's ticket updates a minute, kept across runs (store/pace.py), and the jobs we may queue; the
    # room is read only when something is writable (a minute with nothing to write costs one read: issue 22)
    jobs = min(max(MAX_JOBS_IN_FLIGHT - in_flight, 0) * zd.UPDATE_MANY_LIMIT, cfg.zendesk.updates_per_minute)
    if jobs <= 0:
        return
    rows = writes.writable(ctx.db, cfg.triage.statuses, jobs, ctx.now())
    if not rows:
        return
    allowance = min(pace.room(ctx.db, "updates", ctx.now(), cfg.zendesk.updates_per_minute), jobs)
    rows = rows[:allowance]  # what writable(..., allowance) gives: the same order, cut shorter
    if allowance >= SMALL_GROUP and _filling(ctx, rows):
        out["note"] = f"{len(rows)} write(s) wait to be joined by the answers of an open batch"
        return
    for start in range(0, len(rows), zd.UPDATE_MANY_LIMIT):
        if in_flight >= MAX_JOBS_IN_FLIGHT:
            out["note"] = f"{in_flight} write jobs in flight; the rest waits"
            return
        group = rows[start:start + zd.UPDATE_MANY_LIMIT]
        fresh = {t["id"]: t for t in zd.fetch_tickets(ctx.zendesk, [r["id"] for r in group], state_only=True)}
        if _send_group(ctx, group, fresh, out):
            in_flight += 1
            out["jobs_sent"] += 1


def _filling(ctx: Context, rows: list[dict[str, Any]]) -> bool:
    """Whether a small group waits to be filled: fewer than :data:`SMALL_GROUP` tickets, a batch still open
    (its answers come within the cadence), and none of them writable for ``schedule.max_wait`` (at most
    ``zendesk.verify_after``) yet. A batch's own answers arrive together and fill their group at once: only
    stragglers wait."""
    if not rows or len(rows) >= SMALL_GROUP or not store.batches_in(ctx.db, "open"):
        return False
    # never longer than zendesk.verify_after: health calls answers unwritten for twice that a stall
    wait = min(ctx.config.schedule.max_wait, ctx.config.zendesk.verify_after)
    waited_enough, ahead = iso(ctx.now() - wait), iso(ctx.now() + 60)
    return all(waited_enough < (r["changed_at"] or "") <= ahead for r in rows)  # a stamp ahead: a clock step


def _send_group(ctx: Context, group: list[dict[str, Any]], fresh: dict[int, dict[str, Any]],
                out: dict[str, Any]) -> bool:
    """One ``update_many`` for the tickets of ``group`` that are still ours to write; False if none were."""
    now = ctx.now()
    updates: list[dict[str, Any]] = []
    intents: list[tuple[int, str, int]] = []
    landed: list[dict[str, Any]] = []
    # what every request of the group held, in one query (two one-row reads a ticket before: issue 22); a dead
    # ticket's failed tag, and writeback.mode "tags", write no note
    full = ctx.config.writeback.mode == "full"
    try:
        held: dict[tuple[int, int], help_center.Provided] | None = help_center.provided_many(
            ctx.db, [(r["id"], r["triage_n"]) for r in group if full and r["state"] != State.DEAD])
    except TICKET_ERRORS:  # one request's record cannot be read: each ticket reads its own, that one fails alone
        held = None
    for row in group:
        ticket = fresh.get(row["id"])
        ok, why = eligible(ticket, ctx.config) if ticket is not None else (False, "deleted in Zendesk")
        if not ok or ticket is None:  # None is never ok: this tells the type checker
            with ctx.db.atomic():
                tally(out["results"], _not_ours_any_more(ctx, row, why))
            continue
        kind = WriteKind.FAILED_TAG if row["state"] == State.DEAD else WriteKind.NOTE
        if kind == WriteKind.NOTE and landed_by_tags(ctx, Intent(kind.value, row["triage_n"]), ticket["tags"],
                                                     inherited=bool(row.get("marker_inherited"))):
            # this first triage's marker is on the ticket already, though we hold no write for it: a state
            # restored from an older backup, or one whose record of the write was lost. Settled, never resent
            landed.append(row)
            continue
        try:
            # safe_update: applied only if the ticket is as this read saw it, so of two jobs for one intent
            # (a stuck one running late, and its resend) at most one lands (docs/failures.md)
            provided = None if held is None else held.get((row["id"], row["triage_n"]), _NONE)
            updates.append({**update_for(ctx, row, ticket["tags"], provided),
                            "updated_stamp": ticket.get("updated_at")})
        except TICKET_ERRORS as exc:
            _give_up(ctx, row, f"cannot build the update: {type(exc).__name__}", out["results"])
            continue
        intents.append((row["id"], kind.value, row["triage_n"]))
    if landed:
        _settle_landed(ctx, landed, out["results"])
    if not updates:
        return False
    if not pace.take(ctx.db, "updates", now, ctx.config.zendesk.updates_per_minute, n=len(updates)):
        return False
    with ctx.db.atomic():  # the intent, before the call (one statement per group: bench/README.md)
        began = set(writes.begin_writes(ctx.db, now, intents))
    if len(began) < len(intents):  # moved since the read (retry --dead): left out, the group goes on
        tally(out["results"], "moved", len(intents) - len(began))
        updates = [u for u in updates if u["id"] in began]
        if not updates:
            return False
    ids = [i for i, _, _ in intents if i in began]
    try:
        job_id = zd.write_updates(ctx.zendesk, updates)
    except zd.ZendeskUnavailable:
        raise  # may have landed: the intents stay and are verified after zendesk.verify_after
    except zd.ZendeskError:
        with ctx.db.atomic():  # refused before anything was applied (429, 401, 4xx)
            writes.cancel_writes(ctx.db, ids)
        raise
    with ctx.db.atomic():
        writes.record_job(ctx.db, job_id, ids)
    return True


def _settle_landed(ctx: Context, rows: list[dict[str, Any]], results: dict[str, int]) -> None:
    """Record as written the first triages whose marker Zendesk already shows (see :func:`_send_group`)."""
    with ctx.db.atomic():
        began = set(
            writes.begin_writes(ctx.db, ctx.now(), [(r["id"], WriteKind.NOTE.value, r["triage_n"]) for r in rows])
        )
    for row in rows:
        if row["id"] in began:
            with ctx.db.atomic():
                tally(results, _isolated(ctx, row, lambda r=row: settle_write(
                    ctx, r["id"], Intent(WriteKind.NOTE.value, r["triage_n"]), "ok")))


def _not_ours_any_more(ctx: Context, row: dict[str, Any], why: str) -> str:
    """Solved, closed, deleted or opted out since it was queued: skipped with the reason, nothing written."""
    now = ctx.now()
    if row["state"] == State.DEAD:
        writes.not_owed(ctx.db, row["id"], now, reason=f"failed tag not written: {why}")
        return "failed_tag_not_owed"
    queue.skip(ctx.db, row["id"], now, reason=f"before write-back: {why}")
    if ctx.config.privacy.drop_text_after_write:
        queue.drop_text(ctx.db, row["id"])
    store.log_event(ctx.db, now, "skipped", ticket_id=row["id"], detail=f"before write-back: {why}")
    return "skipped"


def update_for(ctx: Context, row: dict[str, Any], tags: list[str],
               provided: help_center.Provided | None = None) -> dict[str, Any]:
    """The ``update_many`` item of one ticket: the failed tag for a dead ticket, else tags and the note.

    ``tags`` are the ticket's tags as Zendesk has them now: a previous triage's value tags (and the failed
    tag of a revived ticket) are removed in the same update, so a ticket never sits in two priorities' views.
    ``provided``: what its request held (``store.articles.provided_many``), read from the store when None.
    """
    triage = ctx.config.triage
    if row["state"] == State.DEAD:
        return {"id": row["id"], "additional_tags": [prompt.failed_tag(triage)], "comment": None}
    answer = json.loads(row["answer"])
    new = prompt.triage_tags(answer, triage)
    full = ctx.config.writeback.mode == "full"  # "tags": the tags alone, no note and no native priority
    return {
        "id": row["id"],
        "additional_tags": new,
        "remove_tags": prompt.stale_tags(tags, new, triage),
        "comment": {"body": prompt.note_body(answer, row["id"], row["triage_n"],
                                             articles=cited_articles(ctx, row, answer, provided),
                                             allowed_links=knowledge_links(triage.knowledge),
                                             macro=suggested_macro(ctx, row, answer, provided)),
                    "public": False} if full else None,
        "priority": prompt.native_priority(answer, triage) if full else None,
    }


def cited_articles(ctx: Context, row: dict[str, Any], answer: dict[str, Any],
                   provided: help_center.Provided | None = None) -> list[dict[str, Any]]:
    """The articles the answer cites, as its request held them, in the answer's order; one archived or deleted
    since (no longer stored) is left out, so a note never links a page the customer cannot open."""
    if not answer.get("sources"):
        return []
    offered = provided["articles"] if provided is not None else help_center.provided(ctx.db, row["id"],
                                                                                      row["triage_n"])
    held = {a["id"]: a for a in offered}
    cited = [held[i] for i in answer.get("sources") or [] if i in held]
    still = help_center.existing(ctx.db, [(a["id"], a["locale"]) for a in cited])
    return [a for a in cited if (a["id"], a["locale"]) in still]


def suggested_macro(ctx: Context, row: dict[str, Any], answer: dict[str, Any],
                    provided: help_center.Provided | None = None) -> str | None:
    """The title of the macro the answer names, if the request offered it and it is still active and shared."""
    if not answer.get("macro_id") or not ctx.config.triage.suggest_macros:
        return None
    macros = provided["macros"] if provided is not None else help_center.provided(ctx.db, row["id"],
                                                                                   row["triage_n"], "macros")
    offered = {m["id"]: m["title"] for m in macros}
    title = offered.get(answer["macro_id"])
    return title if title and help_center.macro_exists(ctx.db, answer["macro_id"]) else None


@lru_cache(maxsize=4)
def knowledge_links(knowledge: str) -> tuple[str, ...]:
    """Links the admin wrote in ``triage.knowledge_file``: the only ones a draft may carry besides articles'."""
    return tuple(prompt.links_in(knowledge))


def _isolated(ctx: Context, row: dict[str, Any], step: Callable[..., str]) -> str:
    """Run one ticket's step in a savepoint; a surprise is recorded on that ticket and the stage goes on."""
    try:
        with ctx.db.atomic():
            return step()
    except (IllegalTransition, *TICKET_ERRORS) as exc:
        _give_up(ctx, row, f"write-back: {type(exc).__name__}: {str(exc)[:200]}", {})
        return "error"


def _give_up(ctx: Context, row: dict[str, Any], reason: str, results: dict[str, int]) -> None:
    now = ctx.now()
    with ctx.db.atomic():
        if row["state"] == State.ANSWERED and (queue.get(ctx.db, row["id"]) or {}).get("state") == State.ANSWERED:
            queue.kill(ctx.db, row["id"], now, reason=reason)
        store.log_event(ctx.db, now, "writeback_error", ticket_id=row["id"], detail=reason)
    tally(results, "error")
