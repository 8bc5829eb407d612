"""Token prices and cost arithmetic (pure). Source: DESIGN §7, Anthropic pricing page, November 2026.

All prices are US dollars per million tokens at the standard (real-time) rate; the Message
Batches API bills half of every token kind, cache writes and reads included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from .frozen import Record

BATCH_DISCOUNT = 0.5
CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1


class Price(Record):
    """A model's standard price per million tokens, input and output."""

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

# Smallest prefix the model caches (tokens); below it a cache_control marker does nothing.
# Anthropic's prompt-caching page (quoted in anthropic-sdk-python#1194): Haiku 4.5, Opus 4.5/4.6 4,096;
# Sonnet 4.5 1,024. Sonnet 4.6 was observed caching only from 2,048 (same issue), Opus 4.7 2,048 and
# Opus 4.8 1,024 (release notes): where sources disagree we take the larger, so we never mark in vain.
CACHE_MINIMUM: dict[str, int] = {
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4-6": 2048,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-7": 2048,
    "claude-opus-4-8": 1024,
}

_DATED = re.compile(r"^(.*?)-\d{8}$")


_V = TypeVar("_V")


def _lookup(model: str, table: Mapping[str, _V]) -> _V:
    if model in table:
        return table[model]
    m = _DATED.match(model)
    if m and m.group(1) in table:
        return table[m.group(1)]
    raise KeyError(model)


def price_for(model: str, table: Mapping[str, Price] | None = None) -> Price:
    """Price of ``model`` (a dated snapshot like ``claude-haiku-4-5-20251001`` maps to its alias)."""
    return _lookup(model, PRICES if table is None else table)


def cache_minimum(model: str) -> int:
    """Minimum cacheable prefix in tokens; 4,096 (the largest) for a model we do not know."""
    try:
        return _lookup(model, CACHE_MINIMUM)
    except KeyError:
        return 4096


def usage_cost(model: str, usage: Mapping[str, Any] | None, *, batch: bool = True,
               table: Mapping[str, Price] | None = None) -> float:
    """Dollars billed for one result's ``usage`` (input, output, cache writes by TTL, cache reads)."""
    if not usage:
        return 0.0
    price = price_for(model, table)
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


def worst_case_cost(model: str, input_tokens: int, max_tokens: int, *, batch: bool = True,
                    table: Mapping[str, Price] | None = None) -> float:
    """Upper bound for one request: every input token uncached, output at ``max_tokens``."""
    price = price_for(model, table)
    factor = BATCH_DISCOUNT if batch else 1.0
    return (input_tokens * price.input + max_tokens * price.output) * factor / 1_000_000


def cache_hit_rate(usages: Any) -> float | None:
    """Share of input tokens read from the cache over a set of ``usage`` dicts (None without input)."""
    read = total = 0
    for usage in usages:
        if not usage:
            continue
        r = int(usage.get("cache_read_input_tokens") or 0)
        read += r
        total += r + int(usage.get("input_tokens") or 0) + int(usage.get("cache_creation_input_tokens") or 0)
    return read / total if total else None
