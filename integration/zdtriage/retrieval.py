"""Which Help Center articles go into a ticket's request (issue 21), and how much of each.

Pure apart from the ``search`` callable it is given (``store.articles.search`` over the state database): the
query is the subject and the latest customer messages; the best ``triage.articles`` matches by BM25 are
kept, the ticket's language first; their text shares ``triage.article_tokens`` between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .prompt import CHARS_PER_TOKEN, Message

QUERY_MESSAGES = 2  # the latest customer messages searched with the subject
QUERY_CHARS = 2000  # of each of them: the request is usually in the first lines
MIN_EXCERPT_CHARS = 200  # an article that would get less than this is left out rather than sent as a stub

Search = Callable[..., list[dict[str, Any]]]


def query_text(subject: str, messages: Sequence[Message]) -> str:
    """The words searched: the subject and the start of the latest customer messages."""
    latest = [m.body[:QUERY_CHARS] for m in messages if m.author == "customer"][-QUERY_MESSAGES:]
    return "\n".join([subject, *latest])


def select(search: Search, subject: str, messages: Sequence[Message], *, count: int, tokens: int,
           locales: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Up to ``count`` articles ``{id, locale, title, html_url, text}`` whose text together stays within
    ``tokens`` (about :data:`CHARS_PER_TOKEN` characters each). ``text`` is the start of the body. Macros
    (``store.articles.search_macros``) go through the same way, without locale and link."""
    if count <= 0 or tokens <= 0:
        return []
    found = search(query_text(subject, messages), limit=count, locales=locales)
    budget = int(tokens * CHARS_PER_TOKEN)
    chosen: list[dict[str, Any]] = []
    for index, row in enumerate(found):
        share = budget // (len(found) - index)  # what is left, shared by the articles still to come
        room = share - len(row["title"])
        if room < MIN_EXCERPT_CHARS:
            continue
        text = _collapsed(str(row["body"] or ""), room)
        if len(text) > room:
            text = text[:room].rsplit(" ", 1)[0] + " …"
        chosen.append({"id": int(row["id"]), "locale": row.get("locale"), "title": row["title"],
                       "html_url": row.get("html_url"), "text": text})
        budget -= len(row["title"]) + len(text)
    return chosen


def _collapsed(body: str, room: int) -> str:
    """``" ".join(body.split())`` as far as an excerpt of ``room`` characters can tell: a stored body is up to
    20,000 characters and the excerpt a few hundred, so only a start long enough is collapsed. That start gives
    the same first ``room`` characters, and a longer text, whenever a whole word ends past ``room`` in it."""
    start = " ".join(body[:2 * room + 200].split())
    if len(body) <= 2 * room + 200 or start.rfind(" ") >= room:
        return start
    return " ".join(body.split())
