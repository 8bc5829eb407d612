"""Process logging for the CLI: text or JSON lines on stderr, SDK loggers held at WARNING.

Callers log with a stable ``action`` key and their figures in ``extra``::

    log.info("ingest done", extra={"action": "ingest", "figures": {"tickets": 12, "pages": 1}})

JSON lines carry ``ts``, ``level``, ``logger``, ``message``, ``action`` and every extra field; text
lines are ``<time> <LEVEL> <message>`` followed by the extra fields as ``key=value`` (so keep the
figures out of the message). Known secret values are replaced by ``****`` in every line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# below WARNING only our own records pass: third-party DEBUG/INFO lines carry request bodies and headers
OWN_LOGGERS = ("zdtriage",)
SDK_LOGGERS = ("anthropic", "httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "requests", "zenpy", "apscheduler")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_secrets: set[str] = set()


def setup(fmt: str = "text", level: str = "INFO") -> None:
    """Send every log record to stderr as ``fmt`` ("text" or "json") from ``level`` up.

    Replaces the handler of an earlier call and any ``logging.basicConfig`` handler (the anthropic
    SDK installs one at import when ``ANTHROPIC_LOG`` is set); SDK loggers stay at WARNING whatever
    ``level`` or ``ANTHROPIC_LOG`` say, and a filter drops every record below WARNING that is not
    from our own loggers (``zdtriage``), even if something lowers a level later.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if os.environ.get("ANTHROPIC_LOG"):
        # the SDK reads ANTHROPIC_LOG once, at import, and then sets its loggers to DEBUG/INFO
        # (request options with ticket text, response headers): import it now so that we come last
        import anthropic  # noqa: F401

    root = logging.getLogger()
    for handler in list(root.handlers):
        # ours from an earlier call, or exactly a basicConfig StreamHandler (pytest's are subclasses)
        if isinstance(handler, _StderrHandler) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_quiet_others)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def mask(*secrets: str) -> None:
    """Replace these values by ``****`` wherever they appear in a log line (belt and braces)."""
    _secrets.update(s for s in secrets if s and len(s) >= 6)


def _quiet_others(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.WARNING:
        return True
    return any(record.name == n or record.name.startswith(n + ".") for n in OWN_LOGGERS)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "****")
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, action, then the caller's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "action": extras.pop("action", None),
        }
        for key, value in extras.items():
            out.setdefault(key, value)  # an extra never overwrites the fixed keys
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return _scrub(json.dumps(out, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``2026-11-01 12:00:00,123 INFO message key=value …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        extras.pop("action", None)
        fields = []
        for key, value in extras.items():
            if isinstance(value, dict):
                fields += [f"{k}={_text(v)}" for k, v in value.items()]
            else:
                fields.append(f"{key}={_text(value)}")
        if fields:
            head, sep, tail = text.partition("\n")  # keep a traceback below the fields
            text = f"{head} {' '.join(fields)}{sep}{tail}"
        return _scrub(text)


def _text(value: Any) -> str:
    return value if isinstance(value, str) and value and " " not in value else json.dumps(value, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass
