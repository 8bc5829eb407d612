"""Configuration: one TOML file and the environment, validated at start into a frozen, typed object.

Precedence: defaults < file < environment (``ZDTRIAGE_<SECTION>__<KEY>``) < command-line flags.
Secrets never live in the file: it names the environment variables (``token_env``, ``api_key_env``)
or the files (``token_file``, ``api_key_file``: systemd credentials, Docker secrets) that hold them;
a ``*_file`` wins over its ``*_env``. A relative path written in the file is relative to the file's
folder; one from a default, the environment or a flag to the working directory.
Every problem is a :class:`ConfigError` naming the key (and the variable that set it), so the CLI
can print one line and exit 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from . import config_sources as sources
from . import config_values as values
from .config_model import (
    DEFAULT_PATH,
    SECTIONS,
    ZENDESK_PRIORITIES,
    ZENDESK_TYPES,
    AnthropicConfig,
    BudgetConfig,
    Config,
    ConfigError,
    EvaluateConfig,
    MetricsConfig,
    PrivacyConfig,
    ScheduleConfig,
    StateConfig,
    TriageConfig,
    WritebackConfig,
    ZendeskConfig,
    keys,
)
from .config_values import (
    STATUSES,
    TAG,
    choice,
    expect,
    ids,
    integer,
    number,
    parse_duration,
    string,
    strings,
    url,
    zendesk_tags,
)
from .pricing import PRICES, price_for

# the configuration's public module: the dataclasses and a few helpers live in config_model/config_values and are
# re-exported from here, where callers import them
__all__ = [
    "DEFAULT_PATH", "KNOWLEDGE_MAX_BYTES", "KNOWLEDGE_MAX_CHARS", "PLACEHOLDER", "SECTIONS", "AnthropicConfig",
    "BudgetConfig", "Config", "ConfigError", "EvaluateConfig", "MetricsConfig", "PrivacyConfig", "ScheduleConfig",
    "StateConfig", "TriageConfig", "WritebackConfig", "ZendeskConfig", "keys", "load", "locate", "parse",
    "parse_duration", "resolve_path",
]

KNOWLEDGE_MAX_BYTES = 2 * 1024 * 1024
KNOWLEDGE_MAX_CHARS = 400_000  # about 100,000 tokens


def _section(raw: Mapping[str, Any], name: str, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    data = raw.get(name, {})
    if not isinstance(data, dict):
        raise ConfigError(name, "must be a table")
    allowed = keys(name)
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{name}.{key}", "unknown key")
    for key in required:
        if key not in data:
            raise ConfigError(f"{name}.{key}", f"is required (in the config file, or as {sources.env_name(name, key)})")
    return dict(data)


def parse(raw: Mapping[str, Any], environ: Mapping[str, str], *, need_secrets: bool = True,
          base: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Validate a parsed TOML document, overridden by ``ZDTRIAGE_<SECTION>__<KEY>`` variables of
    ``environ`` and then by ``overrides`` (dotted keys from command-line flags), and resolve secrets.

    Relative paths left in the document resolve against ``base`` (default: the working directory);
    :func:`load` has already resolved the file's own against the file's folder. With
    ``need_secrets=False`` a missing secret is no error and secret files are not read.
    """
    base = os.getcwd() if base is None else os.fspath(base)
    try:
        env_doc, origins = sources.environment_overrides(environ, {name: keys(name) for name in [*SECTIONS, "prices"]})
    except sources.SourceError as exc:
        raise ConfigError(exc.key, exc.message, exc.source) from None
    merged = sources.merge(raw, env_doc)
    if overrides:
        merged = sources.merge(merged, sources.dotted(overrides))
        origins.update({key: "a command-line option" for key in overrides})
    try:
        return _build(merged, environ, need_secrets=need_secrets, base=base)
    except ConfigError as exc:
        source = _origin(exc.key, origins)
        if source and not exc.source:
            raise ConfigError(exc.key, exc.message, source) from None
        raise


PLACEHOLDER = "CHANGE-ME"  # marks the values `config init` cannot know; nothing runs until they are replaced


def _refuse_placeholders(raw: Mapping[str, Any]) -> None:
    for name, section in raw.items():
        for key, value in (section.items() if isinstance(section, dict) else ()):
            if isinstance(value, str) and PLACEHOLDER in value:
                raise ConfigError(f"{name}.{key}", f"still holds the placeholder {value!r} written by `zdtriage config "
                                                   "init`: replace it with your account's value")


def _origin(key: str, origins: Mapping[str, str]) -> str | None:
    while key:
        if key in origins:
            return origins[key]
        key = key.rpartition(".")[0]
    return None


def _build(raw: Mapping[str, Any], environ: Mapping[str, str], *, need_secrets: bool, base: str) -> Config:
    for name in raw:
        if name not in SECTIONS and name != "prices":
            raise ConfigError(name, "unknown section")
    _refuse_placeholders(raw)
    warnings: list[str] = []

    own_prices = values.prices(raw.get("prices", {}))
    table = {**PRICES, **dict(own_prices)}

    z = _section(raw, "zendesk", required=("subdomain",))
    subdomain = string("zendesk.subdomain", z["subdomain"])
    if not re.match(r"^[a-z0-9][a-z0-9-]*$", subdomain):
        raise ConfigError("zendesk.subdomain", f"expected the part before .zendesk.com, got {subdomain!r}")
    auth = choice("zendesk.auth", z.get("auth", "token"), ("token", "oauth"))
    if auth == "token" and "email" not in z:
        raise ConfigError("zendesk.email", "is required with an API token (in the config file, or as "
                                           f"{sources.env_name('zendesk', 'email')}); OAuth needs none")
    email = string("zendesk.email", z.get("email", ""), empty=auth == "oauth")
    if email and "@" not in email:
        raise ConfigError("zendesk.email", f"expected an e-mail address, got {email!r}")
    start = z.get("start")
    if start is not None:
        from .timeutil import parse_time  # local: keeps config importable without the rest

        try:
            parse_time(string("zendesk.start", start))
        except ValueError:
            raise ConfigError(
                "zendesk.start", f"expected an ISO-8601 time like 2026-11-01T00:00:00Z, got {start!r}"
            ) from None
    token_env, token_file, token = _secret("zendesk", "token", z, "ZENDESK_API_TOKEN", environ, need_secrets, warnings,
                                           base)
    zendesk = ZendeskConfig(
        subdomain=subdomain,
        email=email,
        token_env=token_env,
        url=url("zendesk.url", z["url"]) if "url" in z else None,
        start=start,
        updates_per_minute=integer("zendesk.updates_per_minute", z.get("updates_per_minute", 100), 1, 10_000),
        verify_after=parse_duration("zendesk.verify_after", z.get("verify_after", "11m")),
        token_file=token_file,
        auth=auth,
        export_requests_per_minute=integer("zendesk.export_requests_per_minute",
                                           z.get("export_requests_per_minute", 10), 1, 100),
        account_share=number("zendesk.account_share", z.get("account_share", 0.5), 0, 1,
                             "a share of the account's API limit, e.g. 0.5", above_low=True),
        token=token,
    )

    a = _section(raw, "anthropic")
    api_key_env, api_key_file, api_key = _secret("anthropic", "api_key", a, "ANTHROPIC_API_KEY", environ, need_secrets,
                                                 warnings, base)
    model = string("anthropic.model", a.get("model", AnthropicConfig.model))
    try:
        price_for(model, table)
    except KeyError:
        raise ConfigError("anthropic.model", f"no price known for {model!r}: add [prices.\"{model}\"] input = …, "
                          f"output = … (known: {', '.join(sorted(table))})") from None
    anthropic = AnthropicConfig(
        api_key_env=api_key_env,
        model=model,
        max_tokens=integer("anthropic.max_tokens", a.get("max_tokens", AnthropicConfig.max_tokens), 64, 64000),
        base_url=url("anthropic.base_url", a["base_url"]) if "base_url" in a else None,
        max_attempts=integer("anthropic.max_attempts", a.get("max_attempts", AnthropicConfig.max_attempts), 1, 20),
        # the backoff doubles up to one hour: a first wait above that would never be used as given
        retry_backoff=parse_duration("anthropic.retry_backoff", a.get("retry_backoff", "1m"), maximum=3600.0),
        verify_after=parse_duration("anthropic.verify_after", a.get("verify_after", "2m")),
        api_key_file=api_key_file,
        api_key=api_key,
    )

    s = _section(raw, "schedule")
    schedule = ScheduleConfig(
        **{k: parse_duration(f"schedule.{k}", v) for k, v in s.items() if k.endswith("_every") or k == "max_wait"},
        min_batch=integer("schedule.min_batch", s.get("min_batch", 1), 1, 100_000),
    )

    triage = _triage(_section(raw, "triage"), base)

    b = _section(raw, "budget")
    budget = BudgetConfig(
        daily_usd=number(
            "budget.daily_usd", b.get("daily_usd", BudgetConfig.daily_usd), 0, 1e6, "a number of US dollars"
        ),
        monthly_usd=number(
            "budget.monthly_usd", b.get("monthly_usd", BudgetConfig.monthly_usd), 0, 1e7, "a number of US dollars"
        ),
    )

    pv = _section(raw, "privacy")
    kinds = strings("privacy.redact", pv.get("redact", []), allow_empty=True)
    if kinds:  # here: redact compiles its patterns as it is imported, and most configs redact nothing (issue 22)
        from .redact import KINDS as REDACT_KINDS

        for kind in kinds:
            if kind not in REDACT_KINDS:
                raise ConfigError("privacy.redact", f"{kind!r} is not one of {', '.join(REDACT_KINDS)}")
    drop = pv.get("drop_text_after_write", False)
    privacy = PrivacyConfig(redact=kinds, drop_text_after_write=expect("privacy.drop_text_after_write", drop, bool,
                                                                         "true or false"))

    st = _section(raw, "state")
    state = StateConfig(path=sources.absolute(string("state.path", st.get("path", StateConfig.path)), base),
                        keep_days=integer("state.keep_days", st.get("keep_days", StateConfig.keep_days), 0, 36_500))

    w = _section(raw, "writeback")
    writeback = WritebackConfig(mode=choice("writeback.mode", w.get("mode", "full"), ("full", "tags", "off")))

    evaluate = _evaluate(_section(raw, "evaluate"), triage)

    mt = _section(raw, "metrics")
    textfile = mt.get("textfile")
    if textfile is not None:
        if not string("metrics.textfile", textfile).endswith(".prom"):
            raise ConfigError(
                "metrics.textfile", f"node_exporter's textfile collector reads only *.prom files, got {textfile!r}"
            )
        textfile = sources.absolute(textfile, base)
    metrics = MetricsConfig(port=integer("metrics.port", mt.get("port", 0), 0, 65535),
                            host=string("metrics.host", mt.get("host", MetricsConfig.host)), textfile=textfile)

    return Config(zendesk=zendesk, anthropic=anthropic, schedule=schedule, triage=triage, budget=budget,
                  privacy=privacy, state=state, writeback=writeback, evaluate=evaluate, metrics=metrics,
                  prices=own_prices, warnings=tuple(warnings))


def _secret(section: str, name: str, data: Mapping[str, Any], default_env: str, environ: Mapping[str, str],
            need_secrets: bool, warnings: list[str], base: str) -> tuple[str, str | None, str]:
    """(variable name, file, secret) of one secret: ``<name>_file`` wins over ``<name>_env``."""
    env_key, file_key = f"{section}.{name}_env", f"{section}.{name}_file"
    variable = string(env_key, data.get(f"{name}_env", default_env))
    path = sources.absolute(string(file_key, data[f"{name}_file"]), base) if f"{name}_file" in data else None
    if path is not None:
        if not need_secrets:
            return variable, path, ""
        try:
            secret, warning = sources.read_secret_file(file_key, path)
        except sources.SourceError as exc:
            raise ConfigError(exc.key, exc.message) from None
        if warning:
            warnings.append(warning)
        if secret == PLACEHOLDER:  # deploy/kubernetes/secret.yaml applied as shipped
            raise ConfigError(file_key, f"{path} still holds the placeholder {PLACEHOLDER}: put the real secret there")
        return variable, path, secret
    secret = environ.get(variable, "")
    if need_secrets and not secret:
        raise ConfigError(
            env_key, f"environment variable {variable} is not set (or set {file_key} to a file holding it)"
        )
    if secret and (not secret.isprintable() or any(c.isspace() for c in secret)):
        raise ConfigError(
            env_key, f"environment variable {variable} holds a space or a line break: a secret is one line"
        )
    return variable, None, secret


def _triage(t: dict[str, Any], base: str) -> TriageConfig:
    prefix = string("triage.tag_prefix", t.get("tag_prefix", "ai_"))
    if not re.match(r"^[a-z0-9][a-z0-9_]*$", prefix):
        raise ConfigError("triage.tag_prefix", f"use lower-case letters, digits and _ only, got {prefix!r}")
    statuses = tuple(s.lower() for s in strings("triage.statuses", t.get("statuses", list(TriageConfig.statuses))))
    for status in statuses:
        if status not in STATUSES:
            raise ConfigError(
                "triage.statuses", f"{status!r} is not a Zendesk status one can triage ({', '.join(sorted(STATUSES))})"
            )
    native = t.get("native_priority", False)
    retriage = t.get("retriage", False)
    priorities = strings("triage.priorities", t.get("priorities", list(TriageConfig.priorities)), pattern=TAG)
    if native and len(priorities) != 4:
        raise ConfigError(
            "triage.native_priority", "needs exactly four priorities (mapped to urgent, high, normal, low)"
        )
    knowledge_file = (
        sources.absolute(string("triage.knowledge_file", t["knowledge_file"]), base) if "knowledge_file" in t else None
    )
    return TriageConfig(
        tag_prefix=prefix,
        priorities=priorities,
        categories=strings("triage.categories", t.get("categories", list(TriageConfig.categories)), pattern=TAG),
        sentiments=strings("triage.sentiments", t.get("sentiments", list(TriageConfig.sentiments)), pattern=TAG),
        native_priority=expect("triage.native_priority", native, bool, "true or false"),
        statuses=statuses,
        skip_tags=zendesk_tags("triage.skip_tags", t.get("skip_tags", list(TriageConfig.skip_tags))),
        max_input_tokens=integer("triage.max_input_tokens", t.get("max_input_tokens", 6000), 200, 150_000),
        retriage=expect("triage.retriage", retriage, bool, "true or false"),
        low_confidence=number(
            "triage.low_confidence", t.get("low_confidence", TriageConfig.low_confidence), 0, 1, "a number from 0 to 1"
        ),
        knowledge_file=knowledge_file,
        brands=ids("triage.brands", t.get("brands", [])),
        groups=ids("triage.groups", t.get("groups", [])),
        forms=ids("triage.forms", t.get("forms", [])),
        custom_statuses=ids("triage.custom_statuses", t.get("custom_statuses", [])),
        sample=number("triage.sample", t.get("sample", 1.0), 0, 1, "a share of tickets, e.g. 0.1", above_low=True),
        articles=integer("triage.articles", t.get("articles", TriageConfig.articles), 0, 10),
        article_tokens=integer(
            "triage.article_tokens", t.get("article_tokens", TriageConfig.article_tokens), 100, 20_000
        ),
        examples=integer("triage.examples", t.get("examples", TriageConfig.examples), 0, 100),
        suggest_macros=expect("triage.suggest_macros", t.get("suggest_macros", False), bool, "true or false"),
        knowledge=_knowledge(knowledge_file),
    )


def _evaluate(e: dict[str, Any], triage: TriageConfig) -> EvaluateConfig:
    category_field = e.get("category_field")
    if category_field is not None and category_field != "type" and (
            isinstance(category_field, bool) or not isinstance(category_field, int) or category_field < 1):
        raise ConfigError("evaluate.category_field", f"expected \"type\" or a custom ticket field id (a number), "
                                                     f"got {category_field!r}")
    category_map = values.pairs("evaluate.category_map", e.get("category_map", {}))
    if category_map and category_field is None:
        raise ConfigError("evaluate.category_map", "needs evaluate.category_field (the Zendesk field it maps)")
    for value, category in category_map:
        if category_field == "type" and value not in ZENDESK_TYPES:
            raise ConfigError(
                "evaluate.category_map", f"{value!r} is not a Zendesk ticket type ({', '.join(ZENDESK_TYPES)})"
            )
        if category not in triage.categories:
            raise ConfigError("evaluate.category_map", f"{category!r} (for {value!r}) is not one of triage.categories")
    if "priority_map" in e:
        priority_map = values.pairs("evaluate.priority_map", e["priority_map"])
    else:
        n = len(triage.priorities)
        # Zendesk's four levels spread in order over the configured ones: P1..P4 when there are four
        priority_map = tuple((z, triage.priorities[round(i * (n - 1) / 3)]) for i, z in enumerate(ZENDESK_PRIORITIES))
    for value, priority in priority_map:
        if value not in ZENDESK_PRIORITIES:
            raise ConfigError(
                "evaluate.priority_map", f"{value!r} is not a Zendesk priority ({', '.join(ZENDESK_PRIORITIES)})"
            )
        if priority not in triage.priorities:
            raise ConfigError("evaluate.priority_map", f"{priority!r} (for {value!r}) is not one of triage.priorities")
    return EvaluateConfig(category_field=category_field, category_map=category_map, priority_map=priority_map)


def _knowledge(path: str | None) -> str:
    if path is None:
        return ""
    try:
        data = sources.read_regular_file(path, limit=KNOWLEDGE_MAX_BYTES).data
        text = data.decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            "triage.knowledge_file", f"cannot read {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("triage.knowledge_file", f"{path} is not UTF-8 text") from None
    except ValueError as exc:
        raise ConfigError("triage.knowledge_file", f"{path} {exc}") from None
    if len(text) > KNOWLEDGE_MAX_CHARS:
        raise ConfigError(
            "triage.knowledge_file", f"is larger than {KNOWLEDGE_MAX_CHARS:,} characters (about 100,000 tokens)"
        )
    return text.strip()


def resolve_path(path: str | None, environ: Mapping[str, str]) -> str:
    """The config path: ``--config``, then ``$ZDTRIAGE_CONFIG``, then ``config/zdtriage.toml``."""
    # plain strings and os.path here and in load(): pathlib's import was a tenth of `status`'s own start-up
    return path or environ.get("ZDTRIAGE_CONFIG") or DEFAULT_PATH


def locate(path: str | None, environ: Mapping[str, str]) -> str | None:
    """The config file to read, or ``None`` for a configuration from the environment alone.

    An explicit ``--config`` or ``$ZDTRIAGE_CONFIG`` is always read (missing is an error). Without
    either, ``config/zdtriage.toml`` is read when it exists; when it does not and some
    ``ZDTRIAGE_<SECTION>__<KEY>`` variable is set, there is no file.
    """
    chosen = resolve_path(path, environ)
    if path or environ.get("ZDTRIAGE_CONFIG") or os.path.exists(chosen):
        return chosen
    if any(name.startswith(sources.PREFIX) and "__" in name for name in environ):
        return None
    return chosen


def load(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None, *, need_secrets: bool = True,
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Read and validate the TOML file at ``path`` (``None``: the environment alone) with the
    environment and ``overrides`` over it; raises :class:`ConfigError`."""
    environ = os.environ if environ is None else environ
    if path is None:
        return parse({}, environ, need_secrets=need_secrets, overrides=overrides)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} not found (pass --config, set ZDTRIAGE_CONFIG, run `zdtriage config "
                              "init`, or configure through ZDTRIAGE_<SECTION>__<KEY> variables)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{path} is not valid TOML: {exc}") from None
    raw = sources.resolve_paths(raw, os.path.dirname(os.path.abspath(path)))
    return parse(raw, environ, need_secrets=need_secrets, overrides=overrides)
