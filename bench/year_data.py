"""The synthetic state databases of ``bench/year.py``: ``days`` of history at ``per_day`` tickets, then the
same in-flight snapshot in every database, so a cycle does the same work whatever the history behind it.

Tables and indexes come from the store's own migrations (``store.open_db``); rows go in through
``executemany``, a day per transaction. Text comes from the simulator's corpus (subjects, descriptions,
agent replies), so sizes are the corpus's; usage JSON has every key the SDK's ``Usage.model_dump()``
stores, the answer the validated answer with a draft of 600-1,200 characters (a few paragraphs, as the
default ``max_tokens`` of 512 allows).

History, per ticket: three comments (the description, an agent reply, the customer again); 95.5 %
written, 4 % skipped (opted out or closed before write-back), 0.5 % dead with the failed tag written.
A ticket arrives every ``86400 / per_day`` seconds, is submitted within the 30-minute batch window, answered
15 minutes later, written a minute after that. One batch row per 30 minutes, two events per batch.

Snapshot at ``end`` (in every database): 150 queued, 200 submitted in one open batch that has ended,
200 answered of which 100 sit in two write jobs that have completed, 5 failed and due, 3 dead still owed
their failed tag.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = ("id", "state", "subject", "description", "requester_id", "zd_status", "zd_tags", "zd_created_at",
           "zd_updated_at", "triage_n", "attempts", "custom_id", "input_chars", "history_fetched", "answer", "usage",
           "cost_usd", "reserved_usd", "batch", "write_started_at", "write_job_id", "write_kind", "write_triage_n",
           "failed_tag_at", "last_error", "next_attempt_at", "queued_at", "submitted_at", "answered_at", "written_at",
           "failed_at", "dead_at", "skipped_at", "changed_at")
PRIORITIES, CATEGORIES = ("P1", "P2", "P3", "P4"), ("billing", "technical", "account", "feature-request", "other")
SENTIMENTS = ("positive", "neutral", "negative", "angry")
OPEN_BATCH = "local-open"
SNAPSHOT = {"queued": 150, "submitted": 200, "answered": 100, "in_job": 100, "failed": 5, "owed": 3}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Pool:
    """Texts cut from the simulator's corpus, reused in turn (building them per row would dominate)."""

    def __init__(self, seed: int = 1, size: int = 2_000) -> None:
        from zdtriage.sim import corpus

        rng = random.Random(seed)
        specs = corpus.generate(size, seed)
        replies = [c["body"] for s in specs for c in s["comments"] if c["author"] != "customer"] or ["Thanks!"]
        customer = [s["description"] for s in specs]
        self.size = size
        self.subjects = [s["subject"] for s in specs]
        self.descriptions = customer
        self.replies = [replies[i % len(replies)] for i in range(size)]
        self.follow_ups = [customer[(i * 7 + 3) % size] for i in range(size)]
        self.tags = [json.dumps(s["tags"] + ["ai_priority_p2", f"ai_category_{rng.choice(CATEGORIES)}",
                                             "ai_sentiment_neutral", "ai_lang_en", "ai_triaged"]
                                + (["ai_draft_used"] if i % 9 == 0 else ["ai_draft_rejected"] if i % 23 == 0 else []))
                     for i, s in enumerate(specs)]
        self.answers = [json.dumps({
            "priority": rng.choice(PRIORITIES), "category": rng.choice(CATEGORIES), "sentiment": rng.choice(SENTIMENTS),
            "language": "en", "confidence": round(rng.uniform(0.4, 1.0), 2),
            "draft": self._draft(rng, replies)}) for _ in range(size)]
        self.usages = [json.dumps({
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": rng.choice([0, 4210]),
            "inference_geo": "not_available", "input_tokens": rng.randint(400, 2500),
            "output_tokens": rng.randint(120, 480),
            "output_tokens_details": None, "server_tool_use": None, "service_tier": "batch", "speed": None})
            for _ in range(size)]


    @staticmethod
    def _draft(rng: random.Random, replies: list[str]) -> str:
        # a draft at the default max_tokens (512) runs to a few paragraphs: 600-1,200 characters of agent text
        target, parts = rng.randint(600, 1_200), []
        while sum(map(len, parts)) < target:
            parts.append(rng.choice(replies))
        return "\n\n".join(parts)[:target]


def _ticket(pool: Pool, id_: int, arrived: float, state: str, **over: Any) -> tuple[Any, ...]:
    k = id_ % pool.size
    submitted, answered = arrived + 900 + (id_ * 37) % 900, arrived + 1800 + (id_ * 37) % 900
    written = answered + 60 + (id_ % 50)
    row: dict[str, Any] = {
        "id": id_, "state": state, "subject": pool.subjects[k], "description": pool.descriptions[k],
        "requester_id": 100_000 + id_ % 50_000, "zd_status": "open", "zd_tags": pool.tags[k], "zd_created_at": arrived,
        "zd_updated_at": written, "triage_n": 1, "attempts": 0, "custom_id": f"zt-{id_}-1", "input_chars": 2_600 + k,
        "history_fetched": None, "answer": pool.answers[k], "usage": pool.usages[k], "cost_usd": 0.0012 + k * 1e-7,
        "reserved_usd": 0.0, "batch": None, "write_started_at": None, "write_job_id": None, "write_kind": None,
        "write_triage_n": None, "failed_tag_at": None, "last_error": None, "next_attempt_at": None,
        "queued_at": iso(arrived), "submitted_at": iso(submitted), "answered_at": iso(answered),
        "written_at": iso(written), "failed_at": None, "dead_at": None, "skipped_at": None, "changed_at": iso(written),
    }
    if state == "skipped":
        row.update(answer=None, usage=None, cost_usd=0.0, submitted_at=None, answered_at=None, written_at=None,
                   skipped_at=iso(arrived + 600), changed_at=iso(arrived + 600), zd_status="solved",
                   last_error="before write-back: status solved")
    elif state == "dead":
        row.update(answer=None, written_at=None, dead_at=iso(answered), changed_at=iso(answered),
                   failed_tag_at=iso(written), last_error="invalid answer: value outside the configured lists")
    row.update(over)
    return tuple(row[c] for c in COLUMNS)


def _comments(pool: Pool, id_: int, arrived: float) -> list[tuple[Any, ...]]:
    k = id_ % pool.size
    return [(id_ * 3, id_, 100_000 + id_ % 50_000, 1, pool.descriptions[k], arrived),
            (id_ * 3 + 1, id_, 42, 1, pool.replies[k], arrived + 1200),
            (id_ * 3 + 2, id_, 100_000 + id_ % 50_000, 1, pool.follow_ups[k], arrived + 2400)]


def _history_state(id_: int) -> str:
    r = id_ % 200
    return "dead" if r == 0 else "skipped" if r <= 8 else "written"


def _insert(conn: sqlite3.Connection, tickets: list[tuple[Any, ...]], comments: list[tuple[Any, ...]]) -> None:
    conn.executemany(f"insert into tickets ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})", tickets)
    conn.executemany(
        "insert into comments (id, ticket_id, author_id, public, body, created_at) values (?, ?, ?, ?, ?, ?)", comments
    )


def build(path: Path, *, days: int, per_day: int, end: float, pool: Pool) -> dict[str, Any]:
    """Create the database at ``path``: ``days`` of history ending at ``end``, then the snapshot."""
    from zdtriage import store

    store.open_db(path).close()  # schema and indexes from the store's own migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("pragma journal_mode = off")  # a bench file, rebuilt each run: no rollback journal needed
    conn.execute("pragma synchronous = off")
    conn.execute("pragma cache_size = -262144")  # 256 MiB: index pages stay in memory while rows go in
    step = 86_400.0 / per_day
    start = end - days * 86_400.0 - 3_600
    next_id = 1
    for day in range(days):
        day_start = start + day * 86_400.0
        tickets, comments = [], []
        for i in range(per_day):
            arrived = day_start + i * step
            tickets.append(_ticket(pool, next_id, arrived, _history_state(next_id)))
            comments.extend(_comments(pool, next_id, arrived))
            next_id += 1
        conn.execute("begin")
        _insert(conn, tickets, comments)
        _batches_and_events(conn, day_start, per_day)
        conn.execute("commit")
    info = _snapshot(conn, pool, next_id, end)
    conn.execute("pragma journal_mode = wal")
    conn.close()
    info["history"] = days * per_day
    return info


def _batches_and_events(conn: sqlite3.Connection, day_start: float, per_day: int) -> None:
    rows, events = [], []
    for half_hour in range(48):
        created = day_start + half_hour * 1800
        local = f"local-{int(created)}"
        rows.append((local, f"msgbatch_{int(created)}", "collected", "claude-haiku-4-5", per_day // 48, 1_800_000,
                     0.0, 0.0012 * per_day / 48, json.dumps({"succeeded": per_day // 48, "errored": 0, "canceled": 0,
                                                             "expired": 0, "processing": 0}),
                     iso(created), iso(created + 86_400), iso(created + 900), iso(created + 960)))
        events += [(iso(created), "batch_created", None, f"msgbatch_{int(created)}", f"{per_day // 48} requests"),
                   (iso(created + 960), "batch_collected", None, f"msgbatch_{int(created)}",
                    json.dumps({"answered": per_day // 48}))]
    conn.executemany("insert into batches (local_id, batch_id, state, model, request_count, bytes, reserved_usd, "
                     "cost_usd, counts, created_at, expires_at, ended_at, collected_at) values "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("insert into events (at, action, ticket_id, batch, detail) values (?, ?, ?, ?, ?)", events)


def _snapshot(conn: sqlite3.Connection, pool: Pool, first_id: int, end: float) -> dict[str, Any]:
    """The in-flight tickets every database ends with (same ids relative to ``first_id``)."""
    ids: dict[str, list[int]] = {}
    rows, comments = [], []
    next_id = first_id
    recent = end - 3_000

    def add(kind: str, state: str, n: int, **over: Any) -> None:
        nonlocal next_id
        ids[kind] = list(range(next_id, next_id + n))
        for id_ in ids[kind]:
            rows.append(_ticket(pool, id_, recent, state, **over))
            comments.extend(_comments(pool, id_, recent))
        next_id += n

    blank = {"answer": None, "usage": None, "cost_usd": 0.0, "submitted_at": None, "answered_at": None,
             "written_at": None, "changed_at": iso(recent)}
    add("queued", "queued", SNAPSHOT["queued"], **blank)
    add("submitted", "submitted", SNAPSHOT["submitted"], **{**blank, "batch": OPEN_BATCH, "reserved_usd": 0.003,
                                                             "submitted_at": iso(recent + 60)})
    add("answered", "answered", SNAPSHOT["answered"], written_at=None, changed_at=iso(end - 300))
    for job in (0, 1):
        add(f"job{job}", "answered", SNAPSHOT["in_job"] // 2, written_at=None, changed_at=iso(end - 600),
            write_started_at=iso(end - 240), write_job_id=f"job-snapshot-{job}", write_kind="note", write_triage_n=1)
    add("failed", "failed", SNAPSHOT["failed"], **{**blank, "attempts": 1, "failed_at": iso(end - 900),
                                                   "next_attempt_at": iso(end - 60), "last_error": "overloaded_error"})
    add("owed", "dead", SNAPSHOT["owed"], failed_tag_at=None, changed_at=iso(end - 400))
    conn.execute("begin")
    _insert(conn, rows, comments)
    conn.execute(
        "insert into batches (local_id, batch_id, state, model, request_count, bytes, reserved_usd, created_at, "
        "expires_at) values (?, ?, 'open', 'claude-haiku-4-5', ?, 1800000, 0.6, ?, ?)",
        [OPEN_BATCH, "msgbatch_snapshot_open", SNAPSHOT["submitted"], iso(recent + 60), iso(recent + 86_460)],
    )
    for key, value in (("start_time", str(int(end - 400 * 86_400))), ("ticket_cursor", "cursor-snapshot"),
                       ("events_time", str(int(end - 120)))):
        conn.execute("insert or replace into sync (key, value) values (?, ?)", [key, value])
    conn.execute("commit")
    return {"ids": ids, "next_id": next_id, "written_recent": list(range(first_id - 50, first_id))}


def iter_sizes(path: Path) -> Iterator[tuple[str, int]]:
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            yield suffix or "db", part.stat().st_size
