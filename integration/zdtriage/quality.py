"""How good the triage is, offline: the truth agents set and an evaluation's metrics.

Truth is what agents set (database and pure code; no network here):

* **priority**: Zendesk's native ``priority`` through ``evaluate.priority_map`` (default urgent, high,
  normal, low onto the configured priorities in order; with other than four, spread evenly);
* **category**: the field ``evaluate.category_field`` names (``"type"`` or a custom field id) through
  ``evaluate.category_map``; a value equal to a configured category (ignoring case, ``-``/``_``/space)
  maps to it unasked. Unset or unmapped values are no truth: counted and listed, never guessed.

What agents do with our answers after write-back is :mod:`zdtriage.observe`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any

from .config import Config, TriageConfig
from .frozen import Record
from .store import evaluations

if TYPE_CHECKING:
    from .store import Reader

NATIVE_PRIORITIES = ("urgent", "high", "normal", "low")
WORST = 10
DONE_STATUSES = ("solved", "closed")


class QualityError(ValueError):
    """A bad ``[evaluate]`` setting; ``str()`` is one line naming the key."""


class Settings(Record):
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
        "model": evaluation["model"], "prompt_hash": evaluation["prompt_hash"],
        "fingerprint": evaluation["fingerprint"],
        "category_field": settings.get("category_field"), "batch_id": evaluation.get("batch_id"),
        "tickets": len(items), "answered": answered,
        "no_answer": {k: v for k, v in sorted(results.items()) if k != "answered"},
        "estimate_usd": round(evaluation["estimate_usd"] or 0, 6), "cost_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / answered, 6) if answered else None,
        "priority": priority, "category": category,
        "worst": worst(items, priorities, evaluation["subdomain"]),
    }


def latest(db: Reader, triage: TriageConfig) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
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


def pct(value: float | None) -> str:
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
             f"priority: accuracy {pct(p['accuracy'])} on {p['compared']} tickets"
             + (f" ({p['no_truth']} without an agent's priority)" if p["no_truth"] else ""),
             *_matrix_lines(p)]
    urgent = p["most_urgent"]
    lines.append(f"  {urgent['value']} (most urgent): precision {pct(urgent['precision'])}, "
                 f"recall {pct(urgent['recall'])} ({urgent['actual']} set by agents, {urgent['predicted']} by the AI)")
    c = view["category"]
    if c is None:
        lines += ["", "category: not evaluated (set evaluate.category_field to \"type\" or a custom field id)"]
    else:
        lines += ["", f"category (from {view['category_field']}): accuracy {pct(c['accuracy'])} on {c['compared']} "
                  "tickets" + (f" ({c['no_truth']} unset or unmapped)" if c["no_truth"] else ""), *_matrix_lines(c)]
        if c["unmapped"]:
            lines.append("  unmapped values (add them to evaluate.category_map): "
                         + ", ".join(f"{k} ({v})" for k, v in list(c["unmapped"].items())[:8]))
    if view["worst"]:
        lines += ["", f"worst {len(view['worst'])} disagreements (agent vs AI):"]
        for w in view["worst"]:
            parts = [f"{name} {w[name]['agent']} vs {w[name]['ai']}" for name in ("priority", "category")
                     if w[name]["agent"] is not None and w[name]["agent"] != w[name]["ai"]]
            lines.append(
                f"  #{w['ticket_id']:<8} {', '.join(parts):<50} confidence {w['confidence'] or 0:.2f}  {w['url']}"
            )
    return "\n".join(lines)


def render_side_by_side(new: Mapping[str, Any], old: Mapping[str, Any]) -> str:
    """Two evaluations with different model or prompt, one column each (older left)."""
    def row(label: str, pick: Any) -> str:
        return f"{label:<26}{pick(old):>28}{pick(new):>28}"

    def urgent(v: Mapping[str, Any], key: str) -> str:
        return pct(v["priority"]["most_urgent"][key])

    return "\n".join([
        row("", lambda v: f"#{v['id']}"),
        row("model", lambda v: v["model"]),
        row("prompt", lambda v: v["prompt_hash"]),
        row("tickets answered", lambda v: f"{v['answered']} of {v['tickets']}"),
        row("priority accuracy", lambda v: pct(v["priority"]["accuracy"])),
        row("most urgent precision", lambda v: urgent(v, "precision")),
        row("most urgent recall", lambda v: urgent(v, "recall")),
        row("category accuracy", lambda v: pct(v["category"]["accuracy"]) if v["category"] else "—"),
        row("cost per ticket", lambda v: f"${v['cost_per_ticket_usd']:.5f}" if v["cost_per_ticket_usd"] else "—"),
    ])
