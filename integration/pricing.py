"""Token prices and cost arithmetic (pure). Source: DESIGN §7, Anthropic pricing page, November 2026.

All prices are US dollars per million tokens at the standard (real-time) rate; the Message
Batches API bills half of every token kind, cache writes and reads included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

BATCH_DISCOUNT = 0.5
CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1


@dataclass(frozen=True)
class Price:
    input: float  # $/MTok, standard
    output: float  # $/MTok, standard


PRICES: dict[str, Price] = {
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-8": Price(5.0, 25.0),
}

_DATED = re.compile(r"^(.*?)-\d{8}$")


def price_for(model: str) -> Price:
    """Price of ``model`` (a dated snapshot like ``claude-haiku-4-5-20251001`` maps to its alias)."""
    if model in PRICES:
        return PRICES[model]
    m = _DATED.match(model)
    if m and m.group(1) in PRICES:
        return PRICES[m.group(1)]
    raise KeyError(model)


def usage_cost(model: str, usage: Mapping[str, Any] | None, *, batch: bool = True) -> float:
    """Dollars billed for one result's ``usage`` (input, output, cache writes by TTL, cache reads)."""
    if not usage:
        return 0.0
    price = price_for(model)
    factor = BATCH_DISCOUNT if batch else 1.0
    creation = usage.get("cache_creation") or {}
    write_1h = int(creation.get("ephemeral_1h_input_tokens") or 0)
    write_5m = int(creation.get("ephemeral_5m_input_tokens") or 0)
    total_write = int(usage.get("cache_creation_input_tokens") or 0)
    if write_1h + write_5m < total_write:  # older answers without the breakdown: 5-minute writes
        write_5m = total_write - write_1h
    dollars = (
        int(usage.get("input_tokens") or 0) * price.input
        + int(usage.get("output_tokens") or 0) * price.output
        + write_5m * price.input * CACHE_WRITE_5M
        + write_1h * price.input * CACHE_WRITE_1H
        + int(usage.get("cache_read_input_tokens") or 0) * price.input * CACHE_READ
    )
    return dollars * factor / 1_000_000


def worst_case_cost(model: str, input_tokens: int, max_tokens: int, *, batch: bool = True) -> float:
    """Upper bound for one request: every input token uncached, output at ``max_tokens``."""
    price = price_for(model)
    factor = BATCH_DISCOUNT if batch else 1.0
    return (input_tokens * price.input + max_tokens * price.output) * factor / 1_000_000
