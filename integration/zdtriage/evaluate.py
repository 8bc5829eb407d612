"""``zdtriage evaluate``: triage solved tickets read-only and compare the answers with what agents set.

1. Solved and closed tickets changed since DATE come from the cursor export, and each one's comments
   from the comments endpoint; tickets carrying a skip tag are left out (they opted out of AI).
2. Each request is built by the code submit uses (``prompt.request_params``, the answer schema), from
   the conversation as triage would have seen it when the ticket arrived: the first message and the
   requester's follow-ups before anyone else replied publicly (the solution must not leak into it).
3. The estimate (worst case: every input token uncached, answers at ``max_tokens``) is checked against
   the budget and shown; nothing is sent unless the caller confirms.
4. The evaluation, its items (ticket, the agent's values) and its batch row, with the worst case
   reserved, are stored *before* the create call, the batch id right after it. An interrupted run is
   resumed by the next ``evaluate``; a create whose answer was lost is found in the batch list.
5. The batch is polled until it ends; results are applied by ``custom_id`` and the metrics computed
   (``quality``).

Nothing is written to Zendesk: only ``zendesk.fetch_*`` functions are called here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import answer as answers
from . import batches as anth
from . import budget, grounding, prompt, quality, reports, store
from . import zendesk as zd
from .pricing import usage_cost, worst_case_cost
from .store import evaluations
from .timeutil import iso, parse_time

if TYPE_CHECKING:
    from .context import Context

MAX_TICKETS = 5000  # one batch; 5,000 answers put a share within about ±1.4 points (95 %)
DEFAULT_LIMIT = 500
RESULT_CHUNK = 500
TICKET_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)  # as ingest's
Progress = Callable[[str], None]


class EvaluateError(Exception):
    """The evaluation cannot go on; ``str()`` is one line. ``usage``: the command line was at fault."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class Candidate:
    ticket_id: int
    item: dict[str, Any]  # zd_status and the agent's values, raw and mapped (quality.truth)
    params: dict[str, Any]
    chars: int


@dataclass
class Plan:
    """What an evaluation would send, and its price."""

    since: float
    limit: int
    candidates: list[Candidate]
    left_out: dict[str, int] = field(default_factory=dict)  # opted out by a skip tag
    input_tokens: int = 0
    worst_usd: float = 0.0
    expected_usd: float | None = None
    budget_left_usd: float = float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {"since": iso(self.since), "tickets": len(self.candidates), "left_out": self.left_out,
                "input_tokens": self.input_tokens, "worst_case_usd": round(self.worst_usd, 4),
                "expected_usd": None if self.expected_usd is None else round(self.expected_usd, 4),
                "budget_left_usd": None if self.budget_left_usd == float("inf") else round(self.budget_left_usd, 4)}


def fingerprint(ctx: Context) -> tuple[str, str]:
    """``(prompt_hash, fingerprint)``: the prompt as sent (instructions, knowledge, schema, limits), and
    that with the model. Two evaluations with different fingerprints are shown side by side."""
    cfg = ctx.config
    # with the agents' examples and the Help Center settings: evaluations with and without them are side by side
    text = json.dumps({"system": prompt.system_prompt(cfg.triage, grounding.shared_examples(ctx)),
                       "articles": [cfg.triage.articles, cfg.triage.article_tokens] if cfg.triage.articles else None,
                       "schema": answers.answer_schema(cfg.triage),
                       "max_tokens": cfg.anthropic.max_tokens, "max_input_tokens": cfg.triage.max_input_tokens,
                       "redact": list(cfg.privacy.redact)}, sort_keys=True)
    prompt_hash = hashlib.sha256(text.encode()).hexdigest()[:12]
    return prompt_hash, hashlib.sha256(f"{cfg.anthropic.model}\n{prompt_hash}".encode()).hexdigest()[:12]


def messages_at_arrival(ticket: Mapping[str, Any], comments: list[dict[str, Any]]) -> list[prompt.Message]:
    """The conversation as triage would have read it when the ticket came in: the first public message
    and the requester's follow-ups, up to the first public reply by anyone else."""
    public = [c for c in comments if c["public"]]
    if not public:
        return [prompt.Message("customer", ticket.get("description") or "")]
    requester = ticket.get("requester_id")
    out = [prompt.Message("customer" if public[0]["author_id"] == requester else "agent", public[0]["body"])]
    for c in public[1:]:
        if c["author_id"] != requester:
            break
        out.append(prompt.Message("customer", c["body"]))
    return out


def _zendesk(call: Callable[[], Any], progress: Progress, sleep: Callable[[float], None]) -> Any:
    """A Zendesk read; a 429 waits for its Retry-After (a blocking command, like backfill); another error
    ends the evaluation, except a ticket that is gone (:class:`zendesk.ZendeskNotFound`, for the caller)."""
    while True:
        try:
            return call()
        except zd.ZendeskRateLimited as exc:
            progress(f"rate limited by Zendesk: waiting {exc.retry_after:.0f} s")
            sleep(exc.retry_after)
        except zd.ZendeskNotFound:
            raise
        except zd.ZendeskError as exc:
            raise EvaluateError(str(exc)) from None


def gather(ctx: Context, settings: quality.Settings, since: float, limit: int, *, progress: Progress,
           sleep: Callable[[float], None]) -> tuple[list[Candidate], dict[str, int]]:
    """Up to ``limit`` solved or closed tickets changed since ``since``, each with its request built."""
    cfg = ctx.config
    found: dict[int, dict[str, Any]] = {}
    opted_out: set[int] = set()
    cursor, pages = None, 0
    while len(found) < limit:
        page = _zendesk(functools.partial(zd.fetch_ticket_page, ctx.zendesk, cursor=cursor,
                                          start_time=None if cursor else int(since)), progress, sleep)
        pages += 1
        for t in page["tickets"]:
            if t["status"] not in quality.DONE_STATUSES:
                found.pop(t["id"], None)  # reopened since: the agent's values are not final
                continue
            if set(t["tags"]) & set(cfg.triage.skip_tags):
                opted_out.add(t["id"])
                found.pop(t["id"], None)
                continue
            opted_out.discard(t["id"])
            if len(found) < limit or t["id"] in found:
                found[t["id"]] = t  # a ticket exported twice: its latest version counts
        progress(f"export page {pages}: {len(found)} solved or closed ticket(s)")
        cursor = page["after_cursor"]
        if page["end_of_stream"] or not cursor:
            break
    candidates, gone, unbuildable = [], 0, 0
    examples = grounding.shared_examples(ctx)
    for n, ticket in enumerate(found.values(), 1):
        try:
            comments = _zendesk(functools.partial(zd.fetch_comments, ctx.zendesk, ticket["id"]), progress, sleep)
        except zd.ZendeskNotFound:
            gone += 1  # deleted since the export listed it
            continue
        try:
            messages = messages_at_arrival(ticket, comments)
            params = prompt.request_params(ticket["subject"] or "", messages,
                                           model=cfg.anthropic.model, max_tokens=cfg.anthropic.max_tokens,
                                           triage=cfg.triage, redact_kinds=cfg.privacy.redact, examples=examples,
                                           articles=grounding.articles_for(ctx, ticket["subject"] or "", messages))
        except TICKET_ERRORS:
            unbuildable += 1  # one ticket's odd data (submit kills such a ticket; here it is left out)
            continue
        # counted as submit counts them: instructions, conversation and the schema (billed as input too)
        chars = (sum(len(b["text"]) for b in params["system"]) + len(params["messages"][0]["content"])
                 + len(json.dumps(params["output_config"]["format"]["schema"], separators=(",", ":"))))
        item = {"ticket_id": ticket["id"], "zd_status": ticket["status"], **quality.truth(ticket, settings, cfg.triage)}
        candidates.append(Candidate(ticket["id"], item, params, chars))
        if n % 50 == 0 or n == len(found):
            progress(f"conversations read: {n} of {len(found)}")
    return candidates, {"opted_out": len(opted_out), "deleted": gone, "unreadable": unbuildable}


def plan(ctx: Context, settings: quality.Settings, since: float, limit: int, *, progress: Progress,
         sleep: Callable[[float], None]) -> Plan:
    """Read the tickets and price the evaluation (nothing is stored or sent)."""
    candidates, left_out = gather(ctx, settings, since, limit, progress=progress, sleep=sleep)
    cfg, table = ctx.config, ctx.config.price_table()
    cal = reports.calibration(ctx.db)
    ratio = cal["chars_per_token"] or prompt.CHARS_PER_TOKEN
    tokens = [int(c.chars / ratio) + 1 for c in candidates]
    worst = sum(worst_case_cost(cfg.anthropic.model, n, cfg.anthropic.max_tokens, table=table) for n in tokens)
    expected = None
    if cal["output_tokens"]:
        expected = sum(worst_case_cost(cfg.anthropic.model, n, int(cal["output_tokens"]), table=table) for n in tokens)
    return Plan(since, limit, candidates, left_out, sum(tokens), worst, expected,
                budget.left(ctx.db, cfg.budget, ctx.now()))


def describe(p: Plan, model: str) -> str:
    """The estimate shown before asking."""
    left = "" if p.budget_left_usd == float("inf") else f"; the budget allows ${p.budget_left_usd:.2f} now"
    expected = f", about ${p.expected_usd:.2f} at the answer length seen so far" if p.expected_usd is not None else ""
    notes = [f"{p.left_out['opted_out']} opted out by a skip tag" if p.left_out.get("opted_out") else "",
             f"{p.left_out['deleted']} deleted meanwhile" if p.left_out.get("deleted") else "",
             f"{p.left_out['unreadable']} unreadable" if p.left_out.get("unreadable") else ""]
    opted = f" ({', '.join(n for n in notes if n)}: left out)" if any(notes) else ""
    return (f"{len(p.candidates)} solved or closed ticket(s) since {iso(p.since)[:10]}{opted}, one Message Batch "
            f"on {model}: ~{p.input_tokens:,} input tokens, at most ${p.worst_usd:.2f}{expected}{left}. "
            "Nothing is written to Zendesk.")


def check_budget(p: Plan) -> None:
    """Refuse an evaluation whose worst case does not fit under the caps now, saying how many would."""
    if p.worst_usd <= p.budget_left_usd:
        return
    fit = int(max(p.budget_left_usd, 0) / (p.worst_usd / len(p.candidates)))
    raise EvaluateError(f"the evaluation's worst case ${p.worst_usd:.2f} is more than the budget allows now "
                        f"(${max(p.budget_left_usd, 0):.2f}): use --limit {fit} or less, or raise budget.daily_usd"
                        if fit else f"the budget allows ${max(p.budget_left_usd, 0):.2f} now: not even one "
                        "ticket fits; wait for tomorrow or raise budget.daily_usd / budget.monthly_usd")


def _no_retries(client: Any) -> Any:
    # a create the SDK retries after a timeout may land twice, and bill twice (DESIGN §7); a lost answer
    # is settled by the batch list instead (see resume)
    return client.with_options(max_retries=0) if hasattr(client, "with_options") else client


def start(ctx: Context, settings: quality.Settings, p: Plan) -> int:
    """Store the evaluation and its reservation, then create its batch. Returns the evaluation id."""
    now = ctx.now()
    prompt_hash, print_ = fingerprint(ctx)
    local_id = uuid.uuid4().hex
    eid = evaluations.create(
        ctx.db, now, local_id=local_id, since=iso(p.since), max_tickets=p.limit, model=ctx.config.anthropic.model,
        prompt_hash=prompt_hash, fingerprint=print_, subdomain=ctx.config.zendesk.subdomain,
        settings={**settings.as_dict(), "priorities": list(ctx.config.triage.priorities),
                  "categories": list(ctx.config.triage.categories)},
        items=[c.item for c in p.candidates], reserved_usd=p.worst_usd,
        size=sum(anth.request_bytes({"custom_id": "ev", "params": c.params}) for c in p.candidates))
    requests = [{"custom_id": evaluations.item_custom_id(eid, c.ticket_id), "params": c.params} for c in p.candidates]
    try:
        batch = anth.create_batch(_no_retries(ctx.anthropic), requests)
    except anth.BatchError as exc:
        if exc.status is None and exc.retryable:  # no answer: it may have landed; the next run looks it up
            raise EvaluateError(f"{exc}; run `zdtriage evaluate` again to look the batch up") from None
        evaluations.abandon(ctx.db, ctx.now(), eid, str(exc))
        raise EvaluateError(f"the batch was refused: {exc}") from None
    evaluations.started(ctx.db, eid, batch["id"], batch["expires_at"])
    return eid


def _adopt(ctx: Context, row: dict[str, Any], *, progress: Progress, sleep: Callable[[float], None]) -> bool:
    """A create whose answer was lost: find its batch in the workspace's list (created around the row's
    time, same request count, not ours already), else give the evaluation up."""
    created = parse_time(row["batch_created_at"])
    wait = created + ctx.config.anthropic.verify_after - ctx.now()
    if wait > 0:  # a batch this young may not be listed yet
        progress(f"evaluation #{row['id']}: looking its batch up in {wait:.0f} s")
        sleep(wait)
    try:
        recent = anth.list_recent_batches(ctx.anthropic)
    except anth.BatchError as exc:
        raise EvaluateError(f"cannot list batches to find evaluation #{row['id']}'s: {exc}") from None
    taken = store.known_batch_ids(ctx.db)
    match = next((b for b in recent if b["id"] not in taken and created - 5 <= b["created_at"] <= created + 600
                  and sum(b["request_counts"].values()) == row["tickets"]), None)
    if match is None:
        evaluations.abandon(ctx.db, ctx.now(), row["id"], "batch create not confirmed")
        progress(f"evaluation #{row['id']}: its batch was never created; given up")
        return False
    evaluations.started(ctx.db, row["id"], match["id"], match["expires_at"])
    return True


def wait(ctx: Context, evaluation_id: int, *, progress: Progress, sleep: Callable[[float], None],
         poll_every: float = 30.0) -> None:
    """Poll the evaluation's batch until it ends, then read its results (blocking)."""
    row = evaluations.get(ctx.db, evaluation_id)
    while True:
        try:
            batch = anth.retrieve_batch(ctx.anthropic, row["batch_id"])
        except anth.BatchError as exc:
            if exc.status == 404:
                evaluations.abandon(ctx.db, ctx.now(), evaluation_id, "batch no longer exists")
                raise EvaluateError(
                    f"evaluation #{evaluation_id}: its batch {row['batch_id']} no longer exists"
                ) from None
            if not exc.retryable:
                raise EvaluateError(str(exc)) from None
            progress(f"batch {row['batch_id']}: {exc}; trying again")
            sleep(poll_every)
            continue
        if batch["processing_status"] == "ended":
            break
        age = ctx.now() - batch["created_at"]
        progress(f"batch {row['batch_id']}: {batch['processing_status']} for {age / 60:.0f} min, "
                 f"{batch['request_counts']['processing']} request(s) processing, "
                 f"expires in {(batch['expires_at'] - ctx.now()) / 3600:.1f} h")
        sleep(poll_every)
    collect(ctx, evaluation_id)
    progress(f"batch {row['batch_id']}: ended, results read")


def collect(ctx: Context, evaluation_id: int) -> dict[str, int]:
    """Apply the ended batch's results to the items (by ``custom_id``), then finish the evaluation."""
    row = evaluations.get(ctx.db, evaluation_id)
    table = ctx.config.price_table()
    counts: dict[str, int] = {}
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        with ctx.db.atomic():
            for result in pending:
                kind = _apply(ctx, result, table)
                counts[kind] = counts.get(kind, 0) + 1
        pending.clear()

    try:
        for result in anth.iter_results(ctx.anthropic, row["batch_id"]):
            pending.append(result)
            if len(pending) >= RESULT_CHUNK:
                flush()
    except anth.BatchError as exc:
        if exc.status in (404, 410):  # results are kept 29 days
            evaluations.abandon(ctx.db, ctx.now(), evaluation_id, "results no longer downloadable")
        raise EvaluateError(f"evaluation #{evaluation_id}: cannot read the results: {exc}") from None
    flush()
    evaluations.finish(ctx.db, ctx.now(), evaluation_id)
    return counts


def _apply(ctx: Context, result: dict[str, Any], table: Mapping[str, Any]) -> str:
    model = ctx.config.anthropic.model
    try:
        cost = usage_cost(result.get("model") or model, result.get("usage"), table=table)
    except KeyError:  # a dated snapshot we have no price for: the configured model's price
        cost = usage_cost(model, result.get("usage"), table=table)
    custom_id = str(result.get("custom_id") or "")
    match result["type"]:
        case "succeeded":
            valid, reason = answers.validate_answer(result["text"] or "", ctx.config.triage,
                                                    stop_reason=result.get("stop_reason"))
            if valid is None:
                ok = evaluations.record_result(ctx.db, custom_id, result="invalid", error=reason, cost_usd=cost)
                return "invalid" if ok else "stale"
            ok = evaluations.record_result(ctx.db, custom_id, result="answered", ai_priority=valid["priority"],
                                           ai_category=valid["category"], confidence=valid["confidence"],
                                           cost_usd=cost)
            return "answered" if ok else "stale"
        case "errored":
            ok = evaluations.record_result(ctx.db, custom_id, result="errored",
                                           error=f"{result['error_type']}: {result['error_message']}")
            return "errored" if ok else "stale"
        case kind:
            ok = evaluations.record_result(ctx.db, custom_id, result=str(kind) if kind in ("expired", "canceled")
                                           else "unreadable")
            return str(kind) if ok else "stale"


def run(ctx: Context, settings: quality.Settings, *, since: float | None, limit: int = DEFAULT_LIMIT,
        confirm: Callable[[Plan], bool], progress: Progress = lambda _: None,
        sleep: Callable[[float], None] = time.sleep, poll_every: float = 30.0) -> dict[str, Any] | None:
    """The whole command: resume an unfinished evaluation, or read, price, confirm, send and wait.

    Returns ``{"evaluation", "evaluation_before"}`` (summaries; the second is the newest earlier one with
    another model or prompt, or None), or None when ``confirm`` declined (nothing stored or sent).
    """
    pending = evaluations.unfinished(ctx.db)
    if pending is not None:
        progress(f"resuming evaluation #{pending['id']} (since {pending['since'][:10]}); "
                 "run `zdtriage evaluate` again afterwards for a new one" if since is not None else
                 f"resuming evaluation #{pending['id']} (since {pending['since'][:10]})")
        if pending["state"] == "running" or _adopt(ctx, pending, progress=progress, sleep=sleep):
            wait(ctx, pending["id"], progress=progress, sleep=sleep, poll_every=poll_every)
            return _views(ctx)
        if since is None:
            raise EvaluateError(f"evaluation #{pending['id']} was given up: run `zdtriage evaluate --since DATE`")
    if since is None:
        raise EvaluateError("--since is required: there is no unfinished evaluation to resume", usage=True)
    if not 1 <= limit <= MAX_TICKETS:
        raise EvaluateError(f"--limit must be between 1 and {MAX_TICKETS}", usage=True)
    p = plan(ctx, settings, since, limit, progress=progress, sleep=sleep)
    if not p.candidates:
        raise EvaluateError(f"no solved or closed ticket changed since {iso(since)[:10]} (check --since)")
    check_budget(p)
    if not confirm(p):
        return None
    eid = start(ctx, settings, p)
    progress(f"evaluation #{eid}: batch {evaluations.get(ctx.db, eid)['batch_id']} created")
    wait(ctx, eid, progress=progress, sleep=sleep, poll_every=poll_every)
    return _views(ctx)


def _views(ctx: Context) -> dict[str, Any]:
    newest, before = quality.latest(ctx.db, ctx.config.triage)
    return {"evaluation": newest, "evaluation_before": before}
