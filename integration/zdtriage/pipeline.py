"""One stage run with its heartbeat (:func:`run_stage`) and one pass of all four stages
(:func:`run_once`); what every stage needs is :class:`zdtriage.context.Context`.

The stages themselves live in ``integration/zdtriage/stages/``: ingest → submit → poll → writeback.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

from . import health
from .context import Context as Context  # pipeline.Context: where callers have always found it
from .stages import ingest, poll, submit, writeback


def settle_heap() -> None:
    """Once the service is set up (config, clients, stages imported), take what is alive out of the cyclic
    garbage collector's sight (``gc.freeze``), after one last collection.

    The imports leave about 180,000 objects (pydantic, the SDKs, zenpy) that live as long as the process. Every
    full collection walked all of them again, about 0.13 s each: about 10 % of the CPU of a 20,000-ticket backlog
    (``bench/README.md``, issue 22). Frozen objects are never collected, so this runs once, at start-up, before any
    stage: what the stages create later is collected as before.
    """
    gc.collect()
    gc.freeze()


def run_stage(ctx: Context, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one stage with its heartbeat: its start is recorded before, its success or error after.

    The summary gains ``seconds`` (how long it ran), ``dead_tickets`` (``{ticket_id, reason}`` of the
    tickets given up on during the run, when any) and, for submit, ``budget_hold`` when the budget keeps
    tickets queued and that is worth a warning (:func:`health.note_budget_hold`). A stage that raises is
    recorded as an error (``crashed (TypeError): …``) and the exception goes on up.
    """
    before = health.last_event_id(ctx.db)
    health.started(ctx.db, name, ctx.now())
    began = ctx.timer()
    try:
        summary = fn()
    except Exception as exc:
        health.finished(ctx.db, name, ctx.now(), error=f"crashed ({type(exc).__name__}): {str(exc)[:200]}")
        raise
    summary.setdefault("stage", name)
    summary["seconds"] = round(max(ctx.timer() - began, 0.0), 3)
    health.finished(ctx.db, name, ctx.now(), error=summary.get("error"), worked=health.worked(name, summary))
    dead = health.dead_since(ctx.db, before)
    if dead:
        summary["dead_tickets"] = dead
    if name == "submit":
        hold = health.note_budget_hold(ctx.db, ctx.now(), summary)
        if hold:
            summary["budget_hold"] = hold
    return summary


def stages(ctx: Context, *, ignore_min_batch: bool = False) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """The four stages in pipeline order, as ``(name, call)``."""
    return [
        ("ingest", lambda: ingest.ingest(ctx)),
        ("submit", lambda: submit.submit(ctx, ignore_min_batch=ignore_min_batch)),
        ("poll", lambda: poll.poll(ctx)),
        ("writeback", lambda: writeback.writeback(ctx)),
    ]


def run_once(ctx: Context, on_stage: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every stage once, in order, ignoring schedules and the minimum batch size (budget still applies).

    Each run leaves its heartbeat (:func:`run_stage`); a stage that fails (a summary with ``error``) does not
    stop the ones after it: see :func:`failed`. ``on_stage`` is called with each stage's summary as soon as
    that stage ends (the CLI logs it then).
    """
    summaries = []
    for name, step in stages(ctx, ignore_min_batch=True):
        summary = run_stage(ctx, name, step)
        summaries.append(summary)
        if on_stage is not None:
            on_stage(summary)
    return summaries


def failed(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """``"<stage>: <error>"`` for every summary of ``summaries`` that failed."""
    return [f"{s.get('stage', 'stage')}: {s['error']}" for s in summaries if s.get("error")]
