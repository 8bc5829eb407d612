"""Where configuration values come from besides the TOML file: environment variables, secret files,
and relative paths. Pure functions of what they are given (``environ``, a base folder), so
:mod:`zdtriage.config` can validate one merged document.

Precedence: defaults < file < environment (``ZDTRIAGE_<SECTION>__<KEY>``) < command-line flags.
"""

from __future__ import annotations

import copy
import os
import stat
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from .frozen import Record

PREFIX = "ZDTRIAGE_"
# ZDTRIAGE_ variables that are not config keys (read by the CLI itself)
OWN_VARIABLES = frozenset({"ZDTRIAGE_CONFIG", "ZDTRIAGE_LOG_FORMAT", "ZDTRIAGE_LOG_LEVEL"})
# keys holding a file path: relative ones resolve against the folder of the file that set them
PATH_KEYS = (("state", "path"), ("triage", "knowledge_file"), ("zendesk", "token_file"),
             ("anthropic", "api_key_file"), ("metrics", "textfile"))
SECRET_MAX_BYTES = 64 * 1024


class SourceError(Exception):
    """A value from a source is unusable: ``key`` (dotted) and ``source`` (a variable, a file) say where."""

    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.source = source


def env_name(*parts: str) -> str:
    """``("zendesk", "token_file")`` → ``ZDTRIAGE_ZENDESK__TOKEN_FILE``."""
    return PREFIX + "__".join(p.upper() for p in parts)


def env_value(text: str, *, want_str: bool = False) -> Any:
    """An environment value read as a TOML value when it is one (``10``, ``true``, ``["a", "b"]``,
    ``{input = 1.0, output = 5.0}``), else as the string itself (``acme``, ``2m``).

    A TOML date stays a string (our times are ISO-8601 text); for a string key (``want_str``) only
    a quoted TOML string is unquoted, so ``ZDTRIAGE_TRIAGE__TAG_PREFIX=true`` means ``"true"``.
    """
    try:
        doc = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if set(doc) != {"v"}:  # a line break smuggled a second key in: take the text as it is
        return text
    value = doc["v"]
    if isinstance(value, (datetime, date, time)):
        return text
    if want_str and not isinstance(value, str):
        return text
    return value


def environment_overrides(environ: Mapping[str, str], sections: Mapping[str, Mapping[str, bool]]
                          ) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``ZDTRIAGE_<SECTION>__<KEY>`` variables of ``environ`` as a TOML-shaped document.

    ``sections`` maps a section name to its keys and whether each is a string key (``prices`` takes
    any model name: ``ZDTRIAGE_PRICES__<MODEL>__INPUT``). Returns the document and, for every dotted
    key it sets, the variable that set it. Unknown sections or keys raise :class:`SourceError`
    naming the variable, and so does a single underscore where two are needed.
    """
    doc: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in OWN_VARIABLES:
            continue
        rest = name[len(PREFIX):]
        if "__" not in rest:
            head = rest.lower().split("_", 1)[0]
            if head in sections:
                raise SourceError(
                    head,
                    f"not a config key: write the section and the key with two underscores "
                    f"between them, e.g. {env_name(head, rest[len(head) + 1 :].lower() or 'key')}",
                    name,
                )
            continue
        parts = [p.lower() for p in rest.split("__")]
        section = parts[0]
        if section not in sections:
            raise SourceError(
                section, f"unknown config section {section!r} (known: {', '.join(sorted(sections))})", name
            )
        keys = sections[section]
        if section == "prices":
            if not 2 <= len(parts) <= 3 or not all(parts):
                raise SourceError("prices", "use ZDTRIAGE_PRICES__<MODEL> = {input = …, output = …} "
                                            "or ZDTRIAGE_PRICES__<MODEL>__INPUT / __OUTPUT", name)
            value = env_value(environ[name])
        else:
            if len(parts) != 2 or parts[1] not in keys:
                raise SourceError(".".join(parts), f"unknown key in [{section}] "
                                                   f"(known: {', '.join(sorted(keys))})", name)
            value = env_value(environ[name], want_str=keys[parts[1]])
        target = doc
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise SourceError(".".join(parts), "set both as a value and as a table", name)
        target[parts[-1]] = value
        origins[".".join(parts)] = name
    return doc, origins


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, table by table (a copy; neither argument changes)."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"metrics.port": 9100}`` (command-line flags) → ``{"metrics": {"port": 9100}}``."""
    doc: dict[str, Any] = {}
    for key, value in overrides.items():
        *tables, last = key.split(".")
        target = doc
        for table in tables:
            target = target.setdefault(table, {})
        target[last] = value
    return doc


def resolve_paths(raw: Mapping[str, Any], base: str) -> dict[str, Any]:
    """A copy of ``raw`` whose relative path keys (:data:`PATH_KEYS`) are made absolute against ``base``.

    Values of the wrong type are left for validation to report.
    """
    out = copy.deepcopy(dict(raw))
    for section, key in PATH_KEYS:
        table = out.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = absolute(table[key], base)
    return out


def absolute(path: str, base: str) -> str:
    """``path`` with ``~`` expanded, joined to ``base`` when relative (``:memory:`` and ``""`` stay)."""
    if path in (":memory:", "") or not path.strip():
        return path
    p = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, p))  # join keeps an absolute p as it is


class FileRead(Record):
    """A file's bytes, and whether others may read it (a secret file should not be)."""

    data: bytes
    world_readable: bool


def read_regular_file(path: str, *, limit: int) -> FileRead:
    """Read a regular file of at most ``limit`` bytes, refusing a FIFO, a device or a directory
    before reading anything (opened non-blocking, checked with ``fstat`` on the open descriptor, so
    a file swapped in between is checked too). Raises ``OSError`` or ``ValueError`` (one line)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ValueError("is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                    else "not a regular file")
            raise ValueError(f"is {kind}; only a regular file is read")
        if info.st_size > limit:
            raise ValueError(f"is {_size(info.st_size)}, more than the {_size(limit)} allowed")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew after fstat
                raise ValueError(f"is more than the {_size(limit)} allowed")
        return FileRead(b"".join(chunks), bool(info.st_mode & stat.S_IROTH))
    finally:
        os.close(fd)


def read_secret_file(key: str, path: str) -> tuple[str, str | None]:
    """The secret in ``path`` (one trailing newline stripped) and a warning, or ``None``.

    Raises :class:`SourceError` for a missing, unreadable, non-regular, empty or multi-line file;
    the message never contains the file's content.
    """
    try:
        read = read_regular_file(path, limit=SECRET_MAX_BYTES)
        text = read.data.decode("utf-8")
    except OSError as exc:
        raise SourceError(key, f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise SourceError(key, f"{path} is not UTF-8 text") from None
    except ValueError as exc:
        raise SourceError(key, f"{path} {exc}") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise SourceError(key, f"{path} is empty")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise SourceError(key, f"{path} holds more than one line or a space: a secret is one line, "
                               "only a single trailing newline is stripped")
    warning = None
    # a warning, not a refusal: Docker, podman and Kubernetes mount secrets 0444/0644; under /run/secrets
    # (their place inside a container, where no other user is) it is not even worth a warning
    if read.world_readable and not path.startswith("/run/secrets/"):
        warning = f"{key}: {path} is readable by every user on this host (chmod 600, or 400 for systemd credentials)"
    return text, warning


def _size(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"
