"""Zendesk through zenpy: ``fetch_*`` read, ``write_*`` change. Network only: no database here.

How a call reaches Zendesk (the session, the client, the errors) is :mod:`zdtriage.zendesk_http`; its names
are re-exported here, where the stages have always found them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

# zenpy and requests are imported where a client is made or used: commands that never call Zendesk
# (status, report, estimate, retry) do not pay for them (docs/benchmarks.md, start-up)
if TYPE_CHECKING:
    from zenpy import Zenpy

from .text import sanitize, sanitize_tags  # every text field of a response, before anyone stores it
from .zendesk_http import (
    TIMEOUT,
    ZendeskAuthError,
    ZendeskError,
    ZendeskNotFound,
    ZendeskPaced,
    ZendeskRateLimited,
    ZendeskTooRecent,
    ZendeskUnavailable,
    _call,
    _get_page,
    make_client,
    make_session,
    raw,
    rebase,
)

__all__ = ["TIMEOUT", "ZendeskAuthError", "ZendeskError", "ZendeskNotFound", "ZendeskPaced", "ZendeskRateLimited",
           "ZendeskTooRecent", "ZendeskUnavailable", "make_client", "make_session", "raw", "rebase"]

EXPORT_PAGE_SIZE = 1000  # the most the incremental export returns per page
UPDATE_MANY_LIMIT = 100  # tickets per update_many / show_many call


def _ticket_dict(ticket: Any) -> dict[str, Any]:
    data = ticket.to_dict() if hasattr(ticket, "to_dict") else dict(ticket)
    return {
        "id": int(data["id"]),
        "subject": sanitize(data.get("subject") or data.get("raw_subject")),
        "description": sanitize(data.get("description")),
        "status": sanitize(data.get("status")),
        "tags": sanitize_tags(data.get("tags")),
        "requester_id": data.get("requester_id"),
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
        "generated_timestamp": data.get("generated_timestamp"),
        # what agents set (``zdtriage evaluate`` reads these as the truth); custom_fields as [{id, value}]
        "priority": data.get("priority"),
        "type": data.get("type"),
        "custom_fields": list(data.get("custom_fields") or []),
        **{key: data.get(key) for key in ("brand_id", "group_id", "ticket_form_id", "custom_status_id")},
        "via": data.get("via") if isinstance(data.get("via"), dict) else None,
    }


def _ticket_state(data: dict[str, Any]) -> dict[str, Any]:
    """What write-back's fresh read needs of a ticket: status, tags and scope ids (eligibility), ``updated_at``
    (safe_update); the text that :func:`_ticket_dict` sanitises is left unread (issue 22)."""
    return {"id": int(data["id"]), "status": sanitize(data.get("status")), "tags": sanitize_tags(data.get("tags")),
            "updated_at": data.get("updated_at"),
            **{key: data.get(key) for key in ("brand_id", "group_id", "ticket_form_id", "custom_status_id")}}


def followup_of(ticket: dict[str, Any]) -> int | None:
    """The closed ticket a follow-up was created from (``via.source.rel == "follow_up"``), else None."""
    source = (ticket.get("via") or {}).get("source")
    if not isinstance(source, dict) or source.get("rel") != "follow_up":
        return None
    origin = (source.get("from") or {}).get("ticket_id") if isinstance(source.get("from"), dict) else None
    return origin if isinstance(origin, int) and not isinstance(origin, bool) else None


def fetch_ticket_page(client: Zenpy, *, cursor: str | None = None, start_time: int | None = None,
                      per_page: int = EXPORT_PAGE_SIZE) -> dict[str, Any]:
    """One page of the cursor-based incremental ticket export.

    Returns ``{"tickets": [...], "after_cursor": str | None, "end_of_stream": bool}``. The stream has
    ended only when ``end_of_stream`` is true; an empty page with ``end_of_stream`` false is not the end.
    """
    endpoint = client.tickets.endpoint.incremental
    if cursor:
        page = _get_page(client, endpoint.cursor(cursor=cursor, per_page=per_page))
    else:
        try:
            page = _get_page(client, endpoint.cursor_start(start_time=int(start_time or 0), per_page=per_page))
        except ZendeskTooRecent:
            return {"tickets": [], "after_cursor": None, "end_of_stream": True}
    return {
        "tickets": [_ticket_dict(t) for t in page.get("tickets") or []],
        "after_cursor": page.get("after_cursor"),
        "end_of_stream": bool(page.get("end_of_stream", True)),
    }


def _is_conversation(event: dict[str, Any]) -> bool:
    # Only a Comment is something a person wrote: audits also hold trigger e-mails (Notification, with a
    # template "body" and no "public"), voice comments, field changes (DESIGN §7, recorded audits).
    return (event.get("event_type") or event.get("type")) == "Comment"


def fetch_comment_events(client: Zenpy, start_time: int, per_page: int = EXPORT_PAGE_SIZE) -> dict[str, Any]:
    """One page of the incremental ticket-event export with comment events.

    Returns ``{"comments": [{ticket_id, id, author_id, public, body, created_at}], "count": int,
    "start_time": int, "end_time": int | None, "end_of_stream": bool, "ticket_ids": [int], "stuck": bool}``.

    - ``comments``: the ``Comment`` children only (not trigger e-mails, not field changes), once per
      comment id; ``public`` is true only when Zendesk says so (a missing flag is not public).
    - ``count``: events on the page; ``ticket_ids``: every ticket any event of the page touched, sorted.
    - The next page starts at ``end_time`` *inclusive*: comments of that second can come again (dedupe
      by id). ``stuck``: the page ended where it started and was full, i.e. more than a page of events
      shares the second ``start_time``; asking again returns the same page (zenpy#451,
      zendesk_api_client_rb#168), so the caller must step past that second and read the tickets whose
      events it may have held another way.
    """
    start_time = int(start_time)
    extra = {"per_page": per_page} if per_page != EXPORT_PAGE_SIZE else {}
    try:
        page = _get_page(client, client.tickets.endpoint.events(start_time=start_time, include="comment_events",
                                                                **extra))
    except ZendeskTooRecent:
        return {"comments": [], "count": 0, "start_time": start_time, "end_time": None, "end_of_stream": True,
                "ticket_ids": [], "stuck": False}
    comments: list[dict[str, Any]] = []
    seen: set[int] = set()
    tickets: set[int] = set()
    events = page.get("ticket_events") or []
    for data in events:
        ticket_id = int(data["ticket_id"])
        tickets.add(ticket_id)
        for child in data.get("child_events") or []:
            if not _is_conversation(child) or child.get("id") is None or int(child["id"]) in seen:
                continue
            seen.add(int(child["id"]))
            comments.append({
                "ticket_id": ticket_id,
                "id": int(child["id"]),
                "author_id": child.get("author_id"),
                "public": child.get("public") is True,
                "body": sanitize(child.get("body")),
                "created_at": float(data.get("timestamp") or 0),
            })
    raw_end = page.get("end_time")
    end_time = int(raw_end) if raw_end is not None else None
    count = int(page.get("count", len(events)))
    return {"comments": comments, "count": count, "start_time": start_time, "end_time": end_time,
            "end_of_stream": bool(page.get("end_of_stream", True)), "ticket_ids": sorted(tickets),
            "stuck": end_time == start_time and count >= per_page}


def fetch_comments(client: Zenpy, ticket_id: int) -> list[dict[str, Any]]:
    """Every comment of one ticket (cursor pagination): the way past a crowded second of the event
    export, and for tickets older than our start. Same rule as ``fetch_comment_events``: ``Comment``
    items only, ``public`` only when true. Raises :class:`ZendeskNotFound` for a ticket that is gone
    (zenpy requests the pages while iterating)."""
    from zenpy.lib.exception import RecordNotFoundException

    out = []
    try:
        comments = _call(lambda: list(client.tickets.comments(ticket_id)))
    except RecordNotFoundException:
        raise ZendeskNotFound(f"ticket {ticket_id} not found") from None
    for comment in comments:
        data = comment.to_dict()
        if not _is_conversation(data):
            continue
        out.append({
            "ticket_id": ticket_id,
            "id": int(data["id"]),
            "author_id": data.get("author_id"),
            "public": data.get("public") is True,
            "body": sanitize(data.get("plain_body") or data.get("body")),
            "created_at": data.get("created_at"),
        })
    return out


def fetch_me(client: Zenpy) -> int:
    """The id of the user the token belongs to (``GET /users/me``): our own notes are authored by it."""
    user = _call(client.users.me)
    user_id = getattr(user, "id", None)
    if user_id is None:
        raise ZendeskError("Zendesk did not say who the API user is (users/me has no id)")
    return int(user_id)


USER_ROLES = ("end-user", "agent", "admin")


def fetch_user_roles(client: Zenpy, ids: list[int]) -> dict[int, str]:
    """The ``role`` of up to 100 users in one ``users/show_many`` call: ``end-user``, ``agent`` or ``admin``
    (any other value, or a user Zendesk leaves out, is absent: the caller treats it as customer-side)."""
    if len(ids) > UPDATE_MANY_LIMIT:
        raise ValueError(f"show_many takes at most {UPDATE_MANY_LIMIT} ids")
    if not ids:
        return {}
    page = _get_page(client, client.users.endpoint(ids=list(ids)), api=client.users)
    return {int(u["id"]): u["role"] for u in page.get("users") or []
            if isinstance(u, dict) and isinstance(u.get("id"), int) and u.get("role") in USER_ROLES}


def fetch_tickets(client: Zenpy, ids: list[int], *, state_only: bool = False) -> list[dict[str, Any]]:
    """Current state of up to 100 tickets in one ``show_many`` call; missing ids are absent. ``state_only``:
    only the fields of :func:`_ticket_state` (no subject, description, custom fields or via)."""
    if len(ids) > UPDATE_MANY_LIMIT:
        raise ValueError(f"show_many takes at most {UPDATE_MANY_LIMIT} ids")
    if not ids:
        return []
    # the plain JSON, as for the exports (_get_page): write-back reads every group again before it writes
    page = _get_page(client, client.tickets.endpoint(ids=list(ids)))
    read = _ticket_state if state_only else _ticket_dict
    return [read(t) for t in page.get("tickets") or [] if isinstance(t, dict) and t.get("id") is not None]


def write_updates(client: Zenpy, updates: list[dict[str, Any]]) -> str:
    """Send up to 100 per-ticket updates in one ``update_many`` call; return the job id.

    Each update is ``{"id", "additional_tags": [...], "remove_tags": [...] (optional), "comment": {"body",
    "public": False} | None, "priority": str | None, "updated_stamp": str | None}`` (a stamp sends it as
    a ``safe_update``). ``additional_tags`` adds and ``remove_tags``
    removes only the tags named: an agent's own tags are never replaced.
    """
    if not updates:
        raise ValueError("nothing to update")
    if len(updates) > UPDATE_MANY_LIMIT:
        raise ValueError(f"update_many takes at most {UPDATE_MANY_LIMIT} tickets")
    tickets = []  # the body zenpy would build from Ticket objects, without them (issue 22: their CPU)
    for update in updates:
        ticket: dict[str, Any] = {"id": update["id"], "additional_tags": list(update["additional_tags"])}
        if update.get("remove_tags"):
            ticket["remove_tags"] = list(update["remove_tags"])
        if update.get("comment"):
            ticket["comment"] = {"body": update["comment"]["body"], "public": False}
        if update.get("priority"):
            ticket["priority"] = update["priority"]
        if update.get("updated_stamp"):
            # refused (409 UpdateConflict) if the ticket changed since that read (Zendesk docs, "Protecting
            # against ticket update collisions")
            ticket.update(safe_update=True, updated_stamp=update["updated_stamp"])
        tickets.append(ticket)
    api = client.tickets  # zenpy's URL building, session and error checks, as _get_page does
    response = _call(api._call_api, api.session.put, api._build_url(api.endpoint(update_many=True)),
                     json={"tickets": tickets}, timeout=api.timeout)
    try:
        return str(response.json()["job_status"]["id"])
    except (ValueError, KeyError, TypeError):
        raise ZendeskError(f"Zendesk answered {response.status_code} to update_many without a job status") from None


def _job_result(data: dict[str, Any]) -> dict[str, Any]:
    success = data.get("success")
    if success is None:
        # failed items carry {index, error, id, details} and no success key (recorded fixture)
        success = not data.get("error")
    return {
        "id": int(data["id"]) if data.get("id") is not None else None,
        "index": data.get("index"),
        "success": bool(success),
        "error": data.get("error") or (None if success else data.get("status")),
        "details": str(data.get("details") or data.get("errors") or "")[:300],
    }


def fetch_jobs(client: Zenpy, job_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Job statuses through ``job_statuses/show_many.json``, 100 ids a call, in the order asked.

    Each is ``{"id", "status", "results": [{"id", "index", "success", "error", "details"}]}``
    (``results`` empty while the job is queued or working); a job Zendesk no longer knows (statuses
    expire: show_many leaves them out, the id answers 404) is ``{"id", "status": "missing", "results": []}``.
    """
    wanted = list(dict.fromkeys(str(j) for j in job_ids))
    api = client.job_status
    for start in range(0, len(wanted), UPDATE_MANY_LIMIT):
        chunk = wanted[start:start + UPDATE_MANY_LIMIT]
        try:
            page = _get_page(client, api.endpoint(ids=chunk), api=api)
        except ZendeskNotFound:
            page = {}  # statuses expire and then answer 404 RecordNotFound: unknown, to be verified (DESIGN §7)
        found = {str(job.get("id")): job for job in page.get("job_statuses") or [] if isinstance(job, dict)}
        for job_id in chunk:
            job = found.get(job_id)
            if job is None:
                yield {"id": job_id, "status": "missing", "results": []}
                continue
            results = [_job_result(item) for item in job.get("results") or [] if isinstance(item, dict)]
            yield {"id": job_id, "status": job.get("status") or "unknown", "results": results}


def is_closed_error(result: dict[str, Any]) -> bool:
    """A per-ticket job failure that means the ticket can no longer be updated."""
    text = f"{result.get('error')} {result.get('details')}".lower()
    return "closed" in text or "notfound" in text.replace(" ", "") or "not found" in text
