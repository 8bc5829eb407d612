"""Read-only views of the store for ``status``, ``estimate`` and ``report`` (database only)."""

from __future__ import annotations

import json
from statistics import median
from typing import Any

import sqlite_utils

from . import prompt, store
from .config import Config
from .pipeline import spend_today
from .pricing import PRICES, price_for
from .timeutil import parse_time

BATCH_ALERT_HOURS = 20.0  # a batch expires 24 h after creation
ERROR_RATE_WARNING = 0.005


def status(db: sqlite_utils.Database, config: Config, now: float) -> dict[str, Any]:
    """Tickets per state, open batches with age and time to expiry, spend today, error rate, problems."""
    counts = store.counts(db)
    batches = []
    for row in db.query("select * from batches where state in ('open', 'creating') order by created_at"):
        created = parse_time(row["created_at"])
        expires = parse_time(row["expires_at"]) if row["expires_at"] else created + 86400
        batches.append({
            "batch_id": row["batch_id"], "state": row["state"], "requests": row["request_count"],
            "age_seconds": round(now - created), "expires_in_seconds": round(expires - now),
            "alert": (now - created) > BATCH_ALERT_HOURS * 3600,
        })
    spend = spend_today(db, now)
    problems = {}
    for row in db.query("select key, value from sync where key like 'problem:%'"):
        problems[row["key"].split(":", 1)[1]] = json.loads(row["value"])
    done = counts["written"] + counts["dead"]
    return {
        "tickets": counts,
        "batches_open": len(batches),
        "batches": batches,
        "spend_today_usd": round(spend["spent"], 6),
        "reserved_today_usd": round(spend["reserved"], 6),
        "budget_daily_usd": config.budget.daily_usd,
        "error_rate": round(counts["dead"] / done, 4) if done else 0.0,
        "problems": problems,
    }


def estimate(db: sqlite_utils.Database, config: Config, *, tickets: int | None = None,
             input_tokens: int | None = None, output_tokens: int | None = None) -> dict[str, Any]:
    """Cost of what is queued now (or of a hypothetical workload), per model, standard vs batch."""
    if tickets is None:
        row = next(db.query(
            "select count(*) as n, coalesce(sum(length(coalesce(description, '')) + length(coalesce(subject, ''))), 0) as chars "
            "from tickets where state in ('queued', 'failed')"))
        tickets = row["n"]
        system_tokens = prompt.estimate_tokens(len(prompt.system_prompt(config.triage)))
        per_ticket_in = min(prompt.estimate_tokens(row["chars"] / tickets) if tickets else 0,
                            config.triage.max_input_tokens) + system_tokens
        input_total = per_ticket_in * tickets
        output_total = config.anthropic.max_tokens * tickets  # worst case: every answer at max_tokens
    else:
        input_total = tickets * (input_tokens or 0)
        output_total = tickets * (output_tokens or 0)
    models = []
    for model in sorted(PRICES):
        price = price_for(model)
        standard = (input_total * price.input + output_total * price.output) / 1_000_000
        models.append({"model": model, "tickets": tickets, "input_tokens": input_total,
                       "output_tokens": output_total, "standard_usd": round(standard, 2),
                       "batch_usd": round(standard / 2, 2),
                       "configured": model == config.anthropic.model})
    return {"models": models}


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
    return {
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
    }
