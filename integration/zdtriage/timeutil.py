"""UTC time helpers: the store keeps ISO-8601 UTC strings, decisions take ``now`` as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=256)  # a stage stamps many rows with the same ``now``: 6 us a call (issue 22)
def iso(epoch: float) -> str:
    """Epoch seconds → ``2026-11-25T10:00:00.000000Z`` (sortable as text)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """ISO-8601 (``Z`` or offset, or a bare date) → epoch seconds; raises ValueError."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def day_start(epoch: float) -> float:
    """Start of the UTC day containing ``epoch``."""
    d = datetime.fromtimestamp(epoch, tz=UTC)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(epoch: float) -> float:
    """Start of the UTC month containing ``epoch``."""
    d = datetime.fromtimestamp(epoch, tz=UTC)
    return d.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
