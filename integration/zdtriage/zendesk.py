"""Zendesk through zenpy: ``fetch_*`` read, ``write_*`` change. Network only: no database here.

Rate limits never block the caller: a 429 raises :class:`ZendeskRateLimited` with the
``Retry-After`` seconds, and the stage that called us ends and resumes from its saved cursor
at its next run (the incremental export allows only 10 requests a minute).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

# zenpy and requests are imported where a client is made or used: commands that never call Zendesk
# (status, report, estimate, retry) do not pay for them (README "Benchmarks", start-up)
if TYPE_CHECKING:
    import requests
    from zenpy import Zenpy

from .config import ZendeskConfig
from .text import sanitize, sanitize_tags  # every text field of a response, before anyone stores it

EXPORT_PAGE_SIZE = 1000  # the most the incremental export returns per page
UPDATE_MANY_LIMIT = 100  # tickets per update_many / show_many call
TIMEOUT = 30.0


class ZendeskError(Exception):
    """A Zendesk call failed; ``str()`` is one line, no secrets."""


class ZendeskRateLimited(ZendeskError):
    def __init__(self, retry_after: float, url: str) -> None:
        super().__init__(f"rate limited by Zendesk on {urlsplit(url).path}; retry after {retry_after:.0f}s")
        self.retry_after = retry_after


class ZendeskAuthError(ZendeskError):
    """401/403: the token is wrong, revoked, or lacks the rights (admin needed for exports)."""


class ZendeskUnavailable(ZendeskError):
    """5xx after retries, or the connection failed."""


class ZendeskTooRecent(ZendeskError):
    """422 InvalidValue: an export ``start_time`` inside Zendesk's last-minute window; nothing new yet."""


def _raise_for_limits(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    # runs inside requests for every response: zenpy would otherwise sleep through Retry-After
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("retry-after", "60"))
        except ValueError:
            retry_after = 60.0
        raise ZendeskRateLimited(max(retry_after, 1.0), response.url)
    if response.status_code in (401, 403):
        raise ZendeskAuthError(
            f"Zendesk refused the credentials ({response.status_code} on {urlsplit(response.url).path}): "
            "check zendesk.email, the API token, and that the user is an admin"
        )
    return response


def make_session(on_call: Callable[[str, str, int], None] | None = None) -> requests.Session:
    """A requests session: reads retried on 5xx with backoff, 429/401 turned into exceptions.

    ``on_call(method, url, status)`` (metrics) hears of every response, 429s included; the retries of a 5xx
    inside the session are not seen one by one."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    # only idempotent reads are retried here; a write that may have landed is checked by the pipeline
    retry = Retry(
        total=3,
        connect=2,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        # never sleep through a 429's Retry-After here: the hook raises ZendeskRateLimited and the stage
        # resumes from its cursor at its next run (urllib3 would otherwise wait inside this call)
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if on_call is not None:
        # before the hook that raises on a 429; a hook that returns None leaves the response as it is
        session.hooks["response"].append(lambda r, *args, **kwargs: on_call(str(r.request.method), r.url, r.status_code))
    session.hooks["response"].append(_raise_for_limits)
    return session


def make_client(cfg: ZendeskConfig, on_call: Callable[[str, str, int], None] | None = None) -> Zenpy:
    """Build the zenpy client from the settings (the one place that knows how to reach Zendesk);
    ``on_call`` as for :func:`make_session`."""
    from zenpy import Zenpy

    if cfg.url:
        # zenpy has no base-URL argument; these two variables are its documented override
        parts = urlsplit(cfg.url)
        os.environ["ZENPY_FORCE_SCHEME"] = parts.scheme
        os.environ["ZENPY_FORCE_NETLOC"] = parts.netloc
    # zenpy sends an oauth_token as "Authorization: Bearer", an API token as "<email>/token" basic auth
    credentials = {"oauth_token": cfg.token} if cfg.auth == "oauth" else {"email": cfg.email, "token": cfg.token}
    return Zenpy(
        subdomain=cfg.subdomain,
        **credentials,
        session=make_session(on_call),
        timeout=TIMEOUT,
        disable_cache=True,  # zenpy caches tickets for 30 s otherwise: we need fresh tags
    )


def _connection_reason(exc: BaseException) -> str:
    """`` at <host>: <DNS or TLS reason>`` for a failed request (issue 20: a wrong subdomain must say which host)."""
    from .netreason import connection_reason

    request = getattr(exc, "request", None)
    host = urlsplit(str(getattr(request, "url", "") or "")).hostname
    return f"{f' at {host}' if host else ''}: {connection_reason(exc)}"


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import requests
    from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

    def _path(exc: Exception) -> str:
        # the path only: a query string can hold a hundred ids, useless in a one-line error
        url = getattr(getattr(exc, "response", None), "url", None)
        return urlsplit(str(url)).path if url else "a Zendesk URL"

    try:
        return fn(*args, **kwargs)
    except ZendeskError:
        raise
    except RecordNotFoundException as exc:
        # zenpy raises this for any 404 RecordNotFound (a deleted ticket, an expired job status, a user):
        # the caller decides what a missing record means, but it never sees a zenpy exception (issue 23 item 4)
        raise ZendeskNotFound(f"Zendesk answered 404 on {_path(exc)}: record not found") from None
    except requests.exceptions.RetryError as exc:
        raise ZendeskUnavailable(f"Zendesk kept failing: {exc.reason}") from None
    except requests.exceptions.RequestException as exc:
        raise ZendeskUnavailable(f"cannot reach Zendesk{_connection_reason(exc)}") from None
    except APIException as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", "?")
        if status == 422 and "too recent" in str(exc).lower():
            raise ZendeskTooRecent("export start_time is too recent") from None
        if isinstance(status, int) and status >= 500:
            raise ZendeskUnavailable(f"Zendesk answered {status}") from None
        if status == 404:
            raise ZendeskNotFound(f"Zendesk answered 404 on {_path(exc)}: not found") from None
        raise ZendeskError(f"Zendesk answered {status}: {str(exc)[:300]}") from None
    except ZenpyException as exc:
        raise ZendeskError(f"zenpy: {str(exc)[:300]}") from None


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


def _get_page(client: Zenpy, endpoint: Any, api: Any = None) -> dict[str, Any]:
    """GET one page as plain JSON, through zenpy's URL building, session and error checks.

    zenpy would turn every ticket and event of the page into API objects (each constructor does a
    JSON round trip), about 0.25 s of CPU per 1,000-ticket page; the exports need only plain fields,
    so the body is read as it is (about a tenth of the CPU; bench/README.md, figure 2).
    """
    api = api or client.tickets
    response = _call(api._get, api._build_url(endpoint), raw_response=True)
    try:
        body = response.json()
    except ValueError:
        raise ZendeskError(f"Zendesk answered {response.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise ZendeskError(f"Zendesk answered {response.status_code} with an unexpected body")
    return body


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
        page = _get_page(client, client.tickets.endpoint.events(start_time=start_time, include="comment_events", **extra))
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


class ZendeskNotFound(ZendeskError):
    """404: the ticket was deleted (or never existed)."""


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
