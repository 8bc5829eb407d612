"""The spending caps: what has been spent and reserved, and what may still be reserved (database only).

Before a submit, each request's worst case (every input token uncached, the answer at ``max_tokens``) is
reserved; the reservation is released to the actual cost when its result arrives. Spend is counted per
UTC day and per UTC month, by the creation time of the batch that spent it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import store
from .config import BudgetConfig
from .frozen import Record
from .store import evaluations
from .store import tickets as queue
from .timeutil import day_start, month_start

if TYPE_CHECKING:
    import sqlite_utils

    from .store import Reader


class Spend(Record):
    """Dollars spent today and this month, and reserved by the open batches."""

    spent: float  # today, actual
    reserved: float  # worst case of what is in open batches
    spent_month: float


def spend(db: Reader, now: float) -> Spend:
    """Actual cost of batches created today and this month, and the reservations still open."""
    return Spend(spent=store.spend_since(db, day_start(now)),
                 reserved=queue.reserved_total(db) + evaluations.reserved_open(db),  # a running `evaluate` too
                 spent_month=store.spend_since(db, month_start(now)))


def left(db: sqlite_utils.Database, budget: BudgetConfig, now: float) -> float:
    """Dollars that may still be reserved now under the daily and monthly caps (inf when uncapped)."""
    s = spend(db, now)
    room = float("inf")
    if budget.daily_usd > 0:
        room = min(room, budget.daily_usd - s.spent - s.reserved)
    if budget.monthly_usd > 0:
        room = min(room, budget.monthly_usd - s.spent_month - s.reserved)
    return room


def hold_note(budget: BudgetConfig, held: int) -> str:
    """The log line for tickets the caps kept in the queue."""
    caps = [f"daily ${budget.daily_usd:.2f}" if budget.daily_usd else "",
            f"monthly ${budget.monthly_usd:.2f}" if budget.monthly_usd else ""]
    return f"{held} ticket(s) held in the queue: the budget ({', '.join(c for c in caps if c)}) is reached"
