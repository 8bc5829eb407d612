"""The account's Help Center articles and shared macros through zenpy (issue 21). Network only: no database here.

Kept beside ``zendesk`` (whose session, error handling and page reader it uses) so that module stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zenpy import Zenpy

from .text import plain_text, sanitize, sanitize_tags  # every text field of a response, before anyone stores it
from .zendesk import EXPORT_PAGE_SIZE
from .zendesk_http import ZendeskError, _get_page, raw


def _article_dict(data: dict[str, Any]) -> dict[str, Any] | None:
    if data.get("id") is None or not data.get("locale"):
        return None
    return {
        "id": int(data["id"]),
        "locale": sanitize(data.get("locale")).lower(),
        "title": sanitize(data.get("title")),
        "body": plain_text(data.get("body")),
        "html_url": sanitize(data.get("html_url")),
        "section_id": data.get("section_id"),
        "labels": " ".join(sanitize_tags(data.get("label_names"))),
        "updated_at": data.get("updated_at"),
        "draft": data.get("draft") is not False,  # a missing flag is not proof of publication
        "user_segment_id": data.get("user_segment_id"),
    }


def linkable(article: dict[str, Any]) -> bool:
    """Whether an exported article may ground a draft: published, visible to everyone, with an https link."""
    url = str(article.get("html_url") or "")
    return (not article["draft"] and article.get("user_segment_id") is None and bool(article["title"])
            and url.startswith("https://") and not any(c in url for c in ' <>"\n\t'))


def fetch_article_page(client: Zenpy, start_time: int) -> dict[str, Any]:
    """One page of the incremental Help Center article export
    (``GET /api/v2/help_center/incremental/articles.json?start_time=``, agents and admins only).

    Returns ``{"articles": [...], "end_time": int | None, "next_start": int | None, "stuck": bool}``; each
    article is ``{id, locale, title, body (plain text), html_url, section_id, labels, updated_at, draft,
    user_segment_id}``. Pages hold up to 1,000 articles; the next page starts at ``end_time``, the time of the
    last article's change, inclusive (its articles can come twice). ``next_start`` is None when the export
    has ended (no ``next_page``, ``end_of_stream``, or ``end_time`` did not move on a page that was not full).
    ``stuck``: a full page ended where it started, so more than a page of articles share that second and
    asking again returns the same page (the time-based exports' rule, DESIGN §7): ``next_start`` steps past
    that second and the read is incomplete. Archived and deleted articles are simply absent
    (dust-tt/dust#8656, where an empty page also answered ``end_time: 1``: an ``end_time`` before
    ``start_time`` is ignored).
    """
    start_time = int(start_time)
    api = client.help_center.articles
    page = _get_page(client, api.endpoint.incremental(start_time=start_time), api=api)
    raw = [d for d in page.get("articles") or [] if isinstance(d, dict)]
    articles = [a for a in (_article_dict(d) for d in raw) if a]
    raw_end = page.get("end_time")
    end_time = int(raw_end) if isinstance(raw_end, (int, float)) and raw_end >= start_time else None
    going = bool(raw) and bool(page.get("next_page")) and page.get("end_of_stream") is not True
    stuck = going and end_time == start_time and len(raw) >= EXPORT_PAGE_SIZE
    next_start = None
    if stuck:
        next_start = start_time + 1
    elif going and end_time is not None and end_time > start_time:
        next_start = end_time
    return {"articles": articles, "end_time": end_time, "next_start": next_start, "stuck": stuck}


MACRO_PAGES = 20  # 100 macros a page: an account with more than 2,000 shared macros is told so


def fetch_macros(client: Zenpy) -> list[dict[str, Any]]:
    """Every active macro shared with all agents (``GET /api/v2/macros/active.json``, offset pages of 100
    followed through ``next_page``): ``[{id, title, body}]``, ``body`` the description and the comment the
    macro adds, as plain text. A macro restricted to groups or users (``restriction`` set) is left out.
    Raises :class:`ZendeskError` past :data:`MACRO_PAGES` pages (a partial list is never returned)."""
    api = client.macros
    url: Any = api.endpoint(id="active")
    out: list[dict[str, Any]] = []
    for _ in range(MACRO_PAGES):
        response = raw(client, "GET", url, api=api)
        try:
            page = response.json()
        except ValueError:
            raise ZendeskError(f"Zendesk answered {response.status_code} with a body that is not JSON") from None
        for macro in page.get("macros") or [] if isinstance(page, dict) else []:
            if not isinstance(macro, dict) or macro.get("id") is None or macro.get("restriction") is not None \
                    or macro.get("active") is False:
                continue
            comments = [a.get("value") for a in macro.get("actions") or []
                        if isinstance(a, dict) and a.get("field") in ("comment_value", "comment_value_html")]
            text = " ".join(plain_text(v if isinstance(v, str) else " ".join(map(str, v or []))) for v in comments)
            out.append({"id": int(macro["id"]), "title": sanitize(macro.get("title")),
                        "body": f"{plain_text(macro.get('description'))} {text}".strip()[:4000]})
        url = page.get("next_page") if isinstance(page, dict) else None
        if not url:
            return out
    raise ZendeskError(f"more than {MACRO_PAGES * 100} active macros: macro suggestions need fewer")
