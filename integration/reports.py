"""Read-only views of the store for ``status``, ``estimate`` and ``report`` (database only)."""

from __future__ import annotations

import json
from statistics import median
from typing import Any

import sqlite_utils

from . import budget, prompt, quality, store
from .config import Config
from .store import tickets as queue
from .pricing import BATCH_DISCOUNT, cache_hit_rate
from .timeutil import iso, parse_time

BATCH_ALERT_HOURS = 20.0  # a batch expires 24 h after creation
RESULTS_ALERT_DAYS = 7  # results can be downloaded for 29 days; a week without is a problem
ERROR_RATE_WARNING = 0.005


def status(db: sqlite_utils.Database, config: Config, now: float) -> dict[str, Any]:
    """Tickets per state, open batches with age and time to expiry, spend today, error rate, problems."""
    counts = queue.counts(db)
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
        **flow(db, now),
    }


def flow(db: sqlite_utils.Database, now: float) -> dict[str, Any]:
    """What holds the queue back: how far the event export lags, how many queued tickets still wait for
    their conversation, and whether submitting is held because the account was refused."""
    complete = float(store.get_sync(db, "events_complete") or store.get_sync(db, "start_time") or now)
    waiting = queue.waiting(db, complete)
    hold = store.loads(store.get_sync(db, "hold:submit"), None)
    return {
        "event_lag_seconds": round(max(now - complete, 0)),
        "queued_not_ready": waiting["queued"] - waiting["ready"],
        "submit_held": {"since": iso(hold["since"]), "until": iso(hold["until"]), "reason": hold["reason"]}
        if hold else None,
    }


def calibration(db: sqlite_utils.Database) -> dict[str, float | None]:
    """Characters per input token and output tokens per answer, measured on the last 2,000 results."""
    row = next(db.query(
        "select count(*) as n, sum(input_chars) as chars, "
        "sum(coalesce(json_extract(usage, '$.input_tokens'), 0) + coalesce(json_extract(usage, '$.cache_read_input_tokens'), 0)"
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def report(db: sqlite_utils.Database, config: Config, *, since: str | None = None) -> dict[str, Any]:
    """The measures of impact: cost per ticket, submit-to-written time, error rate, counts per value."""
    where, params = "", []
    if since:
        where, params = " and changed_at >= ?", [since]
    rows = list(db.query(f"select * from tickets where state in ('written', 'dead', 'skipped', 'answered'){where}", params))
    written = [r for r in rows if r["state"] == "written"]
    dead = [r for r in rows if r["state"] == "dead"]
    cost = sum(r["cost_usd"] or 0 for r in rows)
    durations = [parse_time(r["written_at"]) - parse_time(r["submitted_at"])
                 for r in written if r["written_at"] and r["submitted_at"]]
    by: dict[str, dict[str, int]] = {"priority": {}, "category": {}, "sentiment": {}}
    for r in written:
        answer = json.loads(r["answer"] or "{}")
        for key in by:
            if key in answer:
                by[key][answer[key]] = by[key].get(answer[key], 0) + 1
    used = rejected = 0
    p = config.triage.tag_prefix
    for r in written:
        tags = set(json.loads(r["zd_tags"] or "[]"))
        used += f"{p}draft_used" in tags
        rejected += f"{p}draft_rejected" in tags
    done = len(written) + len(dead)
    data = {
        "tickets_written": len(written),
        "tickets_dead": len(dead),
        "cost_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / len(written), 6) if written else 0.0,
        "error_rate": round(len(dead) / done, 4) if done else 0.0,
        "submit_to_written_seconds": {
            "median": round(median(durations), 1) if durations else None,
            "p95": round(_percentile(durations, 0.95), 1) if durations else None,
        },
        "by_priority": by["priority"],
        "by_category": by["category"],
        "by_sentiment": by["sentiment"],
        "drafts_used": used,
        "drafts_rejected": rejected,
        "draft_acceptance_rate": round(used / (used + rejected), 4) if used + rejected else None,
        "cache_hit_rate": _round(cache_hit_rate(json.loads(r["usage"]) for r in rows if r["usage"])),
    }
    data.update(quality.report_keys(db, config, since=since))  # live agreement, draft adoption, evaluation
    return data


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
