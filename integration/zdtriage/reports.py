"""Read-only views of the store for ``status``, ``estimate`` and ``report`` (database only)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import budget, store
from .config import Config
from .pricing import BATCH_DISCOUNT
from .store import ALL_STATES, State, pace, retention, totals
from .store import tickets as queue
from .timeutil import iso, parse_time

if TYPE_CHECKING:
    import sqlite_utils

    from .store import Reader

BATCH_ALERT_HOURS = 20.0  # a batch expires 24 h after creation
RESULTS_ALERT_DAYS = 7  # results can be downloaded for 29 days; a week without is a problem
ERROR_RATE_WARNING = 0.005


def status(db: Reader, config: Config, now: float) -> dict[str, Any]:
    """Tickets per state, open batches with age and time to expiry, spend today, error rate, problems."""
    counts = _counts(db)
    batches = []
    for row in db.query("select * from batches where state in ('open', 'creating') order by created_at"):
        created = parse_time(row["created_at"])
        expires = parse_time(row["expires_at"]) if row["expires_at"] else created + 86400
        batches.append({
            "batch_id": row["batch_id"], "state": row["state"], "requests": row["request_count"],
            "age_seconds": round(now - created), "expires_in_seconds": round(expires - now),
            "alert": (now - created) > BATCH_ALERT_HOURS * 3600,
        })
    spend = budget.spend(db, now)
    alerts = [f"batch {b['batch_id']} open for {b['age_seconds'] / 3600:.1f} h (it expires at 24 h)"
              for b in batches if b["alert"]]
    for row in db.query("select batch_id, ended_at from batches where state = 'open' and ended_at is not null "
                        "and ended_at <= ?", [iso(now - RESULTS_ALERT_DAYS * 86400)]):
        alerts.append(f"batch {row['batch_id']} ended {row['ended_at'][:10]} and its results are still not "
                      "downloaded (they vanish 29 days after creation)")
    problems = {stage: json.loads(value) for stage, value in store.sync_like(db, "problem:").items()}
    done = counts["written"] + counts["dead"]
    return {
        "tickets": counts,
        "batches_open": len(batches),
        "batches": batches,
        "spend_today_usd": round(spend.spent, 6),
        "reserved_today_usd": round(spend.reserved, 6),
        "spend_month_usd": round(spend.spent_month, 6),
        "budget_daily_usd": config.budget.daily_usd,
        "budget_monthly_usd": config.budget.monthly_usd,
        "alerts": alerts,
        "error_rate": round(counts["dead"] / done, 4) if done else 0.0,
        "problems": problems,
        "zendesk_limit": pace.account_limit(db, now),  # the account's shared API limit, last seen
        **flow(db, now),
    }


def flow(db: Reader, now: float) -> dict[str, Any]:
    """What holds the queue back: how far the event export lags, how many queued tickets still wait for
    their conversation, and whether submitting is held because the account was refused."""
    read = store.get_sync(db, "events_complete")
    complete = float(read or store.get_sync(db, "start_time") or now)
    waiting = queue.waiting(db, complete)
    hold = store.loads(store.get_sync(db, "hold:submit"), None)
    return {
        "event_lag_seconds": round(max(now - complete, 0)),
        "events_read": read is not None,  # false until the event export was first read (the lag is then the start's)
        "queued_not_ready": waiting["queued"] - waiting["ready"],
        "submit_held": {"since": iso(hold["since"]), "until": iso(hold["until"]), "reason": hold["reason"]}
        if hold else None,
    }


def _counts(db: Reader) -> dict[str, int]:
    """Tickets per state: done states from the running totals (a year of them would be counted one index
    entry at a time), the in-flight ones counted (they are few)."""
    if not totals.installed(db):
        return queue.counts(db)
    out = {state: 0 for state in ALL_STATES}
    out.update(totals.done_counts(db))
    for state in set(ALL_STATES) - set(DONE_STATES):
        out[state] = queue.count(db, State(state))
    return out


def calibration(db: sqlite_utils.Database) -> dict[str, float | None]:
    """Characters per input token and output tokens per answer, measured on the last 2,000 results."""
    row = next(db.query(
        "select count(*) as n, sum(input_chars) as chars, "
        "sum(coalesce(json_extract(usage, '$.input_tokens'), 0) "
        "+ coalesce(json_extract(usage, '$.cache_read_input_tokens'), 0)"
        " + coalesce(json_extract(usage, '$.cache_creation_input_tokens'), 0)) as tokens, "
        "avg(json_extract(usage, '$.output_tokens')) as output "
        "from (select input_chars, usage from tickets where usage is not null and input_chars > 0 "
        "order by answered_at desc limit 2000)"))
    if not row["n"] or not row["tokens"]:
        return {"chars_per_token": None, "output_tokens": None, "results": 0}
    return {"chars_per_token": row["chars"] / row["tokens"], "output_tokens": row["output"], "results": row["n"]}


def estimate(db: sqlite_utils.Database, config: Config, *, tickets: int | None = None,
             input_tokens: int | None = None, output_tokens: int | None = None,
             queued_chars: int | None = None, exact_input_tokens: int | None = None) -> dict[str, Any]:
    """Cost of what is queued now (or of a hypothetical workload), per model, standard vs batch.

    Queued work: input tokens from the characters of the requests as they would be sent, divided by
    the characters-per-token ratio measured on past results (``prompt.CHARS_PER_TOKEN`` without
    history), or exact when ``exact_input_tokens`` is given; output at worst ``max_tokens`` per ticket,
    and expected at the average observed so far.
    """
    from . import prompt

    cal = calibration(db)
    expected_output = None
    if tickets is None:
        tickets = next(db.query("select count(*) as n from tickets where state in ('queued', 'failed')"))["n"]
        ratio = cal["chars_per_token"] or prompt.CHARS_PER_TOKEN
        input_total = exact_input_tokens if exact_input_tokens is not None else int((queued_chars or 0) / ratio)
        output_total = config.anthropic.max_tokens * tickets
        if cal["output_tokens"]:
            expected_output = int(cal["output_tokens"] * tickets)
    else:
        input_total = tickets * (input_tokens or 0)
        output_total = tickets * (output_tokens or 0)
    table = config.price_table()
    models = []
    for model in sorted(table):
        price = table[model]
        standard = (input_total * price.input + output_total * price.output) / 1_000_000
        entry = {"model": model, "tickets": tickets, "input_tokens": input_total,
                 "output_tokens": output_total, "standard_usd": round(standard, 2),
                 "batch_usd": round(standard * BATCH_DISCOUNT, 2),
                 "batch_usd_per_ticket": round(standard * BATCH_DISCOUNT / tickets, 6) if tickets else 0.0,
                 "configured": model == config.anthropic.model}
        if expected_output is not None:
            entry["expected_output_tokens"] = expected_output
            entry["expected_batch_usd"] = round(
                (input_total * price.input + expected_output * price.output) * BATCH_DISCOUNT / 1_000_000, 2)
        models.append(entry)
    return {"models": models, "chars_per_token": cal["chars_per_token"] or prompt.CHARS_PER_TOKEN,
            "calibrated_on_results": cal["results"], "exact": exact_input_tokens is not None}


DONE_STATES = totals.DONE_STATES  # what ``report`` counts (cost from all four)
_DURATION = "(julianday(written_at) - julianday(submitted_at))"  # submit-to-written, in days


def _window(since: str | None) -> tuple[str, list[Any]]:
    return (" and changed_at >= ?", [since]) if since else ("", [])


def _ranks(n: int) -> tuple[list[int], int]:
    """The ranks the figures are read at: the median averages the two middle values, p95 is the nearest
    rank round(0.95 (n-1)) (the definitions of the report before it moved to SQL)."""
    return ([(n - 1) // 2] if n % 2 else [n // 2 - 1, n // 2]), min(n - 1, max(0, round(0.95 * (n - 1))))


def _quantiles(middle: list[float], p95: float | None) -> dict[str, float | None]:
    if not middle or p95 is None:
        return {"median": None, "p95": None}
    return {"median": round(sum(middle) / len(middle), 1), "p95": round(p95, 1)}


def _durations_in(db: Reader, since: str | None) -> dict[str, float | None]:
    """Median and p95 of submit-to-written seconds in a window, read one value at a time: the window is a
    range of (state, changed_at) that SQLite sorts with its own bounded sorter, never a list in Python."""
    where, params = _window(since)
    base = f"from tickets where state = 'written' and {_DURATION} is not null{where}"
    n = db.execute(f"select count(*) {base}", params).fetchone()[0]
    if not n:
        return _quantiles([], None)

    def at(rank: int) -> float:
        return float(db.execute(f"select {_DURATION} * 86400.0 {base} order by {_DURATION} limit 1 offset ?",
                                [*params, rank]).fetchone()[0])

    middle, p95 = _ranks(n)
    return _quantiles([at(k) for k in middle], at(p95))


def _from_rows(db: Reader, config: Config, since: str | None) -> dict[str, Any]:
    """The figures aggregated in SQL over the rows changed since ``since`` (idx_tickets_state_changed)."""
    where, params = _window(since)
    marks = ", ".join("?" for _ in DONE_STATES)
    states = {r[0]: (r[1], r[2]) for r in db.execute(
        f"select state, count(*), coalesce(sum(cost_usd), 0) from tickets where state in ({marks}){where} "
        "group by state", [*DONE_STATES, *params])}
    p = config.triage.tag_prefix
    values: list[tuple[Any, Any, Any, int]] = []
    used = rejected = 0
    # one pass over the written tickets: answer values and the agents' draft tags (exact tag match, instr first
    # so that only tickets carrying such a tag are parsed); unreadable JSON counts as absent, as in the totals
    tag = (f"(instr(t.zd_tags, ?) > 0 and exists (select 1 from json_each({totals.json_list('t', 'zd_tags')}) "
           "where value = ?))")
    answer = ", ".join(totals.json_value("t", "answer", f"$.{k}") for k in ("priority", "category", "sentiment"))
    for r in db.execute(f"select {answer}, count(*), sum({tag}), sum({tag}) from tickets t "
                        f"where state = 'written'{where} group by 1, 2, 3",
                        [f'"{p}draft_used"', f"{p}draft_used", f'"{p}draft_rejected"', f"{p}draft_rejected", *params]):
        values.append((r[0], r[1], r[2], r[3]))
        used += r[4] or 0
        rejected += r[5] or 0
    read = f"coalesce({totals.json_value('t', 'usage', '$.cache_read_input_tokens')}, 0)"
    other = (f"coalesce({totals.json_value('t', 'usage', '$.input_tokens')}, 0) + "
             f"coalesce({totals.json_value('t', 'usage', '$.cache_creation_input_tokens')}, 0)")
    tokens = db.execute(f"select coalesce(sum({read}), 0), coalesce(sum({other}), 0) from tickets t "
                        f"where state in ({marks}) and usage is not null{where}", [*DONE_STATES, *params]).fetchone()
    return _figures(states, values, (used, rejected), (int(tokens[0]), int(tokens[1])), _durations_in(db, since))


def _from_totals(db: Reader, config: Config) -> dict[str, Any]:
    """The figures over the whole history, from the running totals the triggers keep (store/totals.py)."""
    data = totals.read(db)
    states: dict[str, tuple[int, float]] = {}
    values = []
    read = other = 0
    for state, priority, category, sentiment, n, cost, cache_read, input_other in data["totals"]:
        count, spent = states.get(state, (0, 0.0))
        states[state] = (count + n, spent + cost)
        if state == "written":
            values.append((priority or None, category or None, sentiment or None, n))
        read, other = read + cache_read, other + input_other
    p = config.triage.tag_prefix
    drafts = (data["tags"].get(f"{p}draft_used", 0), data["tags"].get(f"{p}draft_rejected", 0))
    return _figures(states, values, drafts, (read, other), _durations_of(db))


def _durations_of(db: Reader) -> dict[str, float | None]:
    """Median and p95 from the histogram of tenths of a second, streamed in order (never a list in memory)."""
    n = db.execute("select coalesce(sum(tickets), 0) from report_durations where tickets > 0").fetchone()[0]
    if not n:
        return _quantiles([], None)
    middle_ranks, p95_rank = _ranks(n)
    wanted: dict[int, float | None] = {k: None for k in (*middle_ranks, p95_rank)}
    seen = 0
    for tenths, count in totals.durations(db):  # ascending: the k-th ticket falls in the bucket holding rank k
        for k in wanted:
            if wanted[k] is None and k < seen + count:
                wanted[k] = tenths / 10
        seen += count
        if seen > p95_rank:
            break
    return _quantiles([v for k in middle_ranks if (v := wanted[k]) is not None], wanted[p95_rank])


def _figures(states: dict[str, tuple[int, float]], values: list[tuple[Any, Any, Any, int]], drafts: tuple[int, int],
             tokens: tuple[int, int], durations: dict[str, float | None]) -> dict[str, Any]:
    written, dead = states.get("written", (0, 0.0))[0], states.get("dead", (0, 0.0))[0]
    cost = sum(c for _, c in states.values())
    by: dict[str, dict[str, int]] = {"priority": {}, "category": {}, "sentiment": {}}
    for *keys, n in values:
        for key, value in zip(by, keys, strict=True):
            if value is not None:
                by[key][value] = by[key].get(value, 0) + n
    used, rejected = drafts
    read, other = tokens
    done = written + dead
    return {
        "tickets_written": written,
        "tickets_dead": dead,
        "cost_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / written, 6) if written else 0.0,
        "error_rate": round(dead / done, 4) if done else 0.0,
        "submit_to_written_seconds": durations,
        "by_priority": by["priority"],
        "by_category": by["category"],
        "by_sentiment": by["sentiment"],
        "drafts_used": used,
        "drafts_rejected": rejected,
        "draft_acceptance_rate": round(used / (used + rejected), 4) if used + rejected else None,
        "cache_hit_rate": _round(read / (read + other) if read + other else None),
    }


def _window_bounds(db: Reader, since: str | None) -> dict[str, str | None]:
    """Which changes the report covers: ``from`` (``since``, else the oldest counted change), ``to`` (the
    newest), and ``pruned_before`` (done tickets last changed before it were deleted by retention)."""
    where, params = _window(since)
    ends: dict[str, list[str]] = {"min": [], "max": []}
    for state in DONE_STATES:
        for end in ends:  # one aggregate per query, one state at a time: each is one index lookup
            value = db.execute(
                f"select {end}(changed_at) from tickets where state = ?{where}", [state, *params]
            ).fetchone()[0]
            ends[end] += [value] if value else []
    return {"from": since or min(ends["min"], default=None), "to": max(ends["max"], default=None),
            "pruned_before": store.get_sync(db, retention.PRUNED_BEFORE)}


def report(db: Reader, config: Config, *, since: str | None = None) -> dict[str, Any]:
    """The measures of impact: cost per ticket, submit-to-written time, error rate, counts per value.

    Memory stays flat whatever the number of tickets. The whole history comes from running totals
    (store/totals.py); ``since`` (changed since, ISO) aggregates that window's rows in SQL.
    """
    from . import observe  # its prompt and quality: report only, not status (issue 22)

    figures = _from_totals(db, config) if since is None and totals.installed(db) else _from_rows(db, config, since)
    # live agreement, draft adoption and the latest evaluations (quality.py)
    return {**figures, "window": _window_bounds(db, since), "answered_not_written": _unwritten(db),
            **observe.report_keys(db, config, since=since)}


def _unwritten(db: Reader) -> dict[str, Any]:
    """Answers waiting for write-back, or kept by ``writeback.mode = "off"`` (a pilot reads them here)."""
    out: dict[str, Any] = {"tickets": 0, "by_priority": {}, "by_category": {}, "by_sentiment": {}}
    answer = ", ".join(totals.json_value("t", "answer", f"$.{k}") for k in ("priority", "category", "sentiment"))
    for priority, category, sentiment, n in db.execute(
            f"select {answer}, count(*) from tickets t where state = 'answered' group by 1, 2, 3"):
        out["tickets"] += n
        for key, value in (("by_priority", priority), ("by_category", category), ("by_sentiment", sentiment)):
            if value is not None:
                out[key][value] = out[key].get(value, 0) + n
    return out


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
