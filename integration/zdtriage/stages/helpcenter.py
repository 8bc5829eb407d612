"""Help Center sync: the account's published articles into the state database, on their own schedule
(``schedule.helpcenter_every``), within the Zendesk export budget.

Each sync is a full read of the incremental article export from ``start_time=0``: that export never shows an
archived or deleted article again (dust-tt/dust#8656), so only a complete read can tell what is gone. The
read is resumable: its run id and next ``start_time`` are saved with every page, so a 429 or a crash resumes
where it stopped, and articles the finished read did not see are removed. Drafts, articles restricted to a
user segment (a customer may be unable to open them) and articles without an https link are never stored.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .. import store
from .. import zendesk_hc as hc
from ..store import articles, pace
from .common import blocked_until, export_limit, zendesk_stage

if TYPE_CHECKING:
    from ..context import Context

PAGES_PER_RUN = 20  # 20,000 articles a run; the export budget or a 429 ends the loop sooner
_RUN, _START, _PARTIAL, _SYNCED = "helpcenter:run", "helpcenter:start", "helpcenter:partial", "helpcenter:synced_at"


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
            keep = [a for a in page["articles"] if hc.linkable(a)]
            drop = [(a["id"], a["locale"]) for a in page["articles"] if not hc.linkable(a)]
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

