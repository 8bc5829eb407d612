"""Configuration: one TOML file, validated at start into a frozen, typed object.

Secrets never live in the file: it names the environment variables that hold them,
and :func:`load` reads them from the ``environ`` it is given (pure, testable).
Every problem is a :class:`ConfigError` naming the key, so the CLI can print one line
and exit 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .pricing import PRICES, Price, price_for
from .redact import KINDS as REDACT_KINDS

DEFAULT_PATH = "config/zdtriage.toml"


class ConfigError(Exception):
    """A bad or missing configuration value; ``str()`` is one line naming the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@dataclass(frozen=True)
class ZendeskConfig:
    subdomain: str
    email: str
    token_env: str = "ZENDESK_API_TOKEN"
    url: str | None = None
    start: str | None = None
    updates_per_minute: int = 100
    verify_after: float = 300.0
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class AnthropicConfig:
    api_key_env: str = "ANTHROPIC_API_KEY"
    model: str = "claude-haiku-4-5"
    max_tokens: int = 512
    base_url: str | None = None
    max_attempts: int = 4
    retry_backoff: float = 60.0
    verify_after: float = 120.0
    api_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class ScheduleConfig:
    ingest_every: float = 120.0
    submit_every: float = 1800.0
    poll_every: float = 60.0
    writeback_every: float = 60.0
    min_batch: int = 1


@dataclass(frozen=True)
class TriageConfig:
    tag_prefix: str = "ai_"
    priorities: tuple[str, ...] = ("P1", "P2", "P3", "P4")
    categories: tuple[str, ...] = ("billing", "technical", "account", "feature-request", "other")
    sentiments: tuple[str, ...] = ("positive", "neutral", "negative", "angry")
    native_priority: bool = False
    statuses: tuple[str, ...] = ("new", "open", "pending", "hold")
    skip_tags: tuple[str, ...] = ("no_ai",)
    max_input_tokens: int = 6000
    retriage: bool = False
    low_confidence: float = 0.6
    knowledge_file: str | None = None
    knowledge: str = field(default="", repr=False)


@dataclass(frozen=True)
class PrivacyConfig:
    redact: tuple[str, ...] = ()
    drop_text_after_write: bool = False


@dataclass(frozen=True)
class BudgetConfig:
    daily_usd: float = 50.0
    monthly_usd: float = 0.0


@dataclass(frozen=True)
class StateConfig:
    path: str = "state/zdtriage.db"


@dataclass(frozen=True)
class Config:
    zendesk: ZendeskConfig
    anthropic: AnthropicConfig = AnthropicConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    triage: TriageConfig = TriageConfig()
    budget: BudgetConfig = BudgetConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    state: StateConfig = StateConfig()
    prices: tuple[tuple[str, Price], ...] = ()

    def price_table(self) -> dict[str, Price]:
        """Built-in prices, extended or overridden by the ``[prices]`` section."""
        return {**PRICES, **dict(self.prices)}

    def masked(self) -> dict[str, dict[str, Any]]:
        """The configuration as plain dicts, secrets replaced by a mask (``config check``)."""
        out: dict[str, dict[str, Any]] = {}
        for section in fields(self):
            if section.name == "prices":
                out["prices"] = {m: {"input": p.input, "output": p.output} for m, p in self.prices}
                continue
            values = {}
            for f in fields(getattr(self, section.name)):
                value = getattr(getattr(self, section.name), f.name)
                if f.name == "knowledge":
                    continue
                if f.name in ("token", "api_key"):
                    value = "**** (set)" if value else "(not set)"
                elif isinstance(value, tuple):
                    value = list(value)
                values[f.name] = value
            out[section.name] = values
        return out


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_ISO639 = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_STATUSES = {"new", "open", "pending", "hold", "solved"}


def parse_duration(key: str, value: Any) -> float:
    """``"90s"``, ``"2m"``, ``"1h"`` or a number of seconds → seconds (> 0)."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like \"90s\" or \"2m\", got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(key, f"expected a duration like \"90s\" or \"2m\", got {value!r}")
    if seconds <= 0:
        raise ConfigError(key, "must be greater than zero")
    return seconds


def _section(raw: Mapping[str, Any], name: str, cls: type, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    data = raw.get(name, {})
    if not isinstance(data, dict):
        raise ConfigError(name, "must be a table")
    allowed = {f.name for f in fields(cls)} - {"token", "api_key", "knowledge"}
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{name}.{key}", "unknown key")
    for key in required:
        if key not in data:
            raise ConfigError(f"{name}.{key}", "is required")
    return dict(data)


def _expect(key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(key, f"expected {what}, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(key, f"expected {what}, got {value!r}")
    return value


def _str(key: str, value: Any, *, empty: bool = False) -> str:
    _expect(key, value, str, "a string")
    if not empty and not value.strip():
        raise ConfigError(key, "must not be empty")
    return value


def _int(key: str, value: Any, low: int, high: int) -> int:
    _expect(key, value, int, "an integer")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _list(key: str, value: Any, *, pattern: re.Pattern[str] | None = None, allow_empty: bool = False) -> tuple[str, ...]:
    _expect(key, value, list, "a list of strings")
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


def _url(key: str, value: Any) -> str:
    value = _str(key, value)
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(key, f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def parse(raw: Mapping[str, Any], environ: Mapping[str, str], *, need_secrets: bool = True) -> Config:
    """Validate a parsed TOML document and resolve secrets from ``environ``."""
    for name in raw:
        if name not in {f.name for f in fields(Config)}:
            raise ConfigError(name, "unknown section")

    prices = _prices(raw.get("prices", {}))
    table = {**PRICES, **dict(prices)}

    z = _section(raw, "zendesk", ZendeskConfig, required=("subdomain", "email"))
    subdomain = _str("zendesk.subdomain", z["subdomain"])
    if not re.match(r"^[a-z0-9][a-z0-9-]*$", subdomain):
        raise ConfigError("zendesk.subdomain", f"expected the part before .zendesk.com, got {subdomain!r}")
    email = _str("zendesk.email", z["email"])
    if "@" not in email:
        raise ConfigError("zendesk.email", f"expected an e-mail address, got {email!r}")
    token_env = _str("zendesk.token_env", z.get("token_env", "ZENDESK_API_TOKEN"))
    start = z.get("start")
    if start is not None:
        from .timeutil import parse_time  # local: keeps config importable without the rest

        try:
            parse_time(_str("zendesk.start", start))
        except ValueError:
            raise ConfigError("zendesk.start", f"expected an ISO-8601 time like 2026-11-01T00:00:00Z, got {start!r}") from None
    token = environ.get(token_env, "")
    if need_secrets and not token:
        raise ConfigError("zendesk.token_env", f"environment variable {token_env} is not set")
    zendesk = ZendeskConfig(
        subdomain=subdomain,
        email=email,
        token_env=token_env,
        url=_url("zendesk.url", z["url"]) if "url" in z else None,
        start=start,
        updates_per_minute=_int("zendesk.updates_per_minute", z.get("updates_per_minute", 100), 1, 10_000),
        verify_after=parse_duration("zendesk.verify_after", z.get("verify_after", "5m")),
        token=token,
    )

    a = _section(raw, "anthropic", AnthropicConfig)
    api_key_env = _str("anthropic.api_key_env", a.get("api_key_env", "ANTHROPIC_API_KEY"))
    api_key = environ.get(api_key_env, "")
    if need_secrets and not api_key:
        raise ConfigError("anthropic.api_key_env", f"environment variable {api_key_env} is not set")
    model = _str("anthropic.model", a.get("model", AnthropicConfig.model))
    try:
        price_for(model, table)
    except KeyError:
        raise ConfigError("anthropic.model", f"no price known for {model!r}: add [prices.\"{model}\"] input = …, "
                          f"output = … (known: {', '.join(sorted(table))})") from None
    anthropic = AnthropicConfig(
        api_key_env=api_key_env,
        model=model,
        max_tokens=_int("anthropic.max_tokens", a.get("max_tokens", AnthropicConfig.max_tokens), 64, 64000),
        base_url=_url("anthropic.base_url", a["base_url"]) if "base_url" in a else None,
        max_attempts=_int("anthropic.max_attempts", a.get("max_attempts", AnthropicConfig.max_attempts), 1, 20),
        retry_backoff=parse_duration("anthropic.retry_backoff", a.get("retry_backoff", "1m")),
        verify_after=parse_duration("anthropic.verify_after", a.get("verify_after", "2m")),
        api_key=api_key,
    )

    s = _section(raw, "schedule", ScheduleConfig)
    schedule = ScheduleConfig(
        **{k: parse_duration(f"schedule.{k}", v) for k, v in s.items() if k.endswith("_every")},
        min_batch=_int("schedule.min_batch", s.get("min_batch", 1), 1, 100_000),
    )

    t = _section(raw, "triage", TriageConfig)
    tag = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
    prefix = _str("triage.tag_prefix", t.get("tag_prefix", "ai_"))
    if not re.match(r"^[a-z0-9][a-z0-9_]*$", prefix):
        raise ConfigError("triage.tag_prefix", f"use lower-case letters, digits and _ only, got {prefix!r}")
    statuses = _list("triage.statuses", t.get("statuses", list(TriageConfig.statuses)))
    for status in statuses:
        if status not in _STATUSES:
            raise ConfigError("triage.statuses", f"{status!r} is not a Zendesk status one can triage ({', '.join(sorted(_STATUSES))})")
    native = t.get("native_priority", False)
    retriage = t.get("retriage", False)
    low = t.get("low_confidence", TriageConfig.low_confidence)
    _expect("triage.low_confidence", low, (int, float), "a number from 0 to 1")
    if not 0 <= low <= 1:
        raise ConfigError("triage.low_confidence", f"must be between 0 and 1, got {low}")
    priorities = _list("triage.priorities", t.get("priorities", list(TriageConfig.priorities)), pattern=tag)
    if native and len(priorities) != 4:
        raise ConfigError("triage.native_priority", "needs exactly four priorities (mapped to urgent, high, normal, low)")
    triage = TriageConfig(
        tag_prefix=prefix,
        priorities=priorities,
        categories=_list("triage.categories", t.get("categories", list(TriageConfig.categories)), pattern=tag),
        sentiments=_list("triage.sentiments", t.get("sentiments", list(TriageConfig.sentiments)), pattern=tag),
        native_priority=_expect("triage.native_priority", native, bool, "true or false"),
        statuses=statuses,
        skip_tags=_list("triage.skip_tags", t.get("skip_tags", list(TriageConfig.skip_tags)), allow_empty=True),
        max_input_tokens=_int("triage.max_input_tokens", t.get("max_input_tokens", 6000), 200, 150_000),
        retriage=_expect("triage.retriage", retriage, bool, "true or false"),
        low_confidence=float(low),
        knowledge_file=_str("triage.knowledge_file", t["knowledge_file"]) if "knowledge_file" in t else None,
        knowledge=_knowledge(t.get("knowledge_file")),
    )

    b = _section(raw, "budget", BudgetConfig)
    daily = b.get("daily_usd", BudgetConfig.daily_usd)
    _expect("budget.daily_usd", daily, (int, float), "a number of US dollars")
    if daily < 0:
        raise ConfigError("budget.daily_usd", "must be 0 (no cap) or more")
    monthly = b.get("monthly_usd", BudgetConfig.monthly_usd)
    _expect("budget.monthly_usd", monthly, (int, float), "a number of US dollars")
    if monthly < 0:
        raise ConfigError("budget.monthly_usd", "must be 0 (no cap) or more")
    budget = BudgetConfig(daily_usd=float(daily), monthly_usd=float(monthly))

    pv = _section(raw, "privacy", PrivacyConfig)
    kinds = _list("privacy.redact", pv.get("redact", []), allow_empty=True)
    for kind in kinds:
        if kind not in REDACT_KINDS:
            raise ConfigError("privacy.redact", f"{kind!r} is not one of {', '.join(REDACT_KINDS)}")
    drop = pv.get("drop_text_after_write", False)
    privacy = PrivacyConfig(redact=kinds, drop_text_after_write=_expect("privacy.drop_text_after_write", drop, bool,
                                                                         "true or false"))

    st = _section(raw, "state", StateConfig)
    state = StateConfig(path=_str("state.path", st.get("path", StateConfig.path)))

    return Config(zendesk=zendesk, anthropic=anthropic, schedule=schedule, triage=triage, budget=budget, privacy=privacy, state=state,
                  prices=prices)


def _prices(raw: Any) -> tuple[tuple[str, Price], ...]:
    if not isinstance(raw, dict):
        raise ConfigError("prices", "must be a table of models, e.g. [prices.\"claude-haiku-4-5\"]")
    out = []
    for model, value in raw.items():
        key = f"prices.{model}"
        if not isinstance(value, dict) or set(value) != {"input", "output"}:
            raise ConfigError(key, "needs exactly input and output, in US dollars per million tokens (standard rate)")
        for kind in ("input", "output"):
            _expect(f"{key}.{kind}", value[kind], (int, float), "a number of US dollars per million tokens")
            if value[kind] < 0:
                raise ConfigError(f"{key}.{kind}", "must not be negative")
        out.append((model, Price(float(value["input"]), float(value["output"]))))
    return tuple(out)


def _knowledge(path: Any) -> str:
    if path is None:
        return ""
    try:
        text = Path(_str("triage.knowledge_file", path)).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("triage.knowledge_file", f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(text) > 400_000:
        raise ConfigError("triage.knowledge_file", "is larger than 400,000 characters (about 100,000 tokens)")
    return text.strip()


def resolve_path(path: str | None, environ: Mapping[str, str]) -> Path:
    """The config path: ``--config``, then ``$ZDTRIAGE_CONFIG``, then ``config/zdtriage.toml``."""
    return Path(path or environ.get("ZDTRIAGE_CONFIG") or DEFAULT_PATH)


def load(path: Path, environ: Mapping[str, str] | None = None, *, need_secrets: bool = True) -> Config:
    """Read and validate the TOML file at ``path``; raises :class:`ConfigError`."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} not found (pass --config or set ZDTRIAGE_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{path} is not valid TOML: {exc}") from None
    config = parse(raw, environ, need_secrets=need_secrets)
    state_path = Path(config.state.path)
    if not state_path.is_absolute():
        # a relative state path is relative to the working directory, like every other CLI path
        state_path = Path.cwd() / state_path
    return replace(config, state=StateConfig(path=str(state_path)))
