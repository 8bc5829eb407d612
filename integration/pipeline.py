"""What every stage needs (:class:`Context`) and one pass of all four stages (:func:`run_once`).

The stages themselves live in ``integration/stages/``: ingest → submit → poll → writeback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlite_utils

from .config import Config
from .stages import ingest, poll, submit, writeback


@dataclass
class Context:
    """What every stage needs; the clients and the clock are passed in (tests use simulators)."""

    config: Config
    db: sqlite_utils.Database
    zendesk: Any = None
    anthropic: Any = None
    clock: Callable[[], float] = time.time

    def now(self) -> float:
        return self.clock()


def run_once(ctx: Context, on_stage: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every stage once, in order, ignoring schedules and the minimum batch size (budget still applies).

    ``on_stage`` is called with each stage's summary as soon as that stage ends (the CLI logs it then).
    """
    steps: list[Callable[[], dict[str, Any]]] = [
        lambda: ingest.ingest(ctx),
        lambda: submit.submit(ctx, ignore_min_batch=True),
        lambda: poll.poll(ctx),
        lambda: writeback.writeback(ctx),
    ]
    summaries = []
    for step in steps:
        summary = step()
        summaries.append(summary)
        if on_stage is not None:
            on_stage(summary)
    return summaries
