"""The ``zdtriage`` commands around the service: ``config init/check``, ``evaluate``, ``demo`` and ``sim``.
Registered on the group in ``cli``."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import click

from .cli_common import UsageProblem, context, emit, load_config
from .timeutil import parse_time


def _first_help_center_read(pctx: Any) -> None:
    """Articles for an evaluation on a state the daemon has not filled yet: one Help Center read (a few calls)."""
    from . import store
    from .stages import helpcenter

    if store.get_sync(pctx.db, "helpcenter:synced_at") is None:
        helpcenter.sync(pctx)


@click.command()
@click.option("--since", help="Solved and closed tickets changed since this date (ISO-8601).")
@click.option("--limit", type=click.IntRange(min=1, max=5000), default=500, show_default=True,
              help="At most this many tickets (one Message Batch).")
@click.option("--yes", is_flag=True, help="Do not ask before spending.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option(
    "--articles/--no-articles", default=None, help="With or without Help Center articles (default: as configured)."
)
@click.option(
    "--examples/--no-examples", default=None, help="With or without agents' examples (default: as configured)."
)
@click.pass_context
def evaluate(ctx: click.Context, since: str | None, limit: int, yes: bool, as_json: bool,
             articles: bool | None = None, examples: bool | None = None) -> None:
    """Triage solved tickets read-only and compare with what agents set: accuracy, confusion matrix, cost.

    Nothing is written to Zendesk; the spend counts against the budget. Run it again after an
    interruption to resume; after a prompt or model change, both evaluations are shown side by side.
    """
    from pathlib import Path

    from . import evaluate as evaluation
    from . import quality
    from .daemon import AlreadyRunning, single_instance
    from .store import StoreError

    start = None
    if since:
        try:
            start = parse_time(since)
        except ValueError:
            raise UsageProblem(f"--since: expected a date like 2026-11-01, got {since!r}") from None
        if start > time.time() - 60:
            raise UsageProblem(f"--since: {since} is not in the past (Zendesk exports nothing newer than a minute)")
    cfg = load_config(ctx)
    if articles is not None or examples is not None:  # side by side: each variant has its own prompt fingerprint
        from dataclasses import replace

        from .config_model import TriageConfig

        t = cfg.triage
        cfg = replace(cfg, triage=replace(
            t, articles=t.articles if articles is None else (t.articles or TriageConfig.articles) if articles else 0,
            examples=t.examples if examples is None else (t.examples or TriageConfig.examples) if examples else 0))
    try:
        settings = quality.settings_from(cfg)
    except quality.QualityError as exc:
        raise UsageProblem(f"config: {exc}") from None
    shown: dict[str, Any] = {}

    def ask(plan: Any) -> bool:
        shown.update(plan.as_dict())
        click.echo(evaluation.describe(plan, cfg.anthropic.model), err=True)
        if yes:
            return True
        try:
            return click.confirm("Send them as a Message Batch?", default=False, err=True)
        except click.Abort:
            raise UsageProblem("no answer to the question: pass --yes to run without asking") from None

    fresh = not Path(cfg.state.path).exists()
    opened: list[Any] = []
    try:
        with single_instance(f"{cfg.state.path}.evaluate"):
            pctx = context(cfg)
            opened.append(pctx.db)
            if cfg.triage.articles and pctx.db is not None:
                _first_help_center_read(pctx)
            result = evaluation.run(pctx, settings, since=start, limit=limit, confirm=ask,
                                    progress=lambda line: click.echo(line, err=True))
    except AlreadyRunning:
        raise UsageProblem("another `zdtriage evaluate` is running on this state database") from None
    except StoreError as exc:  # the state folder not ours to write
        raise click.ClickException(str(exc)) from None
    except evaluation.EvaluateError as exc:
        raise (UsageProblem if exc.usage else click.ClickException)(str(exc)) from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: a batch already created keeps running; "
                                   "`zdtriage evaluate` picks it up again") from None
    finally:
        if fresh:  # declined, refused or failed before anything was sent: leave no state database behind
            _discard_unused(cfg.state.path, opened[0] if opened else None)
    if result is None:
        emit({"sent": False, "estimate": shown}, as_json, "Nothing was sent.")
        return
    text = quality.render(result["evaluation"])
    if result["evaluation_before"]:
        text += "\n\nBefore and after the model or prompt change:\n" + quality.render_side_by_side(
            result["evaluation"], result["evaluation_before"])
    emit({"sent": True, "estimate": shown, **result}, as_json, text)



def _discard_unused(path: str, db: Any) -> None:
    from pathlib import Path  # here: every command's start-up pays for this module's imports

    if db is not None:
        if next(db.query("select count(*) as n from evaluations"))["n"]:
            return  # a batch was created: the database is what resumes it
        db.close()
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}.evaluate.lock"):
        Path(name).unlink(missing_ok=True)


@click.group("config")
def config_group() -> None:
    """Configuration commands."""


@config_group.command("init")
@click.option("--path", "target", type=click.Path(dir_okay=False), default=None,
              help="Where to write it (default: --config, then $ZDTRIAGE_CONFIG, then config/zdtriage.toml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def config_init(ctx: click.Context, target: str | None, force: bool) -> None:
    """Write the commented example config to start from (never overwrites without --force)."""
    from importlib.resources import files
    from pathlib import Path

    from . import config as config_mod

    path = Path(target or config_mod.resolve_path(ctx.find_root().obj.get("config_path"), os.environ))
    if path.exists() and not force:
        raise UsageProblem(f"{path} exists; pass --force to overwrite it")
    example = files("zdtriage").joinpath("data/zdtriage.example.toml").read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(example, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(
        f"wrote {path}: replace the CHANGE-ME of zendesk.subdomain and zendesk.email, export the secrets it names, "
        "then run `zdtriage config check`"
    )


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and print it with secrets masked (file, environment, where values came from)."""
    from . import config as config_mod

    root = ctx.find_root()
    cfg = load_config(root, warn=False)  # printed below, whatever the log level
    path = config_mod.locate(root.obj.get("config_path"), os.environ)
    variables = sorted(n for n in os.environ if n.startswith("ZDTRIAGE_") and "__" in n)
    click.echo(f"# file: {os.path.abspath(path) if path else '(none: environment only)'}")
    if variables:
        click.echo(f"# from the environment: {', '.join(variables)}")
    click.echo("")
    click.echo(toml_text(cfg.masked()))
    for warning in cfg.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    click.echo("# config OK")


DURATIONS = {"zendesk": ("verify_after",), "anthropic": ("retry_backoff", "verify_after"), "schedule": ("max_wait",)}


def _toml_key(key: str) -> str:  # a bare key is ASCII letters, digits, _ and -; anything else is quoted
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are written alike in JSON and TOML


def toml_text(sections: dict[str, dict[str, Any]]) -> str:
    """The masked configuration as TOML that reads back (``config check``): durations as a person writes them
    ("11m", not 660.0), unset keys as comments."""
    from .config_values import human

    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                lines.append(f"# {key} = (not set)")
            elif key in DURATIONS.get(section, ()) or (section == "schedule" and key.endswith("_every")):
                lines.append(f'{key} = "{human(value)}"')
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


@click.command()
@click.option("--tickets", type=click.IntRange(min=1, max=100_000), default=200, show_default=True,
              help="Tickets to seed; past a few hundred the simulated write allowance sets the pace (300 a minute).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="Keep the demo's files here.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def demo(tickets: int, seed: int, workdir: str | None, as_json: bool) -> None:
    """Triage simulated tickets end to end: no account, no network."""
    from pathlib import Path

    from .demo import run_demo

    result = run_demo(tickets=tickets, seed=seed, workdir=Path(workdir) if workdir else None, quiet=as_json)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    if not result["ok"]:
        raise click.ClickException(result["problem"])


@click.command()
@click.option("--zendesk-port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--anthropic-port", type=click.IntRange(0, 65535), default=8766, show_default=True)
@click.option("--tickets", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--processing-seconds", type=float, default=5.0, show_default=True, help="How long a batch takes.")
@click.option("--print-config", is_flag=True, help="Print a config for `zdtriage run` against the simulators "
                                                   "(default ports) and exit: zdtriage sim --print-config > sim.toml")
def sim(zendesk_port: int, anthropic_port: int, tickets: int, seed: int, processing_seconds: float,
        print_config: bool) -> None:
    """Run the Zendesk and Anthropic simulators on 127.0.0.1 until Ctrl-C."""
    if print_config:
        from importlib.resources import files

        text = files("zdtriage").joinpath("data/sim.toml").read_text(encoding="utf-8")
        for default, port in ((8765, zendesk_port), (8766, anthropic_port)):  # other ports: the config follows
            text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
        click.echo(text, nl=False)
        return
    from .sim.anthropic import AnthropicSim
    from .sim.zendesk import ZendeskSim

    zsim = ZendeskSim(port=zendesk_port, email="triage-bot@example.com", token="sim-token")
    asim = AnthropicSim(port=anthropic_port, api_key="sim-key", processing_seconds=processing_seconds)
    try:
        zurl, aurl = zsim.start(), asim.start()
    except OSError as exc:
        raise UsageProblem(
            f"cannot listen: {exc.strerror} (pick other ports with --zendesk-port/--anthropic-port)"
        ) from None
    zsim.seed(tickets, seed)
    click.echo(f"Zendesk simulator:   {zurl}   (email triage-bot@example.com, token sim-token)")
    click.echo(f"Anthropic simulator: {aurl}   (api key sim-key)")
    click.echo(f"{tickets} tickets seeded (seed {seed}). Inspect: {zurl}/_sim/tickets  {aurl}/_sim/batches")
    click.echo("Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        zsim.stop()
        asim.stop()
