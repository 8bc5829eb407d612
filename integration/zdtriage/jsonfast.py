"""JSON bodies read with orjson, and with the standard library for what orjson refuses (issue 22).

The ticket-export and comment-event pages are about half a megabyte each, and a backlog reads hundreds of them:
orjson parses them in about half the CPU of ``json`` (``bench/README.md``, issue 22). It is stricter than ``json``:
a lone surrogate escape (``"\\ud800"``, which hostile text can hold), ``NaN``/``Infinity``, nesting past 1,024 levels
or a byte-order mark is refused, and a refused body is read again by the slower reader. So everything read before is
still read, to the same value, with one difference: an integer past 64 bits becomes the nearest float (``json``
keeps it exact). Zendesk's ids are signed 64-bit and its other numbers small (``tests/property/test_jsonfast.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def loads(data: bytes | str, slow: Callable[[], Any] | None = None) -> Any:
    """``data`` parsed; what orjson refuses goes to ``slow()`` (default ``json.loads(data)``), whose errors are the
    caller's to handle (a ``ValueError`` for a body that is not JSON, as from ``json``)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return slow() if slow is not None else json.loads(data)
