"""Validators of single configuration values (pure): each returns the value or raises ConfigError naming the key."""

from __future__ import annotations

import math
import re
from typing import Any

from .config_model import DAY, ConfigError
from .pricing import Price

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
STATUSES = {"new", "open", "pending", "hold", "solved"}
TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def parse_duration(key: str, value: Any, maximum: float = DAY) -> float:
    """``"90s"``, ``"2m"``, ``"1h"`` or a number of seconds → seconds (> 0, finite, at most ``maximum``)."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like \"90s\" or \"2m\", got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(key, f"expected a duration like \"90s\" or \"2m\", got {value!r}")
    if not math.isfinite(seconds):
        raise ConfigError(key, f"must be a finite duration, got {value!r}")
    if seconds <= 0:
        raise ConfigError(key, "must be greater than zero")
    if seconds > maximum:
        raise ConfigError(key, f"must be at most {human(maximum)}, got {value!r}")
    return seconds


def human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def expect(key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(key, f"expected {what}, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(key, f"expected {what}, got {value!r}")
    return value


def string(key: str, value: Any, *, empty: bool = False) -> str:
    text: str = expect(key, value, str, "a string")
    if not empty and not text.strip():
        raise ConfigError(key, "must not be empty")
    return text


def integer(key: str, value: Any, low: int, high: int) -> int:
    n: int = expect(key, value, int, "an integer")
    if not low <= n <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {n}")
    return n


def number(key: str, value: Any, low: float, high: float, what: str, *, above_low: bool = False) -> float:
    """A finite int or float in [low, high] (or (low, high] with ``above_low``): nan and inf never pass."""
    expect(key, value, (int, float), what)
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if (number <= low if above_low else number < low) or number > high:
        bounds = f"more than {low:g} and at most {high:g}" if above_low else f"between {low:g} and {high:g}"
        raise ConfigError(key, f"must be {bounds}, got {value!r}")
    return number


def strings(
    key: str, value: Any, *, pattern: re.Pattern[str] | None = None, allow_empty: bool = False
) -> tuple[str, ...]:
    expect(key, value, list, "a list of strings")
    if not value and not allow_empty:
        raise ConfigError(key, "must not be empty")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(key, f"every item must be a non-empty string, got {item!r}")
        if pattern and not pattern.match(item.lower()):
            raise ConfigError(key, f"{item!r} cannot be part of a Zendesk tag (use letters, digits, - and _)")
        out.append(item)
    if len(set(i.lower() for i in out)) != len(out):
        raise ConfigError(key, "has duplicates")
    return tuple(out)


def zendesk_tags(key: str, value: Any) -> tuple[str, ...]:
    """Tags as Zendesk stores them: lower-cased; a tag with whitespace is refused (Zendesk splits it)."""
    tags = strings(key, value, allow_empty=True)
    for tag in tags:
        if any(c.isspace() for c in tag.strip()):
            words = tag.split()
            raise ConfigError(key, f"{tag!r} has a space: Zendesk splits tags on spaces, so no ticket carries it "
                                   f"(it would get {' and '.join(repr(w.lower()) for w in words)}); "
                                   f"write {'_'.join(words).lower()!r} or list the words as separate tags")
    return tuple(t.strip().lower() for t in tags)


def ids(key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in value):
        raise ConfigError(key, f"expected a list of Zendesk ids like [360001234567], got {value!r}")
    for item in value:
        if not 1 <= item < 2 ** 63:
            raise ConfigError(key, f"{item} is not a Zendesk id (a positive integer)")
    if len(set(value)) != len(value):
        raise ConfigError(key, "has duplicates")
    return tuple(value)


def url(key: str, value: Any) -> str:
    text = string(key, value)
    if not re.match(r"^https?://[^/\s]+", text):
        raise ConfigError(key, f"expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(key, f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return choices[choices.index(value)]


def pairs(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """A ``{zendesk_value = "ours"}`` table as pairs, Zendesk's side lower-cased (evaluate's maps)."""
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a table like {{ \"zendesk_value\" = \"ours\" }}, got {value!r}")
    out: dict[str, str] = {}
    for source, target in value.items():
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(key, f"the value for {source!r} must be a non-empty string, got {target!r}")
        if source.lower() in out:
            raise ConfigError(key, f"{source!r} is listed twice (Zendesk values are lower-case)")
        out[source.lower()] = target
    return tuple(out.items())


def prices(raw: Any) -> tuple[tuple[str, Price], ...]:
    """The ``[prices."model"]`` tables: standard US dollars per million input and output tokens."""
    if not isinstance(raw, dict):
        raise ConfigError("prices", "must be a table of models, e.g. [prices.\"claude-haiku-4-5\"]")
    out = []
    for model, value in raw.items():
        key = f"prices.{model}"
        if not isinstance(value, dict) or set(value) != {"input", "output"}:
            raise ConfigError(key, "needs exactly input and output, in US dollars per million tokens (standard rate)")
        for kind in ("input", "output"):
            number(f"{key}.{kind}", value[kind], 0, 10_000, "a number of US dollars per million tokens")
        out.append((model, Price(float(value["input"]), float(value["output"]))))
    return tuple(out)
