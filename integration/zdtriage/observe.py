"""What agents do with our answers after write-back, observed live (ingest and conversations record it,
``report`` reads it). The truth maps are :mod:`zdtriage.quality`'s, the same an evaluation uses.

Live agreement (:func:`observe_tickets`, from ingest): a written ticket whose AI value tag is gone
(the agent removed it, or changed the "AI priority"/"AI category" drop-down, whose option values are our
tags) is *changed*; a native value the agent changes after our write is *agreed* or *changed* by the same
maps; a ticket solved or closed with neither is *agreed* (the agent kept our value). Draft adoption
(:func:`observe_replies`, from conversations): the agent's first public reply after our note against our
draft, by difflib's ratio over words: **adopted** ≥ 0.80, **edited** ≥ 0.40, else **ignored**.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .config import Config, TriageConfig
from .quality import (
    DONE_STATUSES,
    QualityError,
    latest,
    map_category,
    map_priority,
    pct,
    raw_category,
    render,
    render_side_by_side,
    settings_from,
)
from .store import evaluations
from .store import tickets as queue
from .timeutil import iso, parse_time

if TYPE_CHECKING:
    from .context import Context
    from .store import Reader

ADOPTED, EDITED = 0.80, 0.40  # difflib ratio over words: the draft sent (nearly) as is / used as a start


def similarity(draft: str, reply: str) -> float:
    """difflib's ratio over the words of both texts, lower-cased (0 unrelated … 1 the same)."""
    from difflib import SequenceMatcher  # conversations only: `report` imports this module too

    a, b = re.findall(r"\w+", draft.lower()), re.findall(r"\w+", reply.lower())
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def adoption(ratio: float) -> str:
    """adopted / edited / ignored for a :func:`similarity` (thresholds :data:`ADOPTED`, :data:`EDITED`)."""
    return "adopted" if ratio >= ADOPTED else "edited" if ratio >= EDITED else "ignored"


def _verdict(name: str, ours: str, ticket: Mapping[str, Any], baseline: str | None, native_now: str | None,
             mapped_now: str | None, before: Mapping[str, Any] | None, values: Sequence[str],
             triage: TriageConfig) -> tuple[str, str | None, str]:
    """``(outcome, theirs, source)`` of one field at one sighting of a written ticket."""
    from . import prompt  # here, not at the top: `report` reads observations and needs none of it (issue 22)

    tags = set(ticket.get("tags") or [])
    if prompt.tag_for(triage.tag_prefix, name, ours) not in tags:
        present = [v for v in values if prompt.tag_for(triage.tag_prefix, name, v) in tags]
        return "changed", present[0] if len(present) == 1 else None, "ai_field"
    if native_now != baseline and mapped_now is not None:
        return ("agreed" if mapped_now == ours else "changed"), mapped_now, "native"
    if before is not None and before["outcome"] != "pending":
        return before["outcome"], before["theirs"], before["source"]
    if ticket.get("status") in DONE_STATUSES:
        return "agreed", ours, "kept"
    return "pending", None, "kept"


def observe_tickets(ctx: Context, rows: Mapping[int, Mapping[str, Any]], tickets: Iterable[Mapping[str, Any]]) -> None:
    """Record what agents did to our answers on written tickets of one export page (call inside its
    transaction). ``rows``: the stored rows by id, as they were before the page. A ticket whose data we
    cannot read is left out: an observation never fails the page."""
    from . import prompt

    triage, marker = ctx.config.triage, prompt.marker_tag(ctx.config.triage)
    ours = [(rows[t["id"]], t) for t in tickets if t.get("id") in rows and rows[t["id"]].get("state") == "written"
            and rows[t["id"]].get("answer") and marker in (t.get("tags") or ())]
    if not ours:
        return
    try:
        settings = settings_from(ctx.config)
    except QualityError:
        return  # the config check names it; the page is stored regardless
    known = evaluations.observations_of(ctx.db, [row["id"] for row, _ in ours])
    now = iso(ctx.now())
    out: list[dict[str, Any]] = []
    for row, ticket in ours:
        try:
            answer = json.loads(row["answer"])
            wrote = prompt.native_priority(answer, triage)
            for name, native, mapped, values in (
                ("priority", ticket.get("priority"), map_priority(ticket.get("priority"), settings), triage.priorities),
                (
                    "category",
                    raw_category(ticket, settings),
                    map_category(raw_category(ticket, settings), settings, triage.categories),
                    triage.categories,
                ),
            ):
                before = known.get((row["id"], row["triage_n"], name))
                # what the field held after our write: what we wrote, else what we first saw
                baseline = before["baseline"] if before else (wrote if name == "priority" and wrote else native)
                outcome, theirs, source = _verdict(name, answer[name], ticket, baseline, native, mapped, before,
                                                   values, triage)
                if before and (outcome, theirs, source) == (before["outcome"], before["theirs"], before["source"]):
                    continue
                out.append({"ticket_id": row["id"], "triage_n": row["triage_n"], "field": name, "ours": answer[name],
                            "baseline": baseline, "theirs": theirs, "outcome": outcome, "source": source,
                            "written_at": row["written_at"], "observed_at": now})
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    evaluations.save_observations(ctx.db, out)


def observe_replies(ctx: Context, comments: Sequence[Mapping[str, Any]]) -> None:
    """The first public reply by someone other than the requester after our note, against our draft
    (call inside the page's transaction). Not measured when the draft was dropped (``privacy``)."""
    public = [c for c in comments if c.get("public")]
    if not public:
        return
    # the few columns this reads (a ticket's description is kilobytes, read for nothing: issue 22)
    rows = queue.rows_by_id(ctx.db, sorted({c["ticket_id"] for c in public}),
                            columns=("id", "state", "answer", "requester_id", "triage_n", "written_at"))
    known = evaluations.observations_of(ctx.db, list(rows))
    for c in public:
        row = rows.get(c["ticket_id"])
        try:
            if (not row or row["state"] != "written" or not row["answer"] or c["author_id"] == row["requester_id"]
                    or (row["id"], row["triage_n"], "draft") in known):
                continue
            at = c["created_at"] if isinstance(c["created_at"], (int, float)) else parse_time(str(c["created_at"]))
            draft = json.loads(row["answer"]).get("draft")
            if not draft or at <= parse_time(row["written_at"]):
                continue
            ratio = similarity(draft, c["body"] or "")
            obs = {"ticket_id": row["id"], "triage_n": row["triage_n"], "field": "draft", "outcome": adoption(ratio),
                   "source": "reply", "similarity": round(ratio, 4), "written_at": row["written_at"],
                   "observed_at": iso(ctx.now())}
            evaluations.save_observation(ctx.db, obs)
            known[(row["id"], row["triage_n"], "draft")] = obs
        except (ValueError, TypeError, KeyError, AttributeError):
            continue


def live_report(db: Reader, since: str | None = None) -> dict[str, Any]:
    """``live_agreement`` per field and ``draft_adoption`` shares over triages written since ``since``."""
    rows = evaluations.observations_since(db, since)
    agreement = {}
    for name in ("priority", "category"):
        mine = [r for r in rows if r["field"] == name]
        counts = Counter(r["outcome"] for r in mine)
        decided = counts["agreed"] + counts["changed"]
        agreement[name] = {"observed": len(mine), "agreed": counts["agreed"], "changed": counts["changed"],
                           "pending": counts["pending"],
                           "changed_by": dict(Counter(r["source"] for r in mine if r["outcome"] == "changed")),
                           "agreement": round(counts["agreed"] / decided, 4) if decided else None}
    drafts = Counter(r["outcome"] for r in rows if r["field"] == "draft")
    total = sum(drafts.values())
    adoption_ = {"measured": total, "thresholds": {"adopted": ADOPTED, "edited": EDITED},
                 **{k: round(drafts[k] / total, 4) if total else None for k in ("adopted", "edited", "ignored")}}
    return {"live_agreement": agreement, "draft_adoption": adoption_}


def report_keys(db: Reader, config: Config, since: str | None = None) -> dict[str, Any]:
    """The keys ``report`` adds: live agreement, draft adoption, and the latest evaluation (with the one
    before it under another model or prompt, when there is one)."""
    newest, before = latest(db, config.triage)
    return {**live_report(db, since), "evaluation": newest, "evaluation_before": before}


def report_lines(data: Mapping[str, Any]) -> list[str]:
    """``report``'s text for the keys of :func:`report_keys`."""
    lines = []
    for name, a in data["live_agreement"].items():
        if a["observed"]:
            lines.append(f"live {name} agreement: {pct(a['agreement'])} ({a['agreed']} kept or confirmed, "
                         f"{a['changed']} changed by agents, {a['pending']} still open)")
    d = data["draft_adoption"]
    if d["measured"]:
        lines.append(f"drafts vs the agent's first reply ({d['measured']}): adopted {pct(d['adopted'])}, "
                     f"edited {pct(d['edited'])}, ignored {pct(d['ignored'])}")
    if data["evaluation"]:
        lines += ["", render(data["evaluation"])]
        if data["evaluation_before"]:
            lines += ["", render_side_by_side(data["evaluation"], data["evaluation_before"])]
    return lines
