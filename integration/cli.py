"""The ``zdtriage`` command line. The only place that turns errors into exit codes:
0 success, 2 bad configuration or usage (one line, no traceback), 1 anything else."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import config as config_mod
from . import pipeline, reports, store
from .config import Config, ConfigError
from .store import tickets as queue
from .timeutil import iso, parse_time


class UsageProblem(click.ClickException):
    exit_code = 2


def _load(ctx: click.Context, *, need_secrets: bool = True) -> Config:
    path = config_mod.resolve_path(ctx.obj.get("config_path"), os.environ)
    try:
        return config_mod.load(path, need_secrets=need_secrets)
    except ConfigError as exc:
        raise UsageProblem(f"config: {exc}") from None


def _open(cfg: Config, *, readonly: bool = False) -> Any:
    """The state database, or one line and exit 1 (missing, corrupt, read-only)."""
    try:
        return store.open_db(cfg.state.path, readonly=readonly)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _context(cfg: Config, *, clients: bool = True, readonly: bool = False) -> pipeline.Context:
    from . import batches, zendesk

    db = _open(cfg, readonly=readonly)
    ctx = pipeline.Context(config=cfg, db=db)
    if clients:
        ctx.zendesk = zendesk.make_client(cfg.zendesk)
        ctx.anthropic = batches.make_client(cfg.anthropic)
    return ctx


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, sort_keys=True) if as_json else text)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # the SDKs log request details at DEBUG only; keep their INFO chatter (and any header) out
    for noisy in ("httpx", "httpx2", "anthropic", "urllib3", "zenpy", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $ZDTRIAGE_CONFIG, then config/zdtriage.toml).")
@click.version_option(package_name="zendesk-batch-triage")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Triage Zendesk tickets with Claude through the Message Batches API."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@cli.command()
@click.option("--once", is_flag=True, help="Run every stage once (ingest, submit, poll, writeback) and exit.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def run(ctx: click.Context, once: bool, verbose: bool) -> None:
    """Run the service: every stage on its schedule until SIGTERM or Ctrl-C."""
    from .daemon import AlreadyRunning, log_summary, run_forever, single_instance

    cfg = _load(ctx)
    _setup_logging(verbose)
    try:
        with single_instance(cfg.state.path):
            pctx = _context(cfg)
            if once:
                pipeline.run_once(pctx, on_stage=log_summary)
            else:
                run_forever(pctx)
    except AlreadyRunning as exc:
        raise UsageProblem(str(exc)) from None
    except sqlite3.DatabaseError as exc:  # a database that breaks mid-run (disk full, corrupt page)
        raise click.ClickException(f"state database {cfg.state.path}: {exc}") from None


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Tickets per state, batches in flight, spend today, error rate, last problems."""
    cfg = _load(ctx, need_secrets=False)
    pctx = _context(cfg, clients=False, readonly=True)
    data = reports.status(pctx.db, cfg, time.time())
    lines = ["tickets: " + ", ".join(f"{k} {v}" for k, v in data["tickets"].items())]
    lines.append(f"batches open: {data['batches_open']}")
    for b in data["batches"]:
        warn = "  ALERT: open for more than 20 h" if b["alert"] else ""
        lines.append(f"  {b['batch_id'] or '(creating)'}  {b['requests']} requests  age {b['age_seconds'] // 60} min"
                     f"  expires in {b['expires_in_seconds'] // 3600} h{warn}")
    budget = f" of ${data['budget_daily_usd']:.2f}" if data["budget_daily_usd"] else " (no cap)"
    lines.append(f"spend today: ${data['spend_today_usd']:.4f} spent, ${data['reserved_today_usd']:.4f} reserved{budget}")
    if data["budget_monthly_usd"]:
        lines.append(f"spend this month: ${data['spend_month_usd']:.4f} of ${data['budget_monthly_usd']:.2f}")
    for alert in data["alerts"]:
        lines.append(f"ALERT: {alert}")
    lines.append(f"error rate: {data['error_rate']:.2%}")
    for stage, problem in data["problems"].items():
        lines.append(f"problem in {stage} since {problem['at']}: {problem['message']}")
    _emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--tickets", type=click.IntRange(min=1), help="Hypothetical number of tickets.")
@click.option("--input-tokens", type=click.IntRange(min=0), help="Input tokens per ticket (hypothetical).")
@click.option("--output-tokens", type=click.IntRange(min=0), help="Output tokens per ticket (hypothetical).")
@click.option("--exact", is_flag=True, help="Count input tokens with Anthropic's free count_tokens endpoint.")
@click.option("--per-minute", type=click.IntRange(min=1), default=100, show_default=True,
              help="Pace of count_tokens calls with --exact (the endpoint is rate-limited).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def estimate(ctx: click.Context, tickets: int | None, input_tokens: int | None, output_tokens: int | None,
             exact: bool, per_minute: int, as_json: bool) -> None:
    """Cost estimate for what is queued now, or for --tickets N --input-tokens I --output-tokens O."""
    from . import batches
    from .stages import submit as submit_stage

    if tickets is not None and (input_tokens is None or output_tokens is None):
        raise UsageProblem("--tickets needs --input-tokens and --output-tokens")
    if tickets is not None and exact:
        raise UsageProblem("--exact counts queued tickets; it does not apply to --tickets")
    cfg = _load(ctx, need_secrets=exact)
    if tickets is not None:
        data = reports.estimate(store.open_db(":memory:"), cfg, tickets=tickets, input_tokens=input_tokens,
                                output_tokens=output_tokens)
    else:
        pctx = _context(cfg, clients=False, readonly=True)
        client = batches.make_client(cfg.anthropic) if exact else None
        chars, counted, last = 0, 0, 0.0
        for _row, request, n in submit_stage.queued_requests(pctx):
            chars += n
            if client is not None:
                time.sleep(max(0.0, last + 60.0 / per_minute - time.monotonic()))
                last = time.monotonic()
                try:
                    counted += batches.count_tokens(client, request["params"])
                except batches.BatchError as exc:
                    raise click.ClickException(f"count_tokens: {exc}") from None
        data = reports.estimate(pctx.db, cfg, queued_chars=chars, exact_input_tokens=counted if exact else None)
    lines = [f"{'model':<20} {'tickets':>8} {'input tok':>12} {'output tok':>12} {'standard':>11} {'batch':>11} "
             f"{'per ticket':>11}"]
    for m in data["models"]:
        mark = " *" if m["configured"] else ""
        lines.append(f"{m['model']:<20} {m['tickets']:>8} {m['input_tokens']:>12} {m['output_tokens']:>12} "
                     f"${m['standard_usd']:>10.2f} ${m['batch_usd']:>10.2f} ${m['batch_usd_per_ticket']:>10.5f}{mark}")
    if tickets is None:
        source = "counted by count_tokens" if data["exact"] else (
            f"estimated at {data['chars_per_token']:.2f} characters per token"
            + (f" (measured on {data['calibrated_on_results']} results)" if data["calibrated_on_results"] else " (default)"))
        lines.append(f"* the configured model. Input {source}; output at max_tokens (worst case).")
        configured = next((m for m in data["models"] if m["configured"]), None)
        if configured and "expected_batch_usd" in configured:
            lines.append(f"  At the {configured['expected_output_tokens'] // max(configured['tickets'], 1)} output tokens "
                         f"per answer seen so far: ${configured['expected_batch_usd']:.2f} batch.")
    _emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--since", help="Only tickets changed since this date (ISO-8601).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def report(ctx: click.Context, since: str | None, as_json: bool) -> None:
    """Cost per ticket, submit-to-written time, error rate, counts per priority/category/sentiment."""
    if since:
        try:
            since = iso(parse_time(since))
        except ValueError:
            raise UsageProblem(f"--since: expected a date like 2026-11-01, got {since!r}") from None
    cfg = _load(ctx, need_secrets=False)
    data = reports.report(_open(cfg, readonly=True), cfg, since=since)
    t = data["submit_to_written_seconds"]
    lines = [
        f"tickets written: {data['tickets_written']}   dead: {data['tickets_dead']}",
        f"cost: ${data['cost_usd']:.4f}   per ticket: ${data['cost_per_ticket_usd']:.5f}",
        f"submit to written: median {t['median']} s, p95 {t['p95']} s",
        f"error rate: {data['error_rate']:.2%}",
    ]
    w = data["window"]
    lines.append(f"window: tickets done from {w['from'] or '-'} to {w['to'] or '-'}" + (
        f"; those done before {w['pruned_before']} were pruned (state.keep_days)" if w["pruned_before"] else ""))
    if data["error_rate"] > reports.ERROR_RATE_WARNING:
        lines.append("WARNING: error rate above 0.5 % — see `zdtriage status` and `zdtriage retry --dead`")
    for key in ("by_priority", "by_category", "by_sentiment"):
        lines.append(f"{key[3:]}: " + ", ".join(f"{k} {v}" for k, v in sorted(data[key].items())))
    if data["cache_hit_rate"] is not None:
        lines.append(f"prompt cache hit rate: {data['cache_hit_rate']:.1%} of input tokens")
    if data["draft_acceptance_rate"] is not None:
        lines.append(f"drafts used: {data['drafts_used']}, rejected: {data['drafts_rejected']} "
                     f"({data['draft_acceptance_rate']:.0%} accepted)")
    _emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--dead", is_flag=True, help="Also revive dead tickets.")
@click.option("--ticket", "tickets", type=int, multiple=True, help="Only these ticket ids (repeatable).")
@click.pass_context
def retry(ctx: click.Context, dead: bool, tickets: tuple[int, ...]) -> None:
    """Put failed (and with --dead, dead) tickets back in the queue."""
    cfg = _load(ctx, need_secrets=False)
    db = _open(cfg)
    with db.atomic():
        n = queue.retry(db, time.time(), dead=dead, ids=tickets)
    click.echo(f"{n} ticket(s) back in the queue")


@cli.command()
@click.option("--since", required=True, help="Queue tickets created since this date (ISO-8601).")
@click.pass_context
def backfill(ctx: click.Context, since: str) -> None:
    """Queue tickets created since DATE that were never triaged."""
    from . import zendesk as zd
    from .stages import conversations, ingest
    from .stages.common import to_epoch

    try:
        start = int(parse_time(since))
    except ValueError:
        raise UsageProblem(f"--since: expected a date like 2026-11-01, got {since!r}") from None
    cfg = _load(ctx)
    _setup_logging(False)
    from .daemon import AlreadyRunning, single_instance

    try:
        with single_instance(cfg.state.path):
            pctx = _context(cfg)
            queued = pages = 0
            cursor = None
            while True:
                try:
                    page = zd.fetch_ticket_page(pctx.zendesk, cursor=cursor, start_time=None if cursor else start)
                except zd.ZendeskRateLimited as exc:
                    click.echo(f"rate limited; waiting {exc.retry_after:.0f}s", err=True)
                    time.sleep(exc.retry_after)
                    continue
                fresh = [t for t in page["tickets"] if (to_epoch(t["created_at"]) or 0) >= start]
                with pctx.db.atomic():
                    queued += ingest.save_tickets(pctx, fresh)["queued"]
                pages += 1
                click.echo(f"page {pages}: {queued} queued so far", err=True)
                cursor = page["after_cursor"]
                if page["end_of_stream"] or not cursor:
                    break
            conversations.fetch_missing(pctx)
    except AlreadyRunning as exc:
        raise UsageProblem(f"{exc}; stop the service before a backfill") from None
    except zd.ZendeskError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{queued} ticket(s) queued")


@cli.group("config")
def config_group() -> None:
    """Configuration commands."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and print it with secrets masked."""
    cfg = _load(ctx.find_root())
    for section, values in cfg.masked().items():
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {json.dumps(value)}")
        click.echo("")
    click.echo("config OK")


@cli.command()
@click.option("--tickets", type=click.IntRange(min=1, max=100_000), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="Keep the demo's files here.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def demo(tickets: int, seed: int, workdir: str | None, as_json: bool) -> None:
    """Triage simulated tickets end to end: no account, no network."""
    from .demo import run_demo

    result = run_demo(tickets=tickets, seed=seed, workdir=Path(workdir) if workdir else None, quiet=as_json)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    if not result["ok"]:
        raise click.ClickException(result["problem"])


@cli.command()
@click.option("--zendesk-port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--anthropic-port", type=click.IntRange(0, 65535), default=8766, show_default=True)
@click.option("--tickets", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--processing-seconds", type=float, default=5.0, show_default=True, help="How long a batch takes.")
def sim(zendesk_port: int, anthropic_port: int, tickets: int, seed: int, processing_seconds: float) -> None:
    """Run the Zendesk and Anthropic simulators on 127.0.0.1 until Ctrl-C."""
    from .sim.anthropic import AnthropicSim
    from .sim.zendesk import ZendeskSim

    zsim = ZendeskSim(port=zendesk_port, email="triage-bot@example.com", token="sim-token")
    asim = AnthropicSim(port=anthropic_port, api_key="sim-key", processing_seconds=processing_seconds)
    try:
        zurl, aurl = zsim.start(), asim.start()
    except OSError as exc:
        raise UsageProblem(f"cannot listen: {exc.strerror} (pick other ports with --zendesk-port/--anthropic-port)") from None
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


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
