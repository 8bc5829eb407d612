"""The account around the tickets, for ``zdtriage doctor``: who the token is, whether it may export, the
account's API limit, the triggers, the scope ids, skip tags and the Help Center. Network only, no database.

Every call goes through the session of :func:`zendesk.make_client` (same retries, same 401/403/429 handling)
and returns plain dicts. Only :func:`update_trigger` writes.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .zendesk_hc import fetch_article_page, linkable
from .zendesk_http import ZendeskAuthError, ZendeskError, ZendeskTooRecent, json_body, raw

if TYPE_CHECKING:
    import requests
    from zenpy import Zenpy

MAX_PAGES = 20  # list endpoints of 100 a page: 2,000 triggers, groups or forms are more than any account has
_AUTH_STATUS = re.compile(r"\((\d{3}) on ")
SCOPE_LISTS = {"brands": "brands", "groups": "groups", "forms": "ticket_forms", "custom_statuses": "custom_statuses"}


def refused_status(exc: ZendeskAuthError) -> int | None:
    """401 or 403: which one a :class:`ZendeskAuthError` was (403 = the user lacks the rights)."""
    match = _AUTH_STATUS.search(str(exc))
    return int(match.group(1)) if match else None


def _url(client: Zenpy, path: str, query: dict[str, Any] | None = None) -> str:
    """``path`` below ``/api/v2/`` with its query: :func:`zendesk.raw` puts the account in front."""
    return f"{path}?{urlencode(query)}" if query else path


def _request(client: Zenpy, method: str, url: str, payload: dict[str, Any] | None = None) -> requests.Response:
    response = raw(client, method, url, api=client.users, payload=payload)
    if response.status_code >= 400:
        path = url.split("/api/v2/", 1)[-1].split("?")[0]
        raise ZendeskError(f"Zendesk answered {response.status_code} on {method} /api/v2/{path}")
    return response


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def fetch_account_user(client: Zenpy) -> dict[str, Any]:
    """The token's user (``GET /users/me``) and the account's API limit from that response's headers:
    ``{"id", "email", "role", "rate_limit", "rate_limit_remaining"}`` (limits None when not sent)."""
    response = _request(client, "GET", _url(client, "users/me.json"))
    user = json_body(response).get("user") or {}
    if user.get("id") is None:
        raise ZendeskError("Zendesk did not say who the API user is (users/me has no id)")
    headers = response.headers
    return {"id": int(user["id"]), "email": user.get("email"), "role": user.get("role"),
            "rate_limit": _int(headers.get("x-rate-limit") or headers.get("ratelimit-limit")),
            "rate_limit_remaining": _int(headers.get("x-rate-limit-remaining") or headers.get("ratelimit-remaining"))}


def probe_export(client: Zenpy, start_time: int) -> None:
    """One page of one ticket of the cursor export (uses one of the account's export requests this minute);
    raises :class:`ZendeskAuthError` when the token may not export (403 for an agent)."""
    url = _url(client, "incremental/tickets/cursor.json", {"start_time": int(start_time), "per_page": 1})
    # 422 "Too recent start_time" (our clock ahead of Zendesk's) still says the token may export
    with contextlib.suppress(ZendeskTooRecent):
        _request(client, "GET", url)


def _pages(client: Zenpy, path: str, key: str) -> list[dict[str, Any]]:
    url: str | None = _url(client, path)
    out: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if not url:
            break
        body = json_body(_request(client, "GET", url))
        out += [row for row in body.get(key) or [] if isinstance(row, dict)]
        url = body.get("next_page")
    return out


def fetch_triggers(client: Zenpy) -> list[dict[str, Any]]:
    """The active triggers as Zendesk stores them: ``{id, title, active, conditions: {all, any}, actions}``."""
    return _pages(client, "triggers/active.json", "triggers")


def update_trigger(client: Zenpy, trigger: dict[str, Any]) -> dict[str, Any]:
    """Replace a trigger's conditions *and* actions with those of ``trigger`` (Zendesk clears whichever of
    the two a PUT leaves out, so both are always sent); returns the trigger as Zendesk stored it."""
    payload = {"trigger": {"conditions": trigger["conditions"], "actions": trigger["actions"]}}
    body = json_body(_request(client, "PUT", _url(client, f"triggers/{int(trigger['id'])}.json"), payload))
    return body.get("trigger") or {}


def fetch_scope_ids(client: Zenpy, wanted: dict[str, Any]) -> dict[str, set[int]]:
    """The ids the account has for each scope list named in ``wanted`` (``brands``, ``groups``, ``forms``,
    ``custom_statuses``); a list that is not wanted (empty) is not read."""
    out: dict[str, set[int]] = {}
    for name, path in SCOPE_LISTS.items():
        if wanted.get(name):
            out[name] = {int(row["id"]) for row in _pages(client, f"{path}.json", path) if row.get("id") is not None}
    return out


def tag_in_use(client: Zenpy, tag: str) -> bool:
    """Whether any ticket of the account carries ``tag`` (Tags API search, by prefix)."""
    if len(tag) < 2:
        return False
    body = json_body(_request(client, "GET", _url(client, "autocomplete/tags.json", {"name": tag})))
    return tag.lower() in {str(t).lower() for t in body.get("tags") or []}


def probe_help_center(client: Zenpy) -> dict[str, Any]:
    """One page of ``help_center/articles.json``: ``{"readable": bool, "count": int | None, "detail": str}``
    (a 404 means the account has no Help Center)."""
    try:
        body = json_body(_request(client, "GET", _url(client, "help_center/articles.json", {"per_page": 1})))
    except ZendeskAuthError as exc:
        return {"readable": False, "count": None, "detail": f"refused ({refused_status(exc) or '?'})"}
    except ZendeskError as exc:
        return {"readable": False, "count": None, "detail": str(exc)}
    # what the sync would keep: published articles anyone may open, from the first page of its export
    try:
        page = fetch_article_page(client, 0)
    except ZendeskError as exc:
        return {"readable": True, "count": _int(body.get("count")), "detail": f"article export: {exc}"}
    count = sum(1 for article in page["articles"] if linkable(article))
    return {"readable": True, "count": count, "more": page["next_start"] is not None, "detail": ""}
