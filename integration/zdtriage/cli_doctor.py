"""``zdtriage doctor`` (check the live account before going live) and ``zdtriage resume`` (clear an account
hold). Registered on the group in ``cli``; the rules are in ``doctor``, the calls in ``zendesk_admin``."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click

from .cli_common import UsageProblem, emit, load_config, open_state
from .timeutil import iso

if TYPE_CHECKING:  # imported by the commands: every command's start-up pays for this module's imports
    from . import doctor as dr
    from .config import Config

PROBE = [{"role": "user", "content": "ping"}]  # what the free token count is asked about


def _zendesk_checks(cfg: Config, client: Any, now: float) -> tuple[list[dr.Check], dict[str, Any]]:
    """Every Zendesk check, read-only; also returns what --fix needs (the user and the triggers)."""
    from . import doctor as dr
    from . import zendesk as zd
    from . import zendesk_admin as za

    seen: dict[str, Any] = {"user": None, "triggers": None}
    try:
        user = za.fetch_account_user(client)
    except zd.ZendeskError as exc:
        return [dr.check_user(None, str(exc), cfg.zendesk.email or "(oauth token)")], seen
    seen["user"] = user
    checks = [dr.check_user(user, None, cfg.zendesk.email or ""), dr.check_rate_limit(user)]
    try:
        za.probe_export(client, int(now) - 3600)
        checks.append(dr.check_export(None, None))
    except zd.ZendeskAuthError as exc:
        checks.append(dr.check_export(str(exc), za.refused_status(exc)))
    except zd.ZendeskError as exc:
        checks.append(dr.check_export(str(exc), None))
    try:
        seen["triggers"] = za.fetch_triggers(client)
        checks += dr.check_triggers(seen["triggers"], None, user["id"])
    except zd.ZendeskAuthError as exc:
        checks += dr.check_triggers(
            None, f"refused ({za.refused_status(exc) or '?'}): triggers are for admins", user["id"]
        )
    except zd.ZendeskError as exc:
        checks += dr.check_triggers(None, str(exc), user["id"])
    wanted = {name: getattr(cfg.triage, name) for name, _ in dr.SCOPES}
    try:
        checks += dr.check_scope(wanted, za.fetch_scope_ids(client, wanted), None)
    except zd.ZendeskError as exc:
        checks += dr.check_scope(wanted, None, str(exc))
    try:
        checks.append(dr.check_skip_tags({tag: za.tag_in_use(client, tag) for tag in cfg.triage.skip_tags}))
    except zd.ZendeskError as exc:
        checks.append(dr.problem("skip tags", f"the tags could not be searched: {exc}", "", blocking=False))
    checks.append(dr.check_help_center(za.probe_help_center(client)))
    return checks, seen


def _anthropic_checks(cfg: Config) -> list[dr.Check]:
    from . import batches
    from . import doctor as dr

    model = cfg.anthropic.model
    tokens, error = None, None
    try:
        tokens = batches.count_tokens(batches.make_client(cfg.anthropic), {"model": model, "messages": PROBE})
    except batches.BatchError as exc:
        error = str(exc)
    return [dr.check_anthropic(model, tokens, error), dr.check_price(model, cfg.price_table())]


def _fix(client: Any, seen: dict[str, Any], yes: bool, as_json: bool) -> list[dict[str, Any]]:
    """Add the exclusion to each noisy trigger, asking first (unless ``yes``); the old definitions are
    printed before anything changes (on stderr with --json). Returns what was changed, each with its old
    definition."""
    from . import doctor as dr
    from . import zendesk as zd
    from . import zendesk_admin as za

    user_id = seen["user"]["id"]
    found = [t for t in seen["triggers"] or [] if dr.noisy(t, user_id)]
    if not found:
        return []
    # stdout holds the one JSON object with --json: the old definitions go to stderr then
    click.echo("# the triggers as they are now (PUT one back to undo):", err=as_json)
    click.echo(json.dumps({"triggers": found}, indent=2, sort_keys=True), err=as_json)
    changed = []
    condition = json.dumps(dr.exclusion(user_id))
    for trigger in found:
        click.echo(f"\"{trigger.get('title')}\" (id {trigger['id']}): add {condition} to its \"all\" conditions",
                   err=True)
        try:
            if not yes and not click.confirm("Change this trigger?", default=False, err=True):
                continue
        except click.Abort:
            raise UsageProblem("no answer to the question: pass --yes to change them without asking") from None
        try:
            za.update_trigger(client, dr.with_exclusion(trigger, user_id))
        except zd.ZendeskError as exc:
            raise click.ClickException(f"trigger {trigger['id']} not changed: {exc}") from None
        changed.append({"id": trigger["id"], "title": trigger.get("title"), "added": dr.exclusion(user_id),
                        "old": trigger})
    return changed


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--fix", is_flag=True, help="Add the exclusion of the API user to the triggers listed (asks first).")
@click.option("--yes", is_flag=True, help="With --fix: change them without asking.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, fix: bool, yes: bool) -> None:
    """Check the live account before going live: credentials and admin role, export access, the API limit,
    triggers that would e-mail people about our internal notes, scope ids, skip tags, Help Center, the
    Anthropic key and model, the model's price. One line per problem with what to do.

    Exit 0 when nothing blocks, 1 with the problems, 2 for a bad config. Nothing is written without --fix.
    """
    from . import doctor as dr
    from . import zendesk as zd

    if yes and not fix:
        raise UsageProblem("--yes goes with --fix")
    cfg = load_config(ctx)
    client = zd.make_client(cfg.zendesk)
    checks, seen = _zendesk_checks(cfg, client, time.time())
    changed: list[dict[str, Any]] = []
    if fix and seen["user"] is not None and seen["triggers"] is not None:
        changed = _fix(client, seen, yes, as_json)
        if changed:  # read them again: what Zendesk now holds is the answer, not what we sent
            checks, seen = _zendesk_checks(cfg, client, time.time())
    checks += _anthropic_checks(cfg)
    bad = dr.blocking(checks)
    data = {"ok": not bad, "checks": [c.as_dict() for c in checks], "problems": len(bad), "fixed": changed}
    text = dr.render(checks)
    if changed:
        text = f"changed {len(changed)} trigger(s): " + ", ".join(f"\"{c['title']}\"" for c in changed) + "\n" + text
    emit(data, as_json, text)
    ctx.exit(1 if bad else 0)


@click.command()
@click.pass_context
def resume(ctx: click.Context) -> None:
    """Clear an account hold after fixing its cause (a key, credit, a spend limit): the next submit check
    tries at once; a running service picks it up within a minute."""
    from pathlib import Path

    from . import pipeline
    from .stages.common import resume as clear_hold

    cfg = load_config(ctx, need_secrets=False)
    if not Path(cfg.state.path).exists():  # never create a state database just to find nothing in it
        click.echo(f"no state database at {cfg.state.path}: nothing was held")
        return
    pctx = pipeline.Context(config=cfg, db=open_state(cfg))
    hold = clear_hold(pctx)
    if hold is None:
        click.echo("nothing was held: submitting goes on as scheduled")
        return
    click.echo(f"cleared the hold held since {iso(float(hold['since']))} (next try was {iso(float(hold['until']))}): "
               f"{hold['reason']}")
    click.echo("the next submit check tries at once (a running service within a minute; or `zdtriage run --once`)")
