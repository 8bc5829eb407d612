"""What every ``zdtriage`` command shares: loading the config, opening the state, printing. Errors become
``click`` exceptions here (exit 2 for configuration and usage, 1 for the rest), nowhere else but the CLI."""

from __future__ import annotations

import importlib
import json
import logging
import os
from typing import TYPE_CHECKING, Any

import click

from . import logs

if TYPE_CHECKING:
    from . import store
    from .config import Config
    from .context import Context

# config, store and context are imported by the functions that need them: `zdtriage --version` needs none, and
# every command's start-up pays for what this module imports (issue 22)


class UsageProblem(click.ClickException):
    exit_code = 2


GLOBAL_OPTIONS = ("--config", "--log-format", "--log-level")
# command name → "module:attribute" of the commands kept in their own modules (Group.get_command)
LAZY = {"config": "cli_tools:config_group", "evaluate": "cli_tools:evaluate", "demo": "cli_tools:demo",
        "sim": "cli_tools:sim", "doctor": "cli_doctor:doctor", "resume": "cli_doctor:resume",
        "backup": "cli_admin:backup"}


class Group(click.Group):
    """The root group: a global option written after the command gets a hint instead of click's bare
    "No such option" (the admin's first try is often ``zdtriage run --config F``).

    The commands of :data:`LAZY` are imported when named, as click's "Lazily Loading Subcommands" does: every
    command's start-up paid for those modules and their options (issue 22). ``--help`` lists them all."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            module, _, attr = LAZY[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if exc.option_name not in GLOBAL_OPTIONS:
                raise
            where = exc.ctx.command_path.partition(" ")[2] if exc.ctx else "COMMAND"
            raise click.UsageError(f"{exc.option_name} is a global option: put {exc.option_name} before the command: "
                                   f"zdtriage {exc.option_name} {'F' if exc.option_name == '--config' else 'X'} "
                                   f"{where or 'COMMAND'}", exc.ctx) from None


def load_config(ctx: click.Context, *, need_secrets: bool = True, overrides: dict[str, Any] | None = None,
          warn: bool = True) -> Config:
    """The configuration (file, environment, then ``overrides``: dotted keys set by flags) or exit 2.

    Its warnings (a world-readable secret file) are logged unless ``warn`` is false.
    """
    from . import config as config_mod
    from .config import ConfigError

    root = ctx.find_root()
    path = config_mod.locate(root.obj.get("config_path"), os.environ)
    try:
        cfg = config_mod.load(path, need_secrets=need_secrets, overrides=overrides)
    except ConfigError as exc:
        raise UsageProblem(f"config: {exc}") from None
    logs.mask(cfg.zendesk.token, cfg.anthropic.api_key)
    if warn:
        for warning in cfg.warnings:
            logging.getLogger("zdtriage").warning("config: %s", warning, extra={"action": "config_warning"})
    return cfg


def open_state(cfg: Config, *, readonly: bool = False) -> Any:
    """The state database, or one line and exit 1 (missing, corrupt, read-only)."""
    from . import store

    try:
        return store.open_db(cfg.state.path, readonly=readonly)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def read_state(cfg: Config) -> store.ReadConnection:
    """The state database opened read-only without sqlite-utils (``status``, ``report``), or one line and exit 1
    (missing, corrupt, older version)."""
    from . import store

    try:
        return store.open_reader(cfg.state.path)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def context(cfg: Config, *, clients: bool = True, readonly: bool = False, on_zendesk_call: Any = None) -> Context:
    from . import batches
    from .context import Context  # not the pipeline: it imports every stage, and status needs none
    from .stages import account

    db = open_state(cfg, readonly=readonly)
    ctx = Context(config=cfg, db=db)
    if clients:
        ctx.zendesk = account.client(ctx, on_call=on_zendesk_call)  # the shared API limit paces; metrics count
        ctx.anthropic = batches.make_client(cfg.anthropic)
    return ctx


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, sort_keys=True) if as_json else text)


def setup_logging(verbose: bool) -> None:
    # the group set logging up from --log-format/--log-level; -v on a command means DEBUG
    obj = click.get_current_context().find_root().obj
    logs.setup(obj.get("log_format", "text"), "DEBUG" if verbose else obj.get("log_level", "INFO"))
