"""How good the triage is: an evaluation's metrics, and what agents do with our answers after write-back.

Truth is what agents set (database and pure code; no network here):

* **priority**: Zendesk's native ``priority`` through ``evaluate.priority_map`` (default urgent, high,
  normal, low onto the configured priorities in order; with other than four, spread evenly);
* **category**: the field ``evaluate.category_field`` names (``"type"`` or a custom field id) through
  ``evaluate.category_map``; a value equal to a configured category (ignoring case, ``-``/``_``/space)
  maps to it unasked. Unset or unmapped values are no truth: counted and listed, never guessed.

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
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import sqlite_utils

from . import prompt
from .config import Config, TriageConfig
from .store import evaluations
from .store import tickets as queue
from .timeutil import iso, parse_time

if TYPE_CHECKING:
    from .pipeline import Context

NATIVE_PRIORITIES = ("urgent", "high", "normal", "low")
ADOPTED, EDITED = 0.80, 0.40  # difflib ratio over words: the draft sent (nearly) as is / used as a start
WORST = 10
DONE_STATUSES = ("solved", "closed")


class QualityError(ValueError):
    """A bad ``[evaluate]`` setting; ``str()`` is one line naming the key."""


@dataclass(frozen=True)
class Settings:
    """Where the truth comes from (``[evaluate]``): the category field and the two value maps."""

    category_field: str | int | None = None  # "type", a custom field id, or None (no category truth)
    category_map: Mapping[str, str] = field(default_factory=dict)  # Zendesk value → configured category
    priority_map: Mapping[str, str] = field(default_factory=dict)  # Zendesk priority → configured priority

    def as_dict(self) -> dict[str, Any]:
        return {"category_field": self.category_field, "category_map": dict(self.category_map),
                "priority_map": dict(self.priority_map)}


def default_priority_map(priorities: Sequence[str]) -> dict[str, str]:
    """urgent, high, normal, low onto ``priorities`` in order (evenly spread when there are not four)."""
    last = len(priorities) - 1
    return {native: priorities[round(i * last / 3)] for i, native in enumerate(NATIVE_PRIORITIES)}


def _norm(value: Any) -> str:
    return re.sub(r"[\s_-]+", "_", str(value).strip().lower())


def settings_from(config: Config) -> Settings:
    """The ``[evaluate]`` settings of ``config`` (defaults until the config carries them), validated."""
    section = getattr(config, "evaluate", None)
    field_ = getattr(section, "category_field", None)
    if isinstance(field_, str) and field_.strip().isdigit():
        field_ = int(field_)
    if field_ is not None and field_ != "type" and (not isinstance(field_, int) or isinstance(field_, bool)):
        raise QualityError(f"evaluate.category_field: expected \"type\" or a custom field id, got {field_!r}")
    triage = config.triage
    category_map = {str(k): str(v) for k, v in dict(getattr(section, "category_map", None) or {}).items()}
    priority_map = {str(k).lower(): str(v) for k, v in dict(getattr(section, "priority_map", None) or {}).items()}
    for key, table, allowed in (("category_map", category_map, triage.categories),
                                ("priority_map", priority_map, triage.priorities)):
        for zendesk_value, ours in table.items():
            if ours not in allowed:
                raise QualityError(f"evaluate.{key}: {zendesk_value!r} maps to {ours!r}, which is not one of "
                                   f"{', '.join(allowed)}")
    for native in priority_map:
        if native not in NATIVE_PRIORITIES:
            raise QualityError(f"evaluate.priority_map: {native!r} is not a Zendesk priority "
                               f"({', '.join(NATIVE_PRIORITIES)})")
    return Settings(field_, category_map, {**default_priority_map(triage.priorities), **priority_map})


def raw_category(ticket: Mapping[str, Any], settings: Settings) -> str | None:
    """The agent's category value as Zendesk holds it (the ticket type, or a custom field's value)."""
    if settings.category_field is None:
        return None
    if settings.category_field == "type":
        value = ticket.get("type")
    else:
        fields = ticket.get("custom_fields") or []
        items = fields.items() if isinstance(fields, Mapping) else ((f.get("id"), f.get("value")) for f in fields)
        value = next((v for k, v in items if str(k) == str(settings.category_field)), None)
    if isinstance(value, list):  # a multi-select field: one value is a truth, several are not
        value = value[0] if len(value) == 1 else None
    return None if value in (None, "") or isinstance(value, bool) else str(value)


def map_category(raw: str | None, settings: Settings, categories: Sequence[str]) -> str | None:
    """A Zendesk category value → a configured category through the map (or its own spelling), else None."""
    if raw is None:
        return None
    mapped = {_norm(k): v for k, v in settings.category_map.items()}.get(_norm(raw))
    return mapped or next((c for c in categories if _norm(c) == _norm(raw)), None)


def map_priority(raw: str | None, settings: Settings) -> str | None:
    """A Zendesk priority → a configured priority; None when the agent left it empty."""
    return settings.priority_map.get(str(raw).lower()) if raw else None


def truth(ticket: Mapping[str, Any], settings: Settings, triage: TriageConfig) -> dict[str, str | None]:
    """``{raw_priority, raw_category, truth_priority, truth_category}`` of a ticket as Zendesk shows it."""
    raw_p, raw_c = ticket.get("priority") or None, raw_category(ticket, settings)
    return {"raw_priority": raw_p, "raw_category": raw_c, "truth_priority": map_priority(raw_p, settings),
            "truth_category": map_category(raw_c, settings, triage.categories)}


# -- an evaluation's metrics (pure) ------------------------------------------------------


def field_metrics(items: Sequence[Mapping[str, Any]], name: str, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and confusion matrix (``matrix[agent][ai]``) of one field over the answered items."""
    answered = [i for i in items if i["result"] == "answered"]
    matrix = {t: {p: 0 for p in labels} for t in labels}
    unmapped: Counter[str] = Counter()
    no_truth = 0
    for item in answered:
        agent, ai = item[f"truth_{name}"], item[f"ai_{name}"]
        if agent is None:
            no_truth += 1
            if item[f"raw_{name}"] is not None:
                unmapped[item[f"raw_{name}"]] += 1
            continue
        matrix[agent][ai] += 1
    compared = sum(sum(row.values()) for row in matrix.values())
    correct = sum(matrix[label][label] for label in labels)
    return {"compared": compared, "correct": correct, "accuracy": round(correct / compared, 4) if compared else None,
            "no_truth": no_truth, "unmapped": dict(unmapped.most_common()), "labels": list(labels), "matrix": matrix}


def precision_recall(matrix: Mapping[str, Mapping[str, int]], label: str) -> dict[str, Any]:
    """Of the tickets the AI gave ``label``, the share agents gave it too (precision); of those agents gave
    ``label``, the share the AI found (recall). None when nothing was predicted / present."""
    hit = matrix[label][label]
    predicted = sum(row[label] for row in matrix.values())
    actual = sum(matrix[label].values())
    return {"value": label, "precision": round(hit / predicted, 4) if predicted else None,
            "recall": round(hit / actual, 4) if actual else None, "predicted": predicted, "actual": actual}


def worst(items: Sequence[Mapping[str, Any]], priorities: Sequence[str], subdomain: str,
          n: int = WORST) -> list[dict[str, Any]]:
    """The ``n`` worst disagreements: priority levels apart plus one for a wrong category, surest first."""
    scored = []
    for item in items:
        if item["result"] != "answered":
            continue
        gap = 0
        if item["truth_priority"] is not None:
            gap += abs(priorities.index(item["truth_priority"]) - priorities.index(item["ai_priority"]))
        if item["truth_category"] is not None and item["truth_category"] != item["ai_category"]:
            gap += 1
        if gap:
            scored.append((gap, item))
    scored.sort(key=lambda s: (-s[0], -(s[1]["confidence"] or 0), s[1]["ticket_id"]))
    return [{"ticket_id": item["ticket_id"], "url": ticket_url(subdomain, item["ticket_id"]), "severity": gap,
             "priority": {"agent": item["truth_priority"], "ai": item["ai_priority"]},
             "category": {"agent": item["truth_category"], "ai": item["ai_category"]},
             "confidence": item["confidence"]} for gap, item in scored[:n]]


def ticket_url(subdomain: str, ticket_id: int) -> str:
    """The agent's view of a ticket."""
    return f"https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"


def summary(evaluation: Mapping[str, Any], items: Sequence[Mapping[str, Any]], triage: TriageConfig) -> dict[str, Any]:
    """Everything ``evaluate`` and ``report`` show of one evaluation, from its stored rows."""
    results = Counter(i["result"] for i in items)
    answered = results.get("answered", 0)
    cost = sum(i["cost_usd"] or 0 for i in items)
    settings = json.loads(evaluation["settings"] or "{}")
    # the lists the evaluation ran with: the configured ones may have changed since
    priorities = tuple(settings.get("priorities") or triage.priorities)
    categories = tuple(settings.get("categories") or triage.categories)
    priority = field_metrics(items, "priority", priorities)
    priority["most_urgent"] = precision_recall(priority["matrix"], priorities[0])
    category = field_metrics(items, "category", categories) if settings.get("category_field") else None
    return {
        "id": evaluation["id"], "state": evaluation["state"], "since": evaluation["since"],
        "created_at": evaluation["created_at"], "finished_at": evaluation["finished_at"],
        "model": evaluation["model"], "prompt_hash": evaluation["prompt_hash"], "fingerprint": evaluation["fingerprint"],
        "category_field": settings.get("category_field"), "batch_id": evaluation.get("batch_id"),
        "tickets": len(items), "answered": answered,
        "no_answer": {k: v for k, v in sorted(results.items()) if k != "answered"},
        "estimate_usd": round(evaluation["estimate_usd"] or 0, 6), "cost_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / answered, 6) if answered else None,
        "priority": priority, "category": category,
        "worst": worst(items, priorities, evaluation["subdomain"]),
    }


def latest(db: sqlite_utils.Database, triage: TriageConfig) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The newest finished evaluation, and the newest one before it with another model or prompt (the
    column it is shown beside), as summaries."""
    finished = evaluations.done(db)
    if not finished:
        return None, None
    newest = finished[0]
    before = next((e for e in finished[1:] if e["fingerprint"] != newest["fingerprint"]), None)
    view = summary(newest, evaluations.items(db, newest["id"]), triage)
    return view, (summary(before, evaluations.items(db, before["id"]), triage) if before else None)


# -- text (the CLI, the demo and report print these) -------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _matrix_lines(metrics: Mapping[str, Any]) -> list[str]:
    labels = metrics["labels"]
    width = max(8, *(len(label) + 1 for label in labels))
    lines = ["  " + "agent ↓ / AI →".ljust(width + 8) + "".join(label.rjust(width) for label in labels)]
    for agent in labels:
        row = metrics["matrix"][agent]
        lines.append("  " + agent.ljust(width + 8) + "".join(str(row[ai]).rjust(width) for ai in labels))
    return lines


def render(view: Mapping[str, Any]) -> str:
    """One evaluation as text: per field accuracy and matrix, most urgent priority, cost, worst cases."""
    p = view["priority"]
    lines = [f"Evaluation #{view['id']}: {view['tickets']} solved/closed tickets since {view['since'][:10]}, "
             f"{view['model']}, prompt {view['prompt_hash']}",
             f"answered {view['answered']}" + "".join(f", {k} {v}" for k, v in view["no_answer"].items())
             + f"; cost ${view['cost_usd']:.4f}"
             + (f" (${view['cost_per_ticket_usd']:.5f} per ticket)" if view["cost_per_ticket_usd"] else ""),
             "",
             f"priority: accuracy {_pct(p['accuracy'])} on {p['compared']} tickets"
             + (f" ({p['no_truth']} without an agent's priority)" if p["no_truth"] else ""),
             *_matrix_lines(p)]
    urgent = p["most_urgent"]
    lines.append(f"  {urgent['value']} (most urgent): precision {_pct(urgent['precision'])}, "
                 f"recall {_pct(urgent['recall'])} ({urgent['actual']} set by agents, {urgent['predicted']} by the AI)")
    c = view["category"]
    if c is None:
        lines += ["", "category: not evaluated (set evaluate.category_field to \"type\" or a custom field id)"]
    else:
        lines += ["", f"category (from {view['category_field']}): accuracy {_pct(c['accuracy'])} on {c['compared']} "
                  "tickets" + (f" ({c['no_truth']} unset or unmapped)" if c["no_truth"] else ""), *_matrix_lines(c)]
        if c["unmapped"]:
            lines.append("  unmapped values (add them to evaluate.category_map): "
                         + ", ".join(f"{k} ({v})" for k, v in list(c["unmapped"].items())[:8]))
    if view["worst"]:
        lines += ["", f"worst {len(view['worst'])} disagreements (agent vs AI):"]
        for w in view["worst"]:
            parts = [f"{name} {w[name]['agent']} vs {w[name]['ai']}" for name in ("priority", "category")
                     if w[name]["agent"] is not None and w[name]["agent"] != w[name]["ai"]]
            lines.append(f"  #{w['ticket_id']:<8} {', '.join(parts):<50} confidence {w['confidence'] or 0:.2f}  {w['url']}")
    return "\n".join(lines)


def render_side_by_side(new: Mapping[str, Any], old: Mapping[str, Any]) -> str:
    """Two evaluations with different model or prompt, one column each (older left)."""
    def row(label: str, pick: Any) -> str:
        return f"{label:<26}{pick(old):>28}{pick(new):>28}"

    def urgent(v: Mapping[str, Any], key: str) -> str:
        return _pct(v["priority"]["most_urgent"][key])

    return "\n".join([
        row("", lambda v: f"#{v['id']}"),
        row("model", lambda v: v["model"]),
        row("prompt", lambda v: v["prompt_hash"]),
        row("tickets answered", lambda v: f"{v['answered']} of {v['tickets']}"),
        row("priority accuracy", lambda v: _pct(v["priority"]["accuracy"])),
        row("most urgent precision", lambda v: urgent(v, "precision")),
        row("most urgent recall", lambda v: urgent(v, "recall")),
        row("category accuracy", lambda v: _pct(v["category"]["accuracy"]) if v["category"] else "—"),
        row("cost per ticket", lambda v: f"${v['cost_per_ticket_usd']:.5f}" if v["cost_per_ticket_usd"] else "—"),
    ])


# -- live agreement and draft adoption ---------------------------------------------------


def similarity(draft: str, reply: str) -> float:
    """difflib's ratio over the words of both texts, lower-cased (0 unrelated … 1 the same)."""
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
                    ("category", raw_category(ticket, settings),
                     map_category(raw_category(ticket, settings), settings, triage.categories), triage.categories)):
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
    rows = queue.rows_by_id(ctx.db, sorted({c["ticket_id"] for c in public}))
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


def live_report(db: sqlite_utils.Database, since: str | None = None) -> dict[str, Any]:
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


def report_keys(db: sqlite_utils.Database, config: Config, since: str | None = None) -> dict[str, Any]:
    """The keys ``report`` adds: live agreement, draft adoption, and the latest evaluation (with the one
    before it under another model or prompt, when there is one)."""
    newest, before = latest(db, config.triage)
    return {**live_report(db, since), "evaluation": newest, "evaluation_before": before}


def report_lines(data: Mapping[str, Any]) -> list[str]:
    """``report``'s text for the keys of :func:`report_keys`."""
    lines = []
    for name, a in data["live_agreement"].items():
        if a["observed"]:
            lines.append(f"live {name} agreement: {_pct(a['agreement'])} ({a['agreed']} kept or confirmed, "
                         f"{a['changed']} changed by agents, {a['pending']} still open)")
    d = data["draft_adoption"]
    if d["measured"]:
        lines.append(f"drafts vs the agent's first reply ({d['measured']}): adopted {_pct(d['adopted'])}, "
                     f"edited {_pct(d['edited'])}, ignored {_pct(d['ignored'])}")
    if data["evaluation"]:
        lines += ["", render(data["evaluation"])]
        if data["evaluation_before"]:
            lines += ["", render_side_by_side(data["evaluation"], data["evaluation_before"])]
    return lines
