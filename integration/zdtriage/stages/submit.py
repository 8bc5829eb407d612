"""Submit: queued tickets into Message Batches, within the budget.

A batch row (``creating``) is recorded and its tickets moved to ``submitted`` *before* the create call,
and the returned batch id right after it. A crash in between leaves a ``creating`` row that the next
submit reconciles against the workspace's recent batches. A ticket whose request cannot be built is
dead with the reason; the others are sent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from .. import batches as anth
from .. import budget, grounding, prompt, store
from .. import zendesk as zd
from ..pricing import worst_case_cost
from ..store import articles as help_center
from ..store import tickets as queue
from ..store import users
from ..timeutil import iso, parse_time
from . import conversations, ingest
from .common import TICKET_ERRORS, block, blocked_until, count_failure, held, hold, record_problem, release_hold

if TYPE_CHECKING:
    from ..context import Context

PAGE = 200  # queued tickets whose comments and authors are read at once
FULL_BATCH = 500  # queued tickets that about fill one 8 MiB batch of typical tickets (bench: 677-813 each)
FRESH_INGEST = 60.0  # an ingest this recent has read the ticket export already


def submit(ctx: Context, *, ignore_min_batch: bool = False) -> dict[str, Any]:
    """Send the queued tickets whose conversation is known, as Message Batches within the caps, when the
    submit policy says so (``run --once`` sends whatever is ready)."""
    now = ctx.now()
    cfg = ctx.config
    out: dict[str, Any] = {"stage": "submit", "batches": 0, "submitted": 0, "held_for_budget": 0}
    out["retrying"] = queue.promote_due(ctx.db, now)
    try:
        out.update(reconcile_creating(ctx))
    except anth.BatchError as exc:
        out["error"] = str(exc)
        return out
    hold_until, reason = held(ctx)
    if hold_until > now:
        # the account was refused (key, billing, credit, model): nothing is sent, nothing counts against tickets
        out["waiting"] = f"submitting held until {iso(hold_until)}: {reason}"
        return out
    due, why = policy(ctx, ignore_min_batch=ignore_min_batch)
    if not due:
        out["waiting"] = why
        return out
    if not _read_exports(ctx, out):
        return out
    remaining = budget.left(ctx.db, cfg.budget, now)
    table = cfg.price_table()

    def unbuildable(row: dict[str, Any], exc: Exception) -> None:
        with ctx.db.atomic():
            queue.kill(ctx.db, row["id"], now, reason=f"cannot build the request: {type(exc).__name__}")
            store.log_event(ctx.db, now, "dead", ticket_id=row["id"], detail=f"request: {type(exc).__name__}")
        out["dead"] = out.get("dead", 0) + 1

    provided: dict[int, dict[str, Any]] = {}  # the articles and macros each request holds, recorded at create
    # each request is encoded once, here: its length cuts the batches and its bytes are the create body
    encoded: dict[str, bytes] = {}

    def within_budget() -> Iterator[tuple[tuple[int, int, float], dict[str, Any]]]:
        nonlocal remaining
        for row, request, chars in queued_requests(ctx, on_error=unbuildable, ready_only=True, provided=provided):
            # reserve the worst case (every input token uncached, answer at max_tokens); released to
            # the actual cost when the result arrives
            reserve = worst_case_cost(cfg.anthropic.model, prompt.estimate_tokens(chars),
                                      request["params"]["max_tokens"], table=table)
            if reserve > remaining:
                out["held_for_budget"] += 1
                if out["held_for_budget"] <= 10:  # named in the budget-hold warning
                    out.setdefault("held_ids", []).append(row["id"])
                continue
            remaining -= reserve
            encoded[request["custom_id"]] = anth.encode_request(request)
            yield (row["id"], chars, reserve), request

    for chunk in anth.split_batches(within_budget(), size_of=lambda r: len(encoded[r["custom_id"]]) + 1):
        if not _send(ctx, chunk, out, provided, [encoded.pop(r["custom_id"]) for _, r in chunk]):
            break
    else:
        record_problem(ctx, "submit", None)
    waiting = queue.waiting(ctx.db, conversations.events_complete(ctx))
    if waiting["queued"] > waiting["ready"]:
        out["not_ready"] = waiting["queued"] - waiting["ready"]  # their conversation is not all read yet
    if out["held_for_budget"]:
        out["note"] = budget.hold_note(cfg.budget, out["held_for_budget"])
    return out


def policy(ctx: Context, *, ignore_min_batch: bool = False) -> tuple[bool, str]:
    """Whether to submit now, and why not: when the oldest queued ticket has waited ``schedule.max_wait``
    (since it arrived, or since the customer's reply for a re-triage) or a batch is full, and at least
    ``schedule.min_batch`` tickets are queued (``run --once`` ignores both)."""
    sched = ctx.config.schedule
    waiting = queue.waiting(ctx.db, conversations.events_complete(ctx))
    if not waiting["queued"]:
        return False, "nothing queued"
    if ignore_min_batch:
        return True, ""
    if waiting["queued"] < sched.min_batch:
        return False, f"{waiting['queued']} queued, waiting for schedule.min_batch = {sched.min_batch}"
    if waiting["queued"] >= FULL_BATCH:
        return True, ""
    waited = ctx.now() - (waiting["oldest"] or ctx.now())
    if waited >= sched.max_wait:
        return True, ""
    return (
        False,
        f"{waiting['queued']} queued; the oldest has waited {waited / 60:.0f} of {sched.max_wait / 60:.0f} min",
    )


def _read_exports(ctx: Context, out: dict[str, Any]) -> bool:
    """Read the exports just before a batch is built, so it holds the freshest tickets and comments.

    The ticket export is skipped when an ingest has just read it; the event export is read within the
    budget, and only tickets whose conversation is complete are sent. False when Zendesk refused.
    """
    if ctx.now() - float(store.get_sync(ctx.db, "ingested_at") or 0) > FRESH_INGEST:
        summary = ingest.ingest(ctx)
        out["ingest"] = {k: v for k, v in summary.items() if k != "stage" and v}
        if "error" in summary:
            return False
    if blocked_until(ctx, "ingest") > ctx.now():
        out["waiting"] = "export rate limited; only tickets whose conversation is known are sent"
        return True
    waiting = queue.waiting(ctx.db, conversations.events_complete(ctx))
    if waiting["ready"] == waiting["queued"] and not ctx.config.triage.retriage:
        return True  # every queued conversation is known (most are a description alone): no events call
    try:
        synced = conversations.sync(ctx)
    except zd.ZendeskRateLimited as exc:
        block(ctx, "ingest", exc.retry_after)
        out["waiting"] = f"comment events not all read: {exc}"
        return True
    except zd.ZendeskError as exc:
        record_problem(ctx, "submit", str(exc))
        out["error"] = str(exc)
        return False
    out["events"] = {k: v for k, v in synced.items() if v}
    return True


def _send(ctx: Context, chunk: list[tuple[tuple[int, int, float], dict[str, Any]]], out: dict[str, Any],
          provided: dict[int, dict[str, Any]], bodies: list[bytes]) -> bool:
    """Create one batch for ``chunk``; False when the rest of this submit must wait (the account is refused,
    or the outcome is unknown). ``provided``: the Help Center articles and macros of each ticket's request,
    recorded with it so that poll knows which ``sources`` are real and write-back which links to add.
    ``bodies``: the requests already encoded (``batches.encode_request``), in the chunk's order."""
    now = ctx.now()
    local_id = uuid.uuid4().hex
    with ctx.db.atomic():
        store.insert_batch(ctx.db, now, local_id, model=ctx.config.anthropic.model, request_count=len(chunk),
                           reserved_usd=sum(key[2] for key, _ in chunk),
                           size=sum(anth.request_bytes(b) for b in bodies))
        queue.submit(ctx.db, now, local_id, [(ticket_id, request["custom_id"], chars, reserve)
                                             for (ticket_id, chars, reserve), request in chunk])
        for (ticket_id, _, _), request in chunk:
            parsed = prompt.parse_custom_id(request["custom_id"])
            if parsed is not None:  # nothing held also clears an earlier attempt's record
                held = provided.pop(ticket_id, {})
                help_center.remember(ctx.db, ticket_id, parsed[1], held.get("articles", []), held.get("macros", []))
    try:
        batch = anth.create_batch(ctx.anthropic, bodies)
    except anth.BatchError as exc:
        return _refused(ctx, local_id, chunk, exc, out)
    with ctx.db.atomic():
        store.open_batch(ctx.db, local_id, batch["id"], batch["expires_at"])
        store.log_event(ctx.db, now, "batch_created", batch=batch["id"], detail=f"{len(chunk)} requests")
    release_hold(ctx)
    out["batches"] += 1
    out["submitted"] += len(chunk)
    return True


def _refused(ctx: Context, local_id: str, chunk: list[tuple[tuple[int, int, float], dict[str, Any]]],
             exc: anth.BatchError, out: dict[str, Any]) -> bool:
    """What a refused create means for the tickets in it. Only a request the API names, or a batch refused
    as such, counts against tickets; the account's refusals and passing trouble never do."""
    now = ctx.now()
    if exc.outcome_unknown:
        # a timeout, a cut connection or a 5xx: the batch may exist (DESIGN §7). It stays "creating", its tickets
        # submitted in it; after anthropic.verify_after reconcile_creating adopts it from the workspace's list,
        # or puts its tickets back. Nothing creates them again before that.
        record_problem(ctx, "submit", f"batch create outcome unknown ({exc}); checked after anthropic.verify_after")
        out["error"] = str(exc)
        return False
    with ctx.db.atomic():
        if exc.kind == anth.REQUEST and (exc.request_index is not None or exc.custom_id):
            bad = _named(chunk, exc)
            queue.requeue_batch(ctx.db, now, local_id, f"another request of the batch was refused: {exc}")
            for ticket_id in bad:
                queue.kill(ctx.db, ticket_id, now, reason=f"request refused: {exc}")
                store.log_event(ctx.db, now, "dead", ticket_id=ticket_id, detail=f"request refused: {exc}")
            out["dead"] = out.get("dead", 0) + len(bad)
        elif exc.kind in (anth.ACCOUNT, anth.TRANSIENT):
            queue.requeue_batch(ctx.db, now, local_id, str(exc))
        else:
            # the API refused the batch itself: count an attempt per ticket so it cannot loop forever
            for (ticket_id, _, _), _r in chunk:
                count_failure(ctx, ticket_id, str(exc), retryable=True, batch=local_id)
        store.abandon_batch(ctx.db, local_id, str(exc))
        store.log_event(ctx.db, now, "batch_create_failed", batch=local_id, detail=str(exc))
    if exc.kind == anth.REQUEST:
        return True  # the others are sent again at the next run; the remaining chunks go now
    if exc.kind == anth.ACCOUNT:
        out["held"] = hold(ctx, str(exc), exc.retry_after, passing=exc.passing)
    record_problem(ctx, "submit", str(exc))
    out["error"] = str(exc)
    return False


def _named(chunk: list[tuple[tuple[int, int, float], dict[str, Any]]], exc: anth.BatchError) -> list[int]:
    """The ticket(s) of the request a 400 names, by index or by custom_id."""
    if exc.request_index is not None and 0 <= exc.request_index < len(chunk):
        return [chunk[exc.request_index][0][0]]
    return [key[0] for key, request in chunk if exc.custom_id and request["custom_id"] == exc.custom_id]


def _messages(ctx: Context, row: dict[str, Any], conversation: list[dict[str, Any]] | None = None,
              roles: dict[int, str] | None = None) -> list[prompt.Message]:
    """The ticket's public messages with their authors' labels (``conversation`` and ``roles``: read already for
    a page of the queue, ``store.conversations`` and ``users.roles_of``)."""
    talk = queue.conversation(ctx.db, row["id"]) if conversation is None else conversation
    comments = [c for c in talk if c["public"]]
    if not comments:
        return [prompt.Message("customer", row["description"] or "")]
    if roles is None:
        roles = users.roles_of(ctx.db, [c["author_id"] for c in comments])  # read by ingest (users/show_many)
    return [prompt.Message(prompt.author_label(c["author_id"], row["requester_id"], roles.get(c["author_id"])),
                           c["body"]) for c in comments]


def build_request(ctx: Context, row: dict[str, Any], provided: dict[int, dict[str, Any]] | None = None, *,
                  examples: str | None = None, conversation: list[dict[str, Any]] | None = None,
                  roles: dict[int, str] | None = None) -> dict[str, Any]:
    """The batch request for one stored ticket (custom_id + params); the articles and macros it holds go into
    ``provided[ticket id]`` when given. ``examples``, ``conversation`` and ``roles``: what the caller read already
    (the examples once a run, the comments and their authors' roles once a page of the queue)."""
    a = ctx.config.anthropic
    messages = _messages(ctx, row, conversation, roles)
    articles = grounding.articles_for(ctx, row["subject"] or "", messages)
    macros = grounding.macros_for(ctx, row["subject"] or "", messages)
    if provided is not None:  # kept until the batch is created: the reference, not the text
        provided[row["id"]] = {"articles": [{k: x[k] for k in ("id", "locale", "title", "html_url")} for x in articles],
                               "macros": [{"id": m["id"], "title": m["title"]} for m in macros]}
    # an answer cut at max_tokens is asked again with the room poll gave it (tickets.max_tokens)
    params = prompt.request_params(row["subject"] or "", messages, model=a.model,
                                   max_tokens=row.get("max_tokens") or a.max_tokens,
                                   triage=ctx.config.triage, redact_kinds=ctx.config.privacy.redact,
                                   articles=articles, macros=macros,
                                   examples=grounding.shared_examples(ctx) if examples is None else examples)
    return {"custom_id": prompt.custom_id(row["id"], row["triage_n"]), "params": params}


def queued_requests(ctx: Context, on_error: Callable[[dict[str, Any], Exception], None] | None = None, *,
                    ready_only: bool = False, provided: dict[int, dict[str, Any]] | None = None,
                    ) -> Iterator[tuple[dict[str, Any], dict[str, Any], int]]:
    """Each queued ticket (with ``ready_only``, each whose conversation is known) with its batch request and
    the characters of text it sends (streamed).

    A ticket whose request cannot be built is passed to ``on_error`` (submit: dead) and left out.
    """
    sql, params = "select * from tickets where state = 'queued'", []
    if ready_only:
        sql, params = f"{sql} and {queue.READY}", [conversations.events_complete(ctx)]
    examples: str | None = None
    schema_chars: int | None = None  # every request of a run holds the same schema (one triage config)
    rows = queue.iter_rows(ctx.db, sql, params)
    while page := list(islice(rows, PAGE)):
        # the page's comments and their authors' roles in two reads, not two a ticket (issue 22)
        talk = store.conversations(ctx.db, [r["id"] for r in page])
        roles = users.roles_of(ctx.db, [c["author_id"] for cs in talk.values() for c in cs if c["public"]])
        if examples is None:
            examples = grounding.shared_examples(ctx)
        for row in page:
            try:
                request = build_request(ctx, row, provided, examples=examples, conversation=talk.get(row["id"], []),
                                        roles=roles)
            except TICKET_ERRORS as exc:
                if on_error is None:
                    continue
                on_error(row, exc)
                continue
            params = request["params"]
            if schema_chars is None:
                schema_chars = len(json.dumps(params["output_config"]["format"]["schema"], separators=(",", ":")))
            # the output schema is billed as input too (the API turns it into hidden instructions)
            chars = (sum(len(b["text"]) for b in params["system"]) + len(params["messages"][0]["content"])
                     + schema_chars)
            yield row, request, chars


def reconcile_creating(ctx: Context) -> dict[str, int]:
    """Settle batches whose create call may or may not have reached Anthropic (crash in between)."""
    now = ctx.now()
    stuck = store.batches_in(ctx.db, "creating", created_before=now - ctx.config.anthropic.verify_after, now=now)
    out = {"adopted": 0, "requeued": 0}
    if not stuck:
        return out
    recent = anth.list_recent_batches(ctx.anthropic)
    taken = store.known_batch_ids(ctx.db)
    for row in stuck:
        created = parse_time(row["created_at"])
        match = next((b for b in recent if b["id"] not in taken
                      and created - 5 <= b["created_at"] <= created + 600
                      and sum(b["request_counts"].values()) == row["request_count"]), None)
        with ctx.db.atomic():
            if match:
                # results are matched by custom_id, so adopting a wrong batch would requeue, never misapply
                store.open_batch(ctx.db, row["local_id"], match["id"], match["expires_at"])
                taken.add(match["id"])
                store.log_event(ctx.db, now, "batch_adopted", batch=match["id"], detail="create recorded after a crash")
                out["adopted"] += 1
            else:
                out["requeued"] += queue.requeue_batch(ctx.db, now, row["local_id"], "batch create not confirmed")
                store.abandon_batch(ctx.db, row["local_id"], "create not confirmed")
    return out
