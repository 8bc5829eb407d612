"""Agents' corrections of our priority and category, read back as labelled examples (issue 21, item 4).
Database only: no network here.

``live_observations`` (quality.py) records, per written triage, whether agents kept our value or changed it
(``theirs``: their value mapped onto the configured lists, when known). A ticket where an agent changed at
least one of the two becomes an example with the agents' values (ours where they kept it).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

SCAN = 2000  # the newest corrected triages looked at; plenty to fill 100 examples across the categories


def corrections(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` examples ``{ticket_id, subject, description, priority, category}``, newest first and
    spread over the agents' categories (the newest of each category, then the next of each, …). Tickets whose
    text was dropped (``privacy.drop_text_after_write``) or pruned cannot be examples."""
    if limit <= 0:
        return []
    rows = db.query(
        "select o.ticket_id, o.triage_n, o.field, o.ours, o.theirs, o.outcome, t.subject, t.description, "
        "max(o.observed_at) over (partition by o.ticket_id, o.triage_n) as seen "
        "from live_observations o join tickets t on t.id = o.ticket_id "
        "where o.field in ('priority', 'category') and (o.ticket_id, o.triage_n) in ("
        "  select ticket_id, triage_n from live_observations where field in ('priority', 'category') "
        "  and outcome = 'changed' and theirs is not null order by observed_at desc limit ?) "
        "and t.description is not null order by seen desc, o.ticket_id", [SCAN])
    examples: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        one = examples.setdefault((r["ticket_id"], r["triage_n"]), {
            "ticket_id": r["ticket_id"], "subject": r["subject"] or "", "description": r["description"] or ""})
        one[r["field"]] = r["theirs"] if r["outcome"] == "changed" and r["theirs"] else r["ours"]
    complete = [e for e in examples.values() if e.get("priority") and e.get("category")]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for e in complete:
        by_category.setdefault(e["category"], []).append(e)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < limit and any(by_category.values()):
        for bucket in by_category.values():
            if bucket and len(chosen) < limit:
                chosen.append(bucket.pop(0))
    return chosen
