"""The configuration's shape: one frozen record (a dataclass, ``frozen.Record``) per section, with the defaults
(DESIGN §4)."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any

from .frozen import Record
from .pricing import PRICES, Price

DEFAULT_PATH = "config/zdtriage.toml"
DAY = 86400.0


class ConfigError(Exception):
    """A bad or missing configuration value; ``str()`` is one line naming the key (and its source)."""

    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        where = f"{key} (set by {source})" if key and source else key or source or ""
        super().__init__(f"{where}: {message}" if where else message)
        self.key = key
        self.message = message
        self.source = source


class ZendeskConfig(Record):
    """[zendesk]: the account, how we sign in, and how much of its API we may use."""

    subdomain: str
    email: str  # "" is allowed with auth = "oauth"
    token_env: str = "ZENDESK_API_TOKEN"
    url: str | None = None
    start: str | None = None
    updates_per_minute: int = 100
    verify_after: float = 660.0  # past the next 10-min ingest: it usually confirms the write for free
    token_file: str | None = None
    auth: str = "token"  # "token": email/token basic auth; "oauth": the secret is an OAuth access token
    export_requests_per_minute: int = 10  # 30 with High Volume; shared by every incremental export
    account_share: float = 0.5  # of the account's API limit a minute (shared with every app): the most we take
    token: str = field(default="", repr=False)


class AnthropicConfig(Record):
    """[anthropic]: the key, the model and how a batch is retried and verified."""

    api_key_env: str = "ANTHROPIC_API_KEY"
    model: str = "claude-haiku-4-5"
    max_tokens: int = 512
    base_url: str | None = None
    max_attempts: int = 4
    retry_backoff: float = 60.0
    verify_after: float = 120.0
    api_key_file: str | None = None
    api_key: str = field(default="", repr=False)


class ScheduleConfig(Record):
    """[schedule]: how often each stage runs, and how long a batch may wait to fill."""

    ingest_every: float = 600.0  # bench/README.md: 10 min keeps calls per ticket near 0.05
    submit_every: float = 60.0  # the submit policy's check; it submits per max_wait
    poll_every: float = 60.0
    writeback_every: float = 60.0
    helpcenter_every: float = 21600.0  # Help Center sync (issue 21): articles change far less often than tickets
    min_batch: int = 1
    max_wait: float = 600.0


class TriageConfig(Record):
    """[triage]: the values asked for, which tickets are triaged, and what a request holds."""

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
    brands: tuple[int, ...] = ()  # empty = every brand
    groups: tuple[int, ...] = ()
    forms: tuple[int, ...] = ()
    custom_statuses: tuple[int, ...] = ()  # custom_status_id values; empty = all
    sample: float = 1.0  # deterministic share of eligible tickets, 0 < sample <= 1
    articles: int = 3  # Help Center articles added to a ticket's request (0 = no Help Center grounding)
    article_tokens: int = 1200  # at most this many tokens of article text per request
    examples: int = 20  # agents' recent corrections in the shared prefix, rebuilt at most daily (0 = none)
    suggest_macros: bool = False  # offer the account's active shared macros; the note names the one that fits
    knowledge: str = field(default="", repr=False)


class PrivacyConfig(Record):
    """[privacy]: what is redacted before sending, and whether text is kept after write-back."""

    redact: tuple[str, ...] = ()
    drop_text_after_write: bool = False


class BudgetConfig(Record):
    """[budget]: the daily and monthly spending caps (0: none)."""

    daily_usd: float = 50.0
    monthly_usd: float = 0.0


class StateConfig(Record):
    """[state]: where the state database is, and how long done tickets stay in it."""

    path: str = "state/zdtriage.db"
    keep_days: int = 90  # done tickets older than this are pruned; 0 = keep forever


class WritebackConfig(Record):
    """[writeback]: what is written to Zendesk."""

    mode: str = "full"  # "full": tags and note; "tags": tags only; "off": nothing written to Zendesk


ZENDESK_PRIORITIES = ("urgent", "high", "normal", "low")
ZENDESK_TYPES = ("problem", "incident", "question", "task")


class EvaluateConfig(Record):
    """[evaluate]: how ``zdtriage evaluate`` reads the truth from Zendesk's values."""

    category_field: str | int | None = None  # "type", a custom ticket field id, or None (no category truth)
    category_map: tuple[tuple[str, str], ...] = ()  # Zendesk value → one of triage.categories
    priority_map: tuple[tuple[str, str], ...] = (("urgent", "P1"), ("high", "P2"), ("normal", "P3"), ("low", "P4"))


class MetricsConfig(Record):
    """[metrics]: the Prometheus server and the node_exporter textfile."""

    port: int = 0  # 0 = no metrics server
    host: str = "127.0.0.1"
    textfile: str | None = None  # node_exporter textfile collector file (*.prom)


class Config(Record):
    """The whole configuration, one attribute per section."""

    zendesk: ZendeskConfig
    anthropic: AnthropicConfig = AnthropicConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    triage: TriageConfig = TriageConfig()
    budget: BudgetConfig = BudgetConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    state: StateConfig = StateConfig()
    writeback: WritebackConfig = WritebackConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    metrics: MetricsConfig = MetricsConfig()
    prices: tuple[tuple[str, Price], ...] = ()
    warnings: tuple[str, ...] = ()  # not errors, but worth a line in `config check` and the log

    def price_table(self) -> dict[str, Price]:
        """Built-in prices, extended or overridden by the ``[prices]`` section."""
        return {**PRICES, **dict(self.prices)}

    def masked(self) -> dict[str, dict[str, Any]]:
        """The configuration as plain dicts, secrets replaced by a mask (``config check``)."""
        out: dict[str, dict[str, Any]] = {}
        for section in fields(self):
            if section.name == "warnings":
                continue
            if section.name == "prices":
                out["prices"] = {m: {"input": p.input, "output": p.output} for m, p in self.prices}
                continue
            table = getattr(self, section.name)
            values: dict[str, Any] = {}
            for f in fields(table):
                value = getattr(table, f.name)
                if f.name == "knowledge":
                    continue
                if f.name in SECRETS.get(section.name, {}):
                    source_file = getattr(table, SECRETS[section.name][f.name])
                    value = (
                        "(not set)" if not value else f"**** (set, from {source_file})" if source_file else "**** (set)"
                    )
                elif f.name.endswith("_map"):
                    value = dict(value)
                elif isinstance(value, tuple):
                    value = list(value)
                values[f.name] = value
            out[section.name] = values
        return out


SECTIONS: dict[str, type] = {"zendesk": ZendeskConfig, "anthropic": AnthropicConfig, "schedule": ScheduleConfig,
                             "triage": TriageConfig, "budget": BudgetConfig, "privacy": PrivacyConfig,
                             "state": StateConfig, "writeback": WritebackConfig, "evaluate": EvaluateConfig,
                             "metrics": MetricsConfig}
# secret field → the key naming the file it came from (masked in `config check`, never a config key)
SECRETS = {"zendesk": {"token": "token_file"}, "anthropic": {"api_key": "api_key_file"}}
_DERIVED = {"token", "api_key", "knowledge"}


def keys(section: str) -> dict[str, bool]:
    """The config keys of ``section``, each with whether it takes a string (for environment values)."""
    if section == "prices":
        return {}
    return {f.name: f.type in ("str", "str | None") for f in fields(SECTIONS[section]) if f.name not in _DERIVED}
