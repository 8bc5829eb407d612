"""What ``zdtriage doctor`` concludes from what the account answered: one :class:`Check` per question (pure: the
CLI makes the calls and passes their answers in, so every rule here is tested without a network).

A check is *blocking* when going live with it would fail or do harm (no admin rights, a trigger that e-mails
people for every internal note, a scope id the account does not have, a refused key); the others are facts
worth seeing (the API limit, a skip tag nobody has used yet, the Help Center).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .pricing import Price, price_for

# Operators that need the field to change in this very update (Zendesk conditions reference): our write-back
# changes tags (and the priority with triage.native_priority), nothing else, so a condition on the change of
# any other field can never hold for it.
CHANGE_OPERATORS = frozenset({"changed", "value", "value_previous", "changed_to", "changed_from"})
OUR_CHANGES = frozenset({"current_tags", "tags", "priority"})
API_VIA_ID = "5"  # "Web service (API)" in Zendesk's via types: the channel of every update we make
SCOPES = (("brands", "brand"), ("groups", "group"), ("forms", "ticket form"), ("custom_statuses", "custom status"))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    blocking: bool  # only meaningful when not ok: going live like this fails or does harm
    line: str  # one line: what was found
    fix: str = ""  # what to do about it (empty when ok)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(name: str, line: str) -> Check:
    return Check(name, True, False, line)


def problem(name: str, line: str, fix: str, *, blocking: bool = True) -> Check:
    return Check(name, False, blocking, line, fix)


def blocking(checks: Iterable[Check]) -> list[Check]:
    """The checks that keep the account from going live."""
    return [c for c in checks if not c.ok and c.blocking]


def render(checks: Iterable[Check]) -> str:
    """One line per check (``ok``, ``PROBLEM`` or ``note``), the fix indented under a problem, then the verdict."""
    checks = list(checks)
    lines = []
    for c in checks:
        mark = "ok     " if c.ok else ("PROBLEM" if c.blocking else "note   ")
        lines.append(f"{mark} {c.name}: {c.line}")
        if c.fix:
            lines.append(f"        → {c.fix}")
    bad = blocking(checks)
    lines.append(f"{len(bad)} problem(s) block going live" if bad else "nothing blocks going live")
    return "\n".join(lines)


# -- Zendesk: who we are and what we may do ----------------------------------------------------------------


def check_user(user: Mapping[str, Any] | None, error: str | None, email: str) -> Check:
    """The token works and its user is an admin (the incremental exports and the triggers need one)."""
    if user is None:
        return problem("credentials", f"could not read the API user {email} (users/me): {error}",
                       "check zendesk.subdomain, zendesk.email and the token (zendesk.token_env / token_file)")
    role = user.get("role")
    if role != "admin":
        return problem("role", f"the API user {user.get('email') or email} (id {user['id']}) has the role "
                       f"{role or 'unknown'}, not admin",
                       "make that user an admin in Admin Center > People: the incremental exports and the "
                       "triggers refuse anyone else (403)")
    return ok("role", f"the API user {user.get('email') or email} (id {user['id']}) is an admin")


def check_export(error: str | None, status: int | None) -> Check:
    """One page of the incremental ticket export could be read."""
    if error is None:
        return ok("export", "the incremental ticket export answers")
    if status == 403:
        return problem("export", "the incremental ticket export refused the API user (403)",
                       "the exports are for admins only: use an admin's token")
    return problem("export", f"the incremental ticket export failed: {error}", "run doctor again; if it persists, "
                   "check the account's API access (Admin Center > Apps and integrations > Zendesk API)")


def check_rate_limit(user: Mapping[str, Any] | None) -> Check:
    """The account's API limit per minute, shared with every app of the account (never blocking)."""
    limit = (user or {}).get("rate_limit")
    if not limit:
        return problem("api limit", "Zendesk sent no X-Rate-Limit header", "", blocking=False)
    left = (user or {}).get("rate_limit_remaining")
    spare = f", {left} left this minute" if left is not None else ""
    return ok("api limit", f"{limit} requests/min for the whole account{spare} (shared with every app)")


# -- triggers ------------------------------------------------------------------------------------------------


def exclusion(user_id: int) -> dict[str, Any]:
    """The condition that keeps a trigger quiet for our updates."""
    return {"field": "current_user", "operator": "is_not", "value": str(user_id)}


def _rules_out(condition: Mapping[str, Any], user_id: int) -> bool:
    """Whether an update by the service (a private comment and tags, through the API) can never meet it."""
    field, op, value = condition.get("field"), condition.get("operator"), condition.get("value")
    text = str(value).lower() if value is not None else ""
    if field == "update_type":
        return (op == "is" and text == "create") or (op == "is_not" and text == "change")
    if field == "comment_is_public":  # true / requester_can_see_comment: public comments only
        return (op == "is" and text in ("true", "requester_can_see_comment")) or (op == "is_not" and text == "false")
    if field == "current_user":
        return (op == "is_not" and text == str(user_id)) or (op == "is" and text.isdigit() and text != str(user_id))
    if field == "role":
        return op == "is" and text == "end_user"
    if field == "current_via_id":
        return (op == "is" and text != API_VIA_ID) or (op == "is_not" and text == API_VIA_ID)
    return op in CHANGE_OPERATORS and field not in OUR_CHANGES


def _notifies(trigger: Mapping[str, Any]) -> bool:
    # e-mail a user or group, a target or webhook, an SMS: every notification_* action tells someone
    return any(str(a.get("field", "")).startswith("notification_") for a in trigger.get("actions") or [])


def noisy(trigger: Mapping[str, Any], user_id: int) -> bool:
    """An active trigger that would notify someone of an internal note written by ``user_id``: it fires on a
    comment update, its ``comment_is_public`` is ``not_relevant`` or ``false`` or absent, and no condition of
    ``all`` rules the service's update out (``current_user is_not <user_id>`` among them) (DESIGN §7)."""
    if not trigger.get("active", True) or not _notifies(trigger):
        return False
    conditions = trigger.get("conditions") or {}
    if any(_rules_out(c, user_id) for c in conditions.get("all") or []):
        return False
    any_of = conditions.get("any") or []
    return not (any_of and all(_rules_out(c, user_id) for c in any_of))


def with_exclusion(trigger: Mapping[str, Any], user_id: int) -> dict[str, Any]:
    """A copy of ``trigger`` whose ``all`` conditions also exclude ``user_id``."""
    out = copy.deepcopy(dict(trigger))
    conditions = out.setdefault("conditions", {})
    conditions["all"] = [*(conditions.get("all") or []), exclusion(user_id)]
    conditions.setdefault("any", [])
    return out


def check_triggers(triggers: list[dict[str, Any]] | None, error: str | None, user_id: int | None) -> list[Check]:
    """One problem per trigger that would e-mail people about our internal notes, or one ok line."""
    if triggers is None or user_id is None:
        return [problem("triggers", f"the triggers could not be read: {error or 'no API user'}",
                        "doctor needs an admin's token to read them (Admin Center > Objects and rules > Triggers)")]
    found = [t for t in triggers if noisy(t, user_id)]
    if not found:
        return [
            ok("triggers", f"{len(triggers)} active trigger(s); none notifies anyone of the service's internal notes")
        ]
    condition = json.dumps(exclusion(user_id))
    return [problem("trigger", f"\"{t.get('title')}\" (id {t.get('id')}) would e-mail people about every internal note "
                    "the service writes", f"add {condition} to its \"all\" conditions (or run `zdtriage doctor --fix`)")
            for t in found]


# -- scope, tags, Help Center --------------------------------------------------------------------------------


def check_scope(wanted: Mapping[str, Iterable[int]], found: Mapping[str, set[int]] | None,
                error: str | None) -> list[Check]:
    """Every configured scope id (triage.brands / groups / forms / custom_statuses) exists in the account."""
    asked = {name: list(wanted.get(name) or ()) for name, _ in SCOPES}
    if not any(asked.values()):
        return [ok("scope", "no brand, group, form or custom status filter: every ticket is in scope")]
    if found is None:
        return [
            problem("scope", f"the scope lists could not be read: {error}", "run doctor again with an admin's token")
        ]
    out = []
    for name, label in SCOPES:
        missing = [i for i in asked[name] if i not in found.get(name, set())]
        if missing:
            out.append(
                problem(
                    "scope",
                    f"triage.{name}: no {label} with id {', '.join(map(str, missing))} in the account",
                    f"fix triage.{name}: tickets of an unknown {label} are never triaged",
                )
            )
        elif asked[name]:
            out.append(ok("scope", f"triage.{name}: all {len(asked[name])} id(s) exist"))
    return out


def check_skip_tags(in_use: Mapping[str, bool]) -> Check:
    """Skip tags no ticket carries yet (never blocking: agents add them when they opt a ticket out)."""
    unused = [tag for tag, used in in_use.items() if not used]
    if not in_use:
        return ok("skip tags", "none configured")
    if unused:
        return problem("skip tags", f"no ticket carries {', '.join(unused)} yet",
                       "fine if agents have not opted a ticket out yet; check the spelling in triage.skip_tags",
                       blocking=False)
    return ok("skip tags", f"{', '.join(in_use)} in use")


def check_help_center(probe: Mapping[str, Any]) -> Check:
    """The Help Center answers (drafts can cite it); never blocking."""
    if probe.get("readable"):
        count = probe.get("count")
        found = "an unknown number of" if count is None else f"{count}{'+' if probe.get('more') else ''}"
        note = f"; {probe['detail']}" if probe.get("detail") else ""
        return ok("help center", f"readable: {found} published article(s) drafts can cite{note}")
    return problem("help center", f"not readable: {probe.get('detail') or 'no answer'}",
                   "drafts will not cite Help Center articles", blocking=False)


# -- Anthropic -------------------------------------------------------------------------------------------------


def check_anthropic(model: str, tokens: int | None, error: str | None) -> Check:
    """The key works and the model answers (a token count: it costs nothing)."""
    if error is None:
        return ok("anthropic", f"the key works and {model} answers (a free token count: {tokens} tokens); "
                  "credit is only seen at the first batch")
    return problem("anthropic", f"token counting with {model} failed: {error}",
                   "check the key (anthropic.api_key_env / api_key_file) and anthropic.model")


def check_price(model: str, table: Mapping[str, Price]) -> Check:
    """The model has a price, so spend and the budget can be counted."""
    try:
        price = price_for(model, table)
    except KeyError:
        return problem("price", f"no price known for {model}: spend and the budget cannot be counted",
                       f"add [prices.\"{model}\"] with input and output USD per million tokens, or use a known model")
    return ok("price", f"{model}: ${price.input:g} / ${price.output:g} per million input/output tokens (standard)")
