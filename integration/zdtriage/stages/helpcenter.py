"""Help Center sync: the account's published articles into the state database, on their own schedule
(``schedule.helpcenter_every``), within the Zendesk export budget.

Each sync is a full read of the incremental article export from ``start_time=0``: that export never shows an
archived or deleted article again (dust-tt/dust#8656), so only a complete read can tell what is gone. The
read is resumable: its run id and next ``start_time`` are saved with every page, so a 429 or a crash resumes
where it stopped, and articles the finished read did not see are removed. Drafts, articles restricted to a
user segment (a customer may be unable to open them) and articles without an https link are never stored.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from .. import prompt, retrieval, store
from .. import zendesk_hc as hc
from ..store import articles, pace
from ..store.examples import corrections
from .common import blocked_until, export_limit, zendesk_stage

if TYPE_CHECKING:
    from ..pipeline import Context

PAGES_PER_RUN = 20  # 20,000 articles a run; the export budget or a 429 ends the loop sooner
_RUN, _START, _PARTIAL, _SYNCED = "helpcenter:run", "helpcenter:start", "helpcenter:partial", "helpcenter:synced_at"


EXAMPLES_EVERY = 86_400.0  # the shared prefix (and its cache) changes at most once a day
_EXAMPLES, _EXAMPLES_AT = "examples:text", "examples:built_at"


def linkable(article: dict[str, Any]) -> bool:
    """Whether an exported article may ground a draft: published, visible to everyone, with an https link."""
    url = str(article.get("html_url") or "")
    return (not article["draft"] and article.get("user_segment_id") is None and bool(article["title"])
            and url.startswith("https://") and not any(c in url for c in ' <>"\n\t'))


def sync(ctx: Context) -> dict[str, Any]:
    """Read the Help Center (a page at a time, resumable) and, once a read is complete, drop what it did not
    see; then, with ``triage.suggest_macros``, replace the stored macros by the account's active shared ones.
    Off when ``triage.articles`` is 0 and macros are not suggested."""
    out: dict[str, Any] = {"stage": "helpcenter", "pages": 0, "saved": 0, "removed": 0}
    triage = ctx.config.triage
    if (triage.articles == 0 and not triage.suggest_macros) or ctx.zendesk is None:
        out["waiting"] = "Help Center grounding is off (triage.articles = 0)"
        return out
    if blocked_until(ctx, "helpcenter") > ctx.now():
        out["waiting"] = "rate limited by Zendesk"
        return out
    db = ctx.db
    run = store.get_sync(db, _RUN)
    if run is None:
        run = uuid.uuid4().hex
        with db.atomic():
            store.set_sync(db, _RUN, run)
            store.set_sync(db, _START, "0")
            store.set_sync(db, _PARTIAL, None)
    start = int(store.get_sync(db, _START) or 0)
    with zendesk_stage(ctx, "helpcenter", out):
        for _ in range(PAGES_PER_RUN if triage.articles else 0):
            # counted with the ticket exports: a conservative share of the account's export budget
            if not pace.take(db, "export", ctx.now(), export_limit(ctx)):
                out["waiting"] = "export budget of this minute spent; the read goes on at the next run"
                break
            page = hc.fetch_article_page(ctx.zendesk, start)
            out["pages"] += 1
            keep = [a for a in page["articles"] if linkable(a)]
            drop = [(a["id"], a["locale"]) for a in page["articles"] if not linkable(a)]
            with db.atomic():
                out["saved"] += articles.save(db, [{k: a[k] for k in ("id", "locale", "title", "body", "html_url",
                                                                     "section_id", "labels", "updated_at")}
                                                   for a in keep], run)
                out["removed"] += articles.remove(db, drop)
                if page["stuck"]:
                    store.set_sync(db, _PARTIAL, "1")  # a crowded second was stepped over: keep what we have
                if page["next_start"] is None:
                    if store.get_sync(db, _PARTIAL) is None:
                        out["removed"] += articles.remove_unseen(db, run)
                    for key in (_RUN, _START, _PARTIAL):
                        store.set_sync(db, key, None)
                    store.set_sync(db, _SYNCED, str(ctx.now()))
                    out["complete"] = True
                    break
                start = page["next_start"]
                store.set_sync(db, _START, str(start))
        if triage.suggest_macros and (out.get("complete") or not triage.articles):
            out["macros"] = articles.replace_macros(db, hc.fetch_macros(ctx.zendesk))
        articles.forget_gone_tickets(db)
    out["articles"] = sum(articles.count(db).values())
    return out


def grounding(ctx: Context, subject: str, messages: list[prompt.Message]) -> list[dict[str, Any]]:
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


def macro_candidates(ctx: Context, subject: str, messages: list[prompt.Message]) -> list[dict[str, Any]]:
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
