"""Poll: the open batches' states (one ``list`` call); stream the results of ended ones into the store.

Each result is applied with a guarded transition (``submitted`` in *this* batch, this triage), so replaying
a result stream after a crash changes nothing that was already applied. Results are matched by
``custom_id``, never by position. One result that cannot be applied fails its ticket only; one batch that
cannot be read is recorded on that batch and the others are still polled.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import answer as answers
from .. import batches as anth
from .. import prompt, store
from ..pricing import usage_cost
from ..store import State
from ..store import articles as help_center
from ..store import tickets as queue
from ..timeutil import parse_time
from .common import TICKET_ERRORS, count_failure, hold, record_problem, tally

if TYPE_CHECKING:
    from ..context import Context

ALERT_OPEN_HOURS = 20.0  # batches expire 24 h after creation: someone should know before the requests do
RESULT_CHUNK = 500  # results applied per transaction
NEW_BATCH_GRACE = 600.0  # a batch this young may not be listed by the API yet
MAX_OUTPUT_TOKENS = 64_000  # the most config.anthropic.max_tokens allows, and Haiku 4.5's output limit
# an ended batch's results answering 404 are asked again for this long before the batch is given up: a
# download was recorded answering 404 just after the end, then 200 seventy seconds later (DESIGN §7)
RESULTS_PATIENCE = 6 * 3600.0
RESULTS_KEPT = 29 * 86400.0  # results are downloadable for 29 days after creation (DESIGN §7)
# a per-request error that refuses the account, not the ticket: the model is not available (at create it is a
# 404 not_found_error "model: …", error-404-not-found-model.json; in a batch the same error comes per request)
ACCOUNT_RESULT_ERRORS = ("not_found_error",)
LIST_MAX = 1000  # the most one batches.list page holds (SDK docstring: limit 1 to 1000)
LIST_MARGIN = 5  # other batches of the workspace (another app, a retried create) newer than ours
# what apply_result reads of a ticket: not its text, which was most of a chunk's read (issue 22)
POLL_COLUMNS = ("id", "state", "batch", "triage_n", "invalid_answers", "max_tokens")
# a valid answer stored with its chunk (store.tickets.answer_many): ticket id, answer, usage, cost
Answered = tuple[int, dict[str, Any], dict[str, Any] | None, float]


def poll(ctx: Context) -> dict[str, Any]:
    """Check open batches; collect the ended ones. A batch that cannot be read is recorded on that batch
    (and shown by ``status``); the others are still polled."""
    out: dict[str, Any] = {"stage": "poll", "open": 0, "collected": 0, "results": {}}
    problems = []
    rows = store.batches_in(ctx.db, "open")
    listed = _listed(ctx, rows)
    for row in rows:
        try:
            _poll_one(ctx, row, out, listed.get(row["batch_id"]))
        except anth.BatchError as exc:
            problems.append(f"batch {row['batch_id']}: {exc}")
            store.note_batch_error(ctx.db, row["local_id"], str(exc))
        except TICKET_ERRORS as exc:  # an answer we did not expect: keep it on that batch, poll the others
            problems.append(f"batch {row['batch_id']}: unexpected {type(exc).__name__}")
            store.note_batch_error(ctx.db, row["local_id"], f"unexpected {type(exc).__name__}: {str(exc)[:200]}")
    if problems:
        out["error"] = "; ".join(problems)[:500]
    record_problem(ctx, "poll", out.get("error"))
    return out


def _listed(ctx: Context, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The open batches' states from one ``list`` call (newest first, a page just larger than what is open),
    instead of one ``retrieve`` per batch; a batch not on that page is retrieved on its own."""
    if not rows:
        return {}
    try:
        page = anth.list_recent_batches(ctx.anthropic, limit=min(LIST_MAX, len(rows) + LIST_MARGIN),
                                        only={row["batch_id"] for row in rows})
    except anth.BatchError:
        return {}  # each batch is retrieved on its own, and its error recorded on it
    return {b["id"]: b for b in page}


def _poll_one(ctx: Context, row: dict[str, Any], out: dict[str, Any], listed: dict[str, Any] | None = None) -> None:
    now = ctx.now()
    try:
        batch = listed or anth.retrieve_batch(ctx.anthropic, row["batch_id"])
    except anth.BatchError as exc:
        if exc.status == 404 and parse_time(row["created_at"]) > now - NEW_BATCH_GRACE:
            out["open"] += 1  # just created: the API may not show it yet
            return
        if exc.status == 404:
            _abandon(ctx, row["local_id"], "batch no longer exists", "not found", out)
            return
        raise
    if batch["processing_status"] != "ended":
        out["open"] += 1
        if now - batch["created_at"] > ALERT_OPEN_HOURS * 3600:
            out.setdefault("alerts", []).append(f"batch {row['batch_id']} open for "
                                                f"{(now - batch['created_at']) / 3600:.1f} h")
        return
    store.end_batch(ctx.db, row["local_id"], batch["ended_at"] or now, batch["request_counts"])
    try:
        results = collect(ctx, row["local_id"], row["batch_id"], batch.get("results_url"))
    except anth.BatchError as exc:
        if exc.status in (404, 410):
            ended = batch["ended_at"] or now
            if now < min(ended + RESULTS_PATIENCE, batch["created_at"] + RESULTS_KEPT):
                # not downloadable yet just after the end: the batch stays open and is asked again next run
                store.note_batch_error(ctx.db, row["local_id"], f"results not available yet ({exc})")
                out["open"] += 1
                out["results_late"] = out.get("results_late", 0) + 1
                return
            # results are kept 29 days; past that (or after a long wait) the tickets must be asked again
            _abandon(ctx, row["local_id"], "results no longer downloadable", "results gone", out)
            return
        raise
    store.log_event(ctx.db, now, "batch_collected", batch=row["batch_id"], detail=json.dumps(results))
    out["collected"] += 1
    if results.get("account"):
        out["held"] = f"{results['account']} request(s) refused for the account; submitting held"
    for outcome, n in results.items():
        tally(out["results"], outcome, n)


def _abandon(ctx: Context, local_id: str, reason: str, error: str, out: dict[str, Any]) -> None:
    with ctx.db.atomic():
        out["requeued"] = out.get("requeued", 0) + queue.requeue_batch(ctx.db, ctx.now(), local_id, reason)
        store.abandon_batch(ctx.db, local_id, error)


def collect(ctx: Context, local_id: str, batch_id: str, results_url: str | None = None) -> dict[str, int]:
    """Stream an ended batch's results into the store, then requeue anything the results did not cover.
    ``results_url``: the batch's, as the list or retrieve showed it (saves a retrieve, ``batches.iter_results``)."""
    results: dict[str, int] = {}
    pending: list[dict[str, Any]] = []
    refusal = ""  # the first result that refused the account, not its ticket

    def flush() -> None:
        nonlocal refusal
        try:
            outcomes = _apply_chunk(ctx, local_id, pending)
        # rolled back whole (a bad result, or a chunk's answers not all stored): again one result at a time,
        # the bad one fails alone
        except (*TICKET_ERRORS, queue.IllegalTransition):
            with ctx.db.atomic():
                outcomes = [_apply_isolated(ctx, local_id, item) for item in pending]
        for item, outcome in zip(pending, outcomes, strict=True):
            tally(results, outcome)
            if outcome == "account" and not refusal:
                refusal = f"{item['error_type']}: {item['error_message']}"
        pending.clear()

    # the URL only when known: stand-ins for iter_results (tests, bench/year.py) take two arguments
    stream = anth.iter_results(ctx.anthropic, batch_id, results_url) if results_url else \
        anth.iter_results(ctx.anthropic, batch_id)
    for result in stream:
        pending.append(result)
        if len(pending) >= RESULT_CHUNK:
            flush()
    flush()
    with ctx.db.atomic():
        if refusal:  # left submitted by apply_result: back to the queue with no attempt counted
            queue.requeue_batch(ctx.db, ctx.now(), local_id, f"refused for the account: {refusal}")
            hold(ctx, f"Anthropic refused {results['account']} request(s) of batch {batch_id} for the account: "
                      f"{refusal}")
        missing = queue.requeue_batch(ctx.db, ctx.now(), local_id, "no result in the batch")
        store.collect_batch(ctx.db, ctx.now(), local_id)
    if missing:
        results["missing"] = missing
    return results


def _apply_chunk(ctx: Context, local_id: str, items: list[dict[str, Any]]) -> list[str]:
    """Apply a chunk of results in one transaction, their rows read in one query, the valid answers stored in
    one statement and the batch's cost added once (issue 22: a savepoint, a one-row read, an UPDATE and a cost
    UPDATE per result were most of poll's SQLite). A result that cannot be applied raises, and the whole
    chunk is rolled back for :func:`_apply_isolated`."""
    keys = [key for key in (prompt.parse_custom_id(str(item.get("custom_id") or "")) for item in items) if key]
    ids = [ticket_id for ticket_id, _ in keys]
    costs: list[float] = []
    # a ticket with two results in the chunk: each result must see what the one before did, so its answers
    # are stored one at a time, as :func:`_apply_isolated` does
    answered: list[Answered] | None = [] if len(set(ids)) == len(ids) else None
    with ctx.db.atomic():
        rows = queue.rows_by_id(ctx.db, ids, POLL_COLUMNS)
        held = help_center.held(ctx.db, keys)  # what each request offered, read at once like the rows
        outcomes = [apply_result(ctx, local_id, item, rows=rows, costs=costs, held=held, answered=answered)
                    for item in items]
        if answered:
            queue.answer_many(ctx.db, ctx.now(), answered)
        if costs:
            store.add_batch_cost(ctx.db, local_id, sum(costs))
    return outcomes


def _apply_isolated(ctx: Context, local_id: str, result: dict[str, Any]) -> str:
    """:func:`apply_result` in a savepoint: a result that cannot be applied fails that ticket only."""
    try:
        with ctx.db.atomic():
            return apply_result(ctx, local_id, result)
    except TICKET_ERRORS as exc:
        parsed = prompt.parse_custom_id(str(result.get("custom_id") or ""))
        if parsed is None:
            return "unknown"
        with ctx.db.atomic():
            row = queue.get(ctx.db, parsed[0])
            if row is None or row["state"] != State.SUBMITTED or row["batch"] != local_id:
                return "stale"
            count_failure(ctx, parsed[0], f"result could not be applied: {type(exc).__name__}", retryable=False,
                          batch=local_id)
        return "dead"


def apply_result(ctx: Context, local_id: str, result: dict[str, Any], *, rows: dict[int, dict[str, Any]] | None = None,
                 costs: list[float] | None = None,
                 held: dict[tuple[int, int], tuple[list[int], list[int]]] | None = None,
                 answered: list[Answered] | None = None) -> str:
    """Apply one result line to its ticket (database only); returns what happened. ``rows``: tickets read
    beforehand (each used once: a second result for the same ticket reads it afresh); ``costs``: the cost is
    appended there for the caller to add to the batch, instead of added at once; ``held``: the article and
    macro ids the requests offered, read beforehand (``store.articles.held``); ``answered``: a valid answer
    is appended there for the caller to store (``store.tickets.answer_many``) in the same transaction,
    instead of stored at once (only for a ticket that has no other result in the caller's list)."""
    now = ctx.now()
    parsed = prompt.parse_custom_id(result["custom_id"])
    if not parsed:
        return "unknown"
    ticket_id, triage_n = parsed
    row = rows.pop(ticket_id, None) if rows is not None else None
    if row is None:
        row = queue.get(ctx.db, ticket_id)
    if not row or row["state"] != State.SUBMITTED or row["batch"] != local_id or row["triage_n"] != triage_n:
        return "stale"  # already applied (replay after a crash) or not from this batch
    cost = _cost(ctx, result)
    if costs is not None:
        costs.append(cost)
    else:
        store.add_batch_cost(ctx.db, local_id, cost)
    match result["type"]:
        case "succeeded":
            offered = (held if held is not None else help_center.held(ctx.db, [parsed])).get(parsed, ([], []))
            answer, reason = answers.validate_answer(result["text"] or "", ctx.config.triage,
                                                     stop_reason=result.get("stop_reason"),
                                                     provided=offered[0], macros=offered[1])
            if answer is not None:
                if answered is not None:
                    answered.append((ticket_id, answer, result["usage"], cost))
                else:
                    queue.answer(ctx.db, ticket_id, now, answer=answer, usage=result["usage"], cost_usd=cost)
                return "answered"
            if result.get("stop_reason") == "refusal":
                # asking again gets the same refusal and costs again: the ticket is for a person
                return count_failure(ctx, ticket_id, f"invalid answer: {reason}", retryable=False, batch=local_id,
                                     cost=cost)
            # an invalid answer is asked once more, then the ticket is dead (never a tag outside the lists)
            if (row["invalid_answers"] or 0) + 1 >= 2:
                return count_failure(ctx, ticket_id, f"invalid answer: {reason}", retryable=False, batch=local_id,
                                     cost=cost)
            room = None
            if result.get("stop_reason") == "max_tokens":
                room = min(2 * (row["max_tokens"] or ctx.config.anthropic.max_tokens), MAX_OUTPUT_TOKENS)
            queue.reask(ctx.db, ticket_id, now, reason=f"invalid answer: {reason}", cost_usd=cost, max_tokens=room)
            return "invalid"
        case "errored" if result["error_type"] in ACCOUNT_RESULT_ERRORS:
            # the account is refused (the model is gone), not this ticket: it stays submitted, collect puts it
            # back in the queue uncounted and poll holds submitting, as the same error at create does
            return "account"
        case "errored":
            retryable = result["error_type"] != "invalid_request_error"
            return count_failure(ctx, ticket_id, f"{result['error_type']}: {result['error_message']}",
                                 retryable=retryable, batch=local_id)
        case "expired" | "canceled" as kind:
            return count_failure(ctx, ticket_id, f"request {kind}", retryable=True, batch=local_id)
        case "malformed":
            # the line could not be read: nothing says what the answer was, so the ticket is asked again
            return count_failure(ctx, ticket_id, f"unreadable result: {result.get('error_message') or ''}"[:300],
                                 retryable=True, batch=local_id)
    return "unknown"


def _cost(ctx: Context, result: dict[str, Any]) -> float:
    table = ctx.config.price_table()
    model = result.get("model") or ctx.config.anthropic.model
    try:
        return usage_cost(model, result.get("usage"), table=table)
    except KeyError:  # a dated snapshot we have no price for: bill it at the configured model's price
        return usage_cost(ctx.config.anthropic.model, result.get("usage"), table=table)
