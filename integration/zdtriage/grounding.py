"""What grounds a ticket's request beyond its conversation (issue 21): the Help Center articles and macros
retrieval picks for it, and the agents' corrections in the shared prefix. Used by submit and by ``evaluate``.
Reads the state database (and keeps the day's examples text in it); no network here.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from . import prompt, retrieval, store
from .store import articles
from .store.examples import corrections

if TYPE_CHECKING:
    from .context import Context

EXAMPLES_EVERY = 86_400.0  # the shared prefix (and its cache) changes at most once a day
_EXAMPLES, _EXAMPLES_AT = "examples:text", "examples:built_at"


def articles_for(ctx: Context, subject: str, messages: list[prompt.Message]) -> list[dict[str, Any]]:
    """The Help Center articles for one ticket's request (``retrieval.select`` over the stored articles)."""
    triage = ctx.config.triage
    if triage.articles <= 0:
        return []
    try:
        return retrieval.select(lambda text, **kw: articles.search(ctx.db, text, **kw), subject, messages,
                                count=triage.articles, tokens=triage.article_tokens)
    except sqlite3.OperationalError:  # `estimate` on a read-only database older than m0040: no articles yet
        return []


MACROS_OFFERED = 3
MACRO_TOKENS = 300


def macros_for(ctx: Context, subject: str, messages: list[prompt.Message]) -> list[dict[str, Any]]:
    """The macros offered for one ticket (``triage.suggest_macros``), found the same way as the articles."""
    if not ctx.config.triage.suggest_macros:
        return []
    try:
        return retrieval.select(lambda text, **kw: articles.search_macros(ctx.db, text, limit=kw["limit"]), subject,
                                messages, count=MACROS_OFFERED, tokens=MACRO_TOKENS)
    except sqlite3.OperationalError:  # as for the articles
        return []


def shared_examples(ctx: Context) -> str:
    """The agents' corrections for the shared prefix (``triage.examples`` of them), rebuilt when the stored
    text is a day old (or from the future: a clock step), so the cached prefix holds between rebuilds."""
    n = ctx.config.triage.examples
    if n <= 0:
        return ""
    db, now = ctx.db, ctx.now()
    built = float(store.get_sync(db, _EXAMPLES_AT) or 0)
    if not built or now - built >= EXAMPLES_EVERY or built > now + 60:
        text = prompt.examples_text(corrections(db, n), ctx.config.privacy.redact)
        try:
            with db.atomic():
                store.set_sync(db, _EXAMPLES, text)
                store.set_sync(db, _EXAMPLES_AT, str(now))
        except sqlite3.OperationalError:  # `estimate` reads a read-only database: used, not kept
            pass
        return text
    return store.get_sync(db, _EXAMPLES) or ""
