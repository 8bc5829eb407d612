"""The account's published Help Center articles and their full-text index (FTS5, BM25), and which articles each
ticket's request held. Database only: no network here.

Rows come from ``stages/helpcenter.py``; only published articles are ever saved. The incremental article export
never shows an archived or deleted article again (it simply leaves it out: dust-tt/dust#8656), so removal is
by absence: every sync is a full read tagged with a run id, and when that read has seen its last page, the
rows it did not see are deleted (:func:`remove_unseen`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from . import reads

MAX_BODY_CHARS = 20_000  # plenty for BM25 and for any excerpt we send (triage.article_tokens caps that)
_WORD = re.compile(r"\w+", re.UNICODE)
# words every ticket and article share (en, de, fr, es): searched, they match the whole index and rank nothing,
# and BM25 has to score every article they match (bench/helpcenter.py: 5,000 articles)
STOPWORDS = frozenset([
    "the", "and", "for", "are", "but", "not", "you", "your", "yours", "our", "ours", "with", "this", "that", "these",
    "those", "from", "have", "has", "had", "was", "were", "been", "being", "will", "would", "can", "could", "should",
    "shall", "may", "might", "must", "does", "did", "doing", "done", "than", "then", "there", "their", "they", "them",
    "what", "which", "when", "where", "who", "whom", "why", "how", "all", "any", "some", "such", "only", "own", "same",
    "too", "very", "just", "also", "into", "about", "again", "out", "off", "over", "under", "more", "most", "other",
    "each", "few", "both", "here", "hello", "thanks", "thank", "please", "regards", "best", "dear", "team", "support",
    "hi", "hey", "cheers", "yes", "since", "after", "before", "because", "while", "until", "ago", "still", "every",
    "its", "it's", "i'm", "i've", "we're", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "einen", "einem",
    "einer", "den", "dem", "des", "mit", "für", "auf", "ich", "sie", "wir", "ihr", "uns", "unser", "unsere", "bitte",
    "danke", "hallo", "guten", "tag", "grüße", "viele", "sehr", "auch", "noch", "schon", "aber", "oder", "wenn", "dass",
    "wie", "was", "wer", "kann", "können", "haben", "hat", "habe", "sind", "war", "wurde", "werden", "bei", "von",
    "vom", "zum", "zur", "aus", "nach", "seit", "über", "unter", "nur", "mir", "mich", "dich", "les", "des", "une",
    "est", "pas", "pour", "que", "qui", "dans", "sur", "avec", "vous", "nous", "votre", "vos", "notre", "nos", "mon",
    "mes", "mais", "ont", "été", "être", "avoir", "merci", "bonjour", "cordialement", "bien", "depuis", "tout", "tous",
    "très", "aussi", "plus", "sans", "chez", "cette", "ces", "ceci", "cela", "los", "las", "del", "una", "por", "para",
    "con", "que", "qué", "sin", "sobre", "entre", "pero", "muy", "más", "este", "esta", "estos", "estas", "hola",
    "gracias", "saludos", "desde", "cada", "todo", "todos", "también", "nos", "les", "han", "hay", "ser", "estar"
])


def save(db: sqlite_utils.Database, articles: Iterable[dict[str, Any]], run: str) -> int:
    """Upsert published articles (``{id, locale, title, body, html_url, section_id, labels, updated_at}``),
    marking them seen by ``run``; returns how many. The FTS index follows through its triggers."""
    rows = [{**a, "body": (a.get("body") or "")[:MAX_BODY_CHARS], "seen_run": run} for a in articles]
    if rows:
        db.table("articles").upsert_all(rows, pk=("id", "locale"))
    return len(rows)


def remove(db: sqlite_utils.Database, keys: Iterable[tuple[int, str]]) -> int:
    """Delete the named ``(id, locale)`` rows (an article seen as a draft, or outside what we may link)."""
    n = 0
    for article_id, locale in keys:
        n += db.execute("delete from articles where id = ? and locale = ?", [article_id, locale]).rowcount
    return n


def remove_unseen(db: sqlite_utils.Database, run: str) -> int:
    """After a full read: delete every article that read did not see (archived, deleted, unpublished)."""
    return db.execute("delete from articles where coalesce(seen_run, '') != ?", [run]).rowcount


def count(db: sqlite_utils.Database) -> dict[str, int]:
    """Stored articles per locale."""
    return {r["locale"]: r["n"] for r in db.query("select locale, count(*) as n from articles group by locale")}


def match_query(text: str, max_terms: int = 32) -> str:
    """An FTS5 query that matches any word of ``text`` (each word quoted, so nothing in it is FTS syntax)."""
    terms: dict[str, None] = {}  # the words in their order, once each
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in terms or word in STOPWORDS or word.isdigit():
            continue
        terms[word] = None
        if len(terms) >= max_terms:
            break
    return " OR ".join(f'"{t}"' for t in terms)


def search(db: sqlite_utils.Database, text: str, *, limit: int, locales: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The best ``limit`` articles for ``text`` by BM25 (title and labels weigh more than the body), those in
    one of ``locales`` (by language: ``de`` matches ``de-ch``) before the others. Each row has ``rank``
    (lower is better)."""
    query = match_query(text)
    if not query or limit <= 0:
        return []
    languages = sorted({loc.lower().split("-")[0] for loc in locales if loc})
    preferred = " or ".join(["lower(a.locale) = ? or lower(a.locale) like ?"] * len(languages)) or "0"
    params: list[Any] = [p for lang in languages for p in (lang, f"{lang}-%")]
    # rank inside the index first and read only the few winners' rows (their bodies are long): with a
    # preferred language, ten times as many candidates are ranked so that its articles can come first
    sql = (
        "select a.id, a.locale, a.title, a.body, a.html_url, f.rank, "
        f"({preferred}) as preferred from ("
        "  select rowid, bm25(articles_fts, 4.0, 2.0, 1.0) as rank from articles_fts "
        "  where articles_fts match ? order by rank limit ?"
        ") f join articles a on a.rowid = f.rowid order by preferred desc, f.rank limit ?"
    )
    return reads.rows(db, sql, [*params, query, int(limit) * (10 if languages else 1), int(limit)])


def existing(db: sqlite_utils.Database, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of the ``(id, locale)`` keys are still stored (still published)."""
    wanted = set(keys)
    ids = sorted({article_id for article_id, _ in wanted})
    if not ids:
        return set()
    # one read for a note's articles, not one each (issue 22)
    rows = db.execute(f"select id, locale from articles where id in ({', '.join('?' for _ in ids)})", ids).fetchall()
    return {(article_id, locale) for article_id, locale in rows} & wanted


def remember(db: sqlite_utils.Database, ticket_id: int, triage_n: int, articles: Sequence[dict[str, Any]],
             macros: Sequence[dict[str, Any]] = ()) -> None:
    """Record the articles (``{id, locale, title, html_url}``) and macros (``{id, title}``) one request held,
    replacing an earlier attempt's."""
    if not articles and not macros:
        db.execute("delete from ticket_articles where ticket_id = ? and triage_n = ?", [ticket_id, triage_n])
        return
    db.table("ticket_articles").upsert({"ticket_id": ticket_id, "triage_n": triage_n, "articles": json.dumps(
        [{k: a[k] for k in ("id", "locale", "title", "html_url")} for a in articles]),
        "macros": json.dumps([{"id": m["id"], "title": m["title"]} for m in macros])}, pk=("ticket_id", "triage_n"))


def provided(db: sqlite_utils.Database, ticket_id: int, triage_n: int, what: str = "articles") -> list[dict[str, Any]]:
    """The articles (or, with ``what="macros"``, the macros) the ticket's request held (empty when none)."""
    column = {"articles": "articles", "macros": "macros"}[what]
    row = next(db.query(f"select {column} from ticket_articles where ticket_id = ? and triage_n = ?",
                        [ticket_id, triage_n]), None)
    return json.loads(row[column]) if row and row[column] else []


Provided = dict[str, list[dict[str, Any]]]  # {"articles": [...], "macros": [...]}, as :func:`provided` gives them
Offered = dict[tuple[int, int], tuple[list[int], list[int]]]  # (ticket_id, triage_n) → (article ids, macro ids)


def held(db: sqlite_utils.Database, keys: Sequence[tuple[int, int]]) -> Offered:
    """The article ids and macro ids the requests of many ``(ticket_id, triage_n)`` held, one query per 500
    tickets (poll validates a chunk of results at once); a request that held none is absent."""
    wanted = set(keys)
    ids = sorted({ticket_id for ticket_id, _ in wanted})
    out: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in db.query("select ticket_id, triage_n, articles, macros from ticket_articles where ticket_id in "
                            f"({', '.join('?' for _ in chunk)})", chunk):
            key = (row["ticket_id"], row["triage_n"])
            if key in wanted:
                out[key] = ([a["id"] for a in json.loads(row["articles"] or "[]")],
                            [m["id"] for m in json.loads(row["macros"] or "[]")])
    return out


def provided_many(db: sqlite_utils.Database, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], Provided]:
    """:func:`provided` of many ``(ticket_id, triage_n)``, articles and macros, one query per 500 tickets
    (write-back builds a group's notes at once: issue 22); a request that held none is absent."""
    wanted = set(keys)
    ids = sorted({ticket_id for ticket_id, _ in wanted})
    out: dict[tuple[int, int], Provided] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for ticket_id, triage_n, articles, macros in db.execute(
                "select ticket_id, triage_n, articles, macros from ticket_articles where ticket_id in "
                f"({', '.join('?' for _ in chunk)})", chunk).fetchall():
            if (ticket_id, triage_n) in wanted:
                out[ticket_id, triage_n] = {"articles": json.loads(articles) if articles else [],
                                            "macros": json.loads(macros) if macros else []}
    return out


def replace_macros(db: sqlite_utils.Database, macros: Sequence[dict[str, Any]]) -> int:
    """The complete list of active shared macros (``{id, title, body}``) replaces the stored one."""
    with db.atomic():
        db.execute("delete from macros")
        if macros:
            db.table("macros").insert_all([{k: m[k] for k in ("id", "title", "body")} for m in macros], pk="id",
                                          replace=True)
    return len(macros)


def search_macros(db: sqlite_utils.Database, text: str, *, limit: int) -> list[dict[str, Any]]:
    """The best ``limit`` macros for ``text`` by BM25 (title weighs more)."""
    query = match_query(text)
    if not query or limit <= 0:
        return []
    return list(db.query("select m.id, m.title, m.body, bm25(macros_fts, 3.0, 1.0) as rank from macros_fts "
                         "join macros m on m.rowid = macros_fts.rowid where macros_fts match ? order by rank limit ?",
                         [query, int(limit)]))


def macro_exists(db: sqlite_utils.Database, macro_id: int) -> bool:
    return next(db.query("select 1 from macros where id = ?", [macro_id]), None) is not None


def forget_gone_tickets(db: sqlite_utils.Database) -> int:
    """Drop the records of tickets retention has pruned."""
    return db.execute("delete from ticket_articles where ticket_id not in (select id from tickets)").rowcount
