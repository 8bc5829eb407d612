"""The ``zdtriage`` command line. The only place that turns errors into exit codes:
0 success, 2 bad configuration or usage (one line, no traceback), 1 anything else."""

from __future__ import annotations

import gc
import sys
import time

import click

from . import logs
from .cli_common import Group, UsageProblem, context, emit, load_config, open_state, read_state, setup_logging
from .timeutil import iso, parse_time

# the store, the config and each command's own modules are imported by the commands that use them: every
# command's start-up pays for what this module imports, and `zdtriage --version` needs none of them (issue 22);
# the commands of cli_tools, cli_doctor and cli_admin are imported when named (cli_common.LAZY)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click.version_option's message, with the version read without importlib.metadata (issue 22)
    if not value or ctx.resilient_parsing:
        return
    from . import installed_version

    click.echo(f"{ctx.find_root().info_name}, version {installed_version()}", color=ctx.color)
    ctx.exit()


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $ZDTRIAGE_CONFIG, then config/zdtriage.toml; without either, the "
                   "environment alone).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), envvar="ZDTRIAGE_LOG_FORMAT", default="text",
              show_default=True, show_envvar=True, help="Log lines on stderr as text or as JSON objects.")
@click.option("--log-level", type=click.Choice(logs.LEVELS, case_sensitive=False), envvar="ZDTRIAGE_LOG_LEVEL",
              default="INFO", show_default=True, show_envvar=True, help="Lowest level logged.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str, log_level: str) -> None:
    """Triage Zendesk tickets with Claude through the Message Batches API."""
    ctx.ensure_object(dict)
    ctx.obj.update(config_path=config_path, log_format=log_format, log_level=log_level.upper())
    logs.setup(log_format, log_level)


@cli.command()
@click.option("--once", is_flag=True, help="Run every stage once (ingest, submit, poll, writeback) and exit; "
                                          "exit 1 when a stage failed.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus /metrics and /healthz on this port (metrics.port; metrics.host, default "
                   "127.0.0.1). Not with --once.")
@click.option("--metrics-textfile", type=click.Path(dir_okay=False), default=None,
              help="Write the metrics to this *.prom file after each stage, for node_exporter (metrics.textfile).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def run(ctx: click.Context, once: bool, metrics_port: int | None, metrics_textfile: str | None, verbose: bool) -> None:
    """Run the service: every stage on its schedule until SIGTERM or Ctrl-C."""
    import sqlite3

    from . import pipeline, store
    from .daemon import AlreadyRunning, log, reporter, run_forever, single_instance
    from .metrics import Metrics

    if once and metrics_port:
        raise UsageProblem("--metrics-port serves the daemon's metrics; with --once use --metrics-textfile")
    overrides = {
        k: v for k, v in (("metrics.port", metrics_port), ("metrics.textfile", metrics_textfile)) if v is not None
    }
    cfg = load_config(ctx, overrides=overrides)
    setup_logging(verbose)
    metrics = Metrics(cfg) if (cfg.metrics.port and not once) or cfg.metrics.textfile else None
    try:
        with single_instance(cfg.state.path):
            pctx = context(cfg, on_zendesk_call=metrics.zendesk_call if metrics else None)
            pipeline.settle_heap()  # the set-up's objects out of every later full collection (issue 22)
            if once:
                failed = pipeline.failed(pipeline.run_once(pctx, on_stage=reporter(metrics)))
                if failed:  # each was logged as it ended; one more line (JSON too) for the exit status
                    log.error("%d stage(s) failed: %s", len(failed), "; ".join(failed)[:500],
                              extra={"action": "run_once_failed"})
                    ctx.exit(1)
            else:
                run_forever(pctx, metrics=metrics)
    except AlreadyRunning as exc:
        raise UsageProblem(str(exc)) from None
    except store.StoreError as exc:  # the state folder not ours to write (its lock file)
        raise click.ClickException(str(exc)) from None
    except sqlite3.DatabaseError as exc:  # a database that breaks mid-run (disk full, corrupt page)
        raise click.ClickException(f"state database {cfg.state.path}: {exc}") from None
    except OSError as exc:  # the metrics port taken, or not ours to bind; else say the file it was about
        if cfg.metrics.port and not once:
            raise click.ClickException(
                f"metrics on {cfg.metrics.host}:{cfg.metrics.port}: {exc.strerror or exc}"
            ) from None
        raise click.ClickException(f"{exc.filename or 'run'}: {exc.strerror or exc}") from None


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--check", is_flag=True, help="Health for supervisors: exit 0 healthy, 1 not, with one line saying why.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, check: bool) -> None:
    """Tickets per state, batches in flight, spend today, error rate, last problems, dead tickets, holds."""
    from . import health

    cfg = load_config(ctx, need_secrets=False, warn=not check)
    if check:  # a missing or unreadable database is unhealthy too, in the same one line
        body = health.probe(cfg, time.time())
        emit(body, as_json, f"{'healthy' if body['healthy'] else 'unhealthy'}: {body['reason']}")
        ctx.exit(0 if body["healthy"] else 1)
    from . import reports

    db = read_state(cfg)  # no pipeline context, no sqlite-utils: status imports no stage
    now = time.time()
    data = reports.status(db, cfg, now)
    verdict = health.check(db, cfg, now)
    data.update(health={"healthy": verdict.healthy, "reason": verdict.reason, "problems": list(verdict.problems)},
                dead_tickets=health.recent_dead(db), budget_hold=health.budget_hold(db))
    lines = [verdict.line(), "tickets: " + ", ".join(f"{k} {v}" for k, v in data["tickets"].items())]
    lines.append(f"batches open: {data['batches_open']}")
    for b in data["batches"]:
        warn = "  ALERT: open for more than 20 h" if b["alert"] else ""
        lines.append(f"  {b['batch_id'] or '(creating)'}  {b['requests']} requests  age {b['age_seconds'] // 60} min"
                     f"  expires in {b['expires_in_seconds'] // 3600} h{warn}")
    budget = f" of ${data['budget_daily_usd']:.2f}" if data["budget_daily_usd"] else " (no cap)"
    lines.append(
        f"spend today: ${data['spend_today_usd']:.4f} spent, ${data['reserved_today_usd']:.4f} reserved{budget}"
    )
    if data["budget_monthly_usd"]:
        lines.append(f"spend this month: ${data['spend_month_usd']:.4f} of ${data['budget_monthly_usd']:.2f}")
    for alert in data["alerts"]:
        lines.append(f"ALERT: {alert}")
    finished = data["tickets"].get("written", 0) + data["tickets"].get("dead", 0)
    lines.append(f"error rate: {data['error_rate']:.2%}" if finished else "error rate: n/a (no ticket finished yet)")
    seen = data["zendesk_limit"]
    if seen:
        lines.append(f"Zendesk API limit: {seen['remaining']} of {seen['limit']} a minute left, seen "
                     f"{seen['age_seconds']} s ago; we made {seen['used_last_minute']} call(s) in the last minute "
                     f"(at most {cfg.zendesk.account_share:g} of the limit)")
    lines.append((f"comment events read up to {data['event_lag_seconds'] // 60} min ago; " if data["events_read"]
                  else "comment events: not yet read; ")
                 + f"{data['queued_not_ready']} queued ticket(s) wait for their conversation")
    if data["submit_held"]:
        held = data["submit_held"]
        lines.append(f"SUBMIT HELD since {held['since']} (next try {held['until']}): {held['reason']}")
        lines.append(f"  {health.RESUME_HINT}")
    if data["budget_hold"]:
        hold = data["budget_hold"]
        ids = ", ".join(str(i) for i in hold["ticket_ids"])
        lines.append(f"BUDGET HOLD since {hold['since']}: {hold['reason']}" + (f" (tickets {ids}, …)" if ids else ""))
    for stage, problem in data["problems"].items():
        lines.append(f"problem in {stage} since {problem['at']}: {problem['message']}")
    dead = data["dead_tickets"]
    if dead["total"]:
        lines.append(f"dead tickets: {dead['total']} (`zdtriage retry --dead` revives them); latest:")
        lines += [f"  {d['id']}  {d['at']}  {d['reason']}" for d in dead["latest"]]
    emit(data, as_json, "\n".join(lines))


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
    from . import batches, reports, store
    from .stages import submit as submit_stage

    if tickets is not None and (input_tokens is None or output_tokens is None):
        raise UsageProblem("--tickets needs --input-tokens and --output-tokens")
    if tickets is not None and exact:
        raise UsageProblem("--exact counts queued tickets; it does not apply to --tickets")
    cfg = load_config(ctx, need_secrets=exact)
    if tickets is not None:
        data = reports.estimate(store.open_db(":memory:"), cfg, tickets=tickets, input_tokens=input_tokens,
                                output_tokens=output_tokens)
    else:
        pctx = context(cfg, clients=False, readonly=True)
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
            + (f" (measured on {data['calibrated_on_results']} results)" if data["calibrated_on_results"]
               else " (default)"))
        lines.append(f"* the configured model. Input {source}; output at max_tokens (worst case).")
        configured = next((m for m in data["models"] if m["configured"]), None)
        if configured and "expected_batch_usd" in configured:
            lines.append(
                f"  At the {configured['expected_output_tokens'] // max(configured['tickets'], 1)} output tokens "
                f"per answer seen so far: ${configured['expected_batch_usd']:.2f} batch."
            )
    emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--since", help="Only tickets changed since this date (ISO-8601).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def report(ctx: click.Context, since: str | None, as_json: bool) -> None:
    """Cost per ticket, submit-to-written time, error rate, counts per priority/category/sentiment."""
    from . import observe, reports

    if since:
        try:
            since = iso(parse_time(since))
        except ValueError:
            raise UsageProblem(f"--since: expected a date like 2026-11-01, got {since!r}") from None
    cfg = load_config(ctx, need_secrets=False)
    data = reports.report(read_state(cfg), cfg, since=since)
    t = data["submit_to_written_seconds"]
    w = data["window"]
    if data["tickets_written"] + data["tickets_dead"] == 0:  # nothing to measure: say so, not "None s"
        lines = [f"no ticket written or given up yet{f' since {since}' if since else ''}" + (
            f" (those done before {w['pruned_before']} were pruned: state.keep_days)" if w["pruned_before"] else "")]
    else:
        lines = [
            f"tickets written: {data['tickets_written']}   dead: {data['tickets_dead']}",
            f"cost: ${data['cost_usd']:.4f}   per ticket: ${data['cost_per_ticket_usd']:.5f}",
            f"submit to written: median {t['median']} s, p95 {t['p95']} s" if t["median"] is not None
            else "submit to written: n/a (no submit time kept)",
            f"error rate: {data['error_rate']:.2%}",
        ]
        lines.append(f"window: tickets done from {w['from'] or '-'} to {w['to'] or '-'}" + (
            f"; those done before {w['pruned_before']} were pruned (state.keep_days)" if w["pruned_before"] else ""))
        if data["error_rate"] > reports.ERROR_RATE_WARNING:
            lines.append("WARNING: error rate above 0.5 % — see `zdtriage status` and `zdtriage retry --dead`")
        for key in ("by_priority", "by_category", "by_sentiment"):
            lines.append(f"{key[3:]}: " + ", ".join(f"{k} {v}" for k, v in sorted(data[key].items())))
    pending = data["answered_not_written"]
    if pending["tickets"]:
        lines.append(f"answered, not written (yet, or writeback.mode = off): {pending['tickets']} — "
                     + "; ".join(", ".join(f"{k} {v}" for k, v in sorted(pending[key].items()))
                                 for key in ("by_priority", "by_category", "by_sentiment")))
    if data["cache_hit_rate"] is not None:
        lines.append(f"prompt cache hit rate: {data['cache_hit_rate']:.1%} of input tokens")
    if data["draft_acceptance_rate"] is not None:
        lines.append(f"drafts used: {data['drafts_used']}, rejected: {data['drafts_rejected']} "
                     f"({data['draft_acceptance_rate']:.0%} accepted)")
    lines += observe.report_lines(data)
    emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--dead", is_flag=True, help="Also revive dead tickets.")
@click.option("--ticket", "tickets", type=int, multiple=True, help="Only these ticket ids (repeatable).")
@click.pass_context
def retry(ctx: click.Context, dead: bool, tickets: tuple[int, ...]) -> None:
    """Put failed (and with --dead, dead) tickets back in the queue."""
    from pathlib import Path

    from .store import tickets as queue

    cfg = load_config(ctx, need_secrets=False)
    if not Path(cfg.state.path).exists():  # nothing to retry, and no empty database left behind
        raise click.ClickException(f"no state database at {cfg.state.path}: nothing to retry (check state.path)")
    db = open_state(cfg)
    known = queue.rows_by_id(db, list(tickets))
    with db.atomic():
        n = queue.retry(db, time.time(), dead=dead, ids=tickets)
    click.echo(f"{n} ticket(s) back in the queue")
    for ticket_id in dict.fromkeys(tickets):  # each one named that was not put back, and why
        row = known.get(ticket_id)
        if row is None:
            click.echo(f"ticket {ticket_id}: not in the state database (never ingested, or pruned)", err=True)
        elif row["state"] not in (("failed", "dead") if dead else ("failed",)):
            hint = " (pass --dead to revive it)" if row["state"] == "dead" else ""
            click.echo(f"ticket {ticket_id}: {row['state']}, not retried{hint}", err=True)
    if tickets and n == 0:
        ctx.exit(1)


@cli.command()
@click.option("--since", required=True, help="Queue tickets created since this date (ISO-8601).")
@click.pass_context
def backfill(ctx: click.Context, since: str) -> None:
    """Queue tickets created since DATE that were never triaged."""
    from . import store
    from . import zendesk as zd
    from .stages import conversations, ingest
    from .stages.common import to_epoch
    from .store import pace

    try:
        start = int(parse_time(since))
    except ValueError:
        raise UsageProblem(f"--since: expected a date like 2026-11-01, got {since!r}") from None
    if start > time.time() - 60:
        raise UsageProblem(f"--since: {since} is not in the past (Zendesk exports nothing newer than a minute)")
    cfg = load_config(ctx)
    setup_logging(False)
    from .daemon import AlreadyRunning, single_instance

    try:
        with single_instance(cfg.state.path):
            pctx = context(cfg)
            queued = pages = 0
            cursor = None
            while True:
                # the export budget is the account's: wait for room rather than take it from the daemon
                while not pace.take(pctx.db, "export", time.time(), cfg.zendesk.export_requests_per_minute):
                    time.sleep(max(pace.free_at(pctx.db, "export", time.time(),
                                                cfg.zendesk.export_requests_per_minute) - time.time(), 0.2))
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
            conversations.read_one_by_one(pctx)  # older histories; the service reads the rest as it runs
    except AlreadyRunning as exc:
        raise UsageProblem(f"{exc}; stop the service before a backfill") from None
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except zd.ZendeskError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{queued} ticket(s) queued")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        # On the way out the interpreter collects every cycle the imports made (module dicts, functions, classes),
        # only to free memory the process gives back anyway: 7 % of `zdtriage status`'s instructions (issue 22).
        # Frozen, those objects are left to the exit; atexit handlers (logging's flush) and the modules' own
        # teardown still run, and what was not in a cycle is still freed.
        gc.freeze()
