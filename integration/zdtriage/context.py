"""What every stage needs: :class:`Context`. Below the stages and the pipeline, so they import it and
nothing here imports them (no import circle, tests/unit/test_architecture.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config

if TYPE_CHECKING:
    import sqlite_utils


@dataclass
class Context:
    """What every stage needs; the clients and the clock are passed in (tests use simulators).

    ``clock`` stamps heartbeats and decisions; ``timer`` only measures how long a stage took.
    """

    config: Config
    db: sqlite_utils.Database
    zendesk: Any = None
    anthropic: Any = None
    clock: Callable[[], float] = time.time
    timer: Callable[[], float] = time.perf_counter

    def now(self) -> float:
        return self.clock()
