"""Opening the state database and its schema (sqlite-utils migrations). Database only: no network here."""

from __future__ import annotations

import errno
import os
import sqlite3
from typing import TYPE_CHECKING

from .reader import ReadConnection, Reader, Schema

if TYPE_CHECKING:  # imported where a database is written: status and report read without it (issue 22)
    import sqlite_utils

# write-back's order and the rows it may write (store.writes.writable; the index of m0050 is on exactly these)
WRITABLE_ORDER = "(coalesce(write_attempts, 0) + coalesce(failed_tag_attempts, 0)) > 0, state = 'dead', changed_at, id"
WRITABLE = "write_started_at is null and (state = 'answered' or (state = 'dead' and failed_tag_at is null))"

migrations = Schema("zdtriage")


@migrations()
def m0001_initial(db: sqlite_utils.Database) -> None:
    db.table("tickets").create(
        {
            "id": int,  # the Zendesk ticket id
            "state": str,
            "subject": str,
            "description": str,
            "requester_id": int,
            "zd_status": str,
            "zd_tags": str,  # JSON list, as last seen in Zendesk
            "zd_created_at": float,  # epoch seconds
            "zd_updated_at": float,  # generated_timestamp of the last export row we saw
            "triage_n": int,  # 1 for the first triage, 2.. for re-triage
            "attempts": int,  # batch attempts for this triage
            "invalid_answers": int,
            "last_error": str,
            "next_attempt_at": str,
            "batch": str,  # batches.local_id while submitted
            "custom_id": str,
            "input_chars": int,
            "history_fetched": int,  # 1 once comments older than the event export were read
            "answer": str,  # JSON: the validated answer
            "usage": str,  # JSON: usage of the result
            "cost_usd": float,
            "reserved_usd": float,
            "write_started_at": str,  # write-back intent recorded before the Zendesk call
            "write_job_id": str,  # update_many job that carries our write
            "write_attempts": int,
            "failed_tag_at": str,  # when the failed tag of a dead ticket was settled (written, given up, not owed)
            "queued_at": str,
            "submitted_at": str,
            "answered_at": str,
            "written_at": str,
            "failed_at": str,
            "dead_at": str,
            "skipped_at": str,
            "changed_at": str,
        },
        pk="id",
        not_null={"state"},
        defaults={
            "triage_n": 1,
            "attempts": 0,
            "invalid_answers": 0,
            "write_attempts": 0,
            "cost_usd": 0.0,
            "reserved_usd": 0.0,
        },
    )
    db.table("tickets").create_index(["state"])
    db.table("tickets").create_index(["batch"])
    db.table("tickets").create_index(["write_job_id"])
    db.table("comments").create(
        {"id": int, "ticket_id": int, "author_id": int, "public": int, "body": str, "created_at": float},
        pk="id",
    )
    db.table("comments").create_index(["ticket_id", "created_at"])
    db.table("batches").create(
        {
            "local_id": str,  # ours, recorded before the create call
            "batch_id": str,  # Anthropic's, recorded after it
            "state": str,  # creating | open | collected | abandoned
            "model": str,
            "request_count": int,
            "bytes": int,
            "reserved_usd": float,
            "cost_usd": float,
            "counts": str,  # JSON request_counts when ended
            "created_at": str,
            "expires_at": str,
            "ended_at": str,
            "collected_at": str,
            "error": str,
        },
        pk="local_id",
        defaults={"cost_usd": 0.0, "reserved_usd": 0.0},
    )
    db.table("batches").create_index(["batch_id"], unique=True)
    db.table("batches").create_index(["state"])
    db.table("sync").create({"key": str, "value": str}, pk="key")
    db.table("events").create(
        {"id": int, "at": str, "action": str, "ticket_id": int, "batch": str, "detail": str},
        pk="id",
    )
    db.table("events").create_index(["at"])
    db.table("events").create_index(["ticket_id"])


@migrations()
def m0002_write_intent(db: sqlite_utils.Database) -> None:
    # A write intent names what it was for (kind and triage number), so the outcome of a job sent for an
    # earlier intent (a revived ticket's old ai_failed write) can never settle the current one.
    db.table("tickets").add_column("write_kind", str)  # note | failed_tag, while an intent is open
    db.table("tickets").add_column("write_triage_n", int)
    db.table("tickets").add_column("failed_tag_attempts", int, not_null_default=0)


@migrations()
def m0003_answer_room(db: sqlite_utils.Database) -> None:
    # an answer cut at max_tokens is asked again once with more room; NULL means anthropic.max_tokens
    db.table("tickets").add_column("max_tokens", int)


@migrations()
def m0004_pace_and_gaps(db: sqlite_utils.Database) -> None:
    # call budgets shared by every run (store/pace.py)
    db.table("pace").create({"bucket": str, "at": float, "n": int})
    db.table("pace").create_index(["bucket", "at"])
    # seconds of the event export skipped because more than a page of events shared them (crowded seconds)
    db.table("event_gaps").create({"second": int, "at": str}, pk="second")
    # 1 while a ticket's comments must be read one by one before it is sent (history older than the event
    # export, or a crowded second that may have held its events); when they were last read that way
    db.table("tickets").add_column("needs_read", int, not_null_default=0)
    db.table("tickets").add_column("comments_read_at", float)
    db.execute(
        "update tickets set needs_read = 1 where state in ('queued', 'failed') and coalesce(history_fetched, 0) = 0 "
        "and zd_created_at < coalesce((select cast(value as real) from sync where key = 'start_time'), 0) "
        "and zd_updated_at > zd_created_at + 60"
    )


class StoreError(Exception):
    """The state database cannot be used as asked; ``str()`` is one line saying what to do."""


def unwritable(path: str | os.PathLike[str], exc: OSError | sqlite3.Error) -> StoreError:
    """The error for a state file or folder this process may not write: names the path and the user we run as
    (in a container the uid alone: the image's user has no home the admin knows)."""
    import pwd

    uid = os.geteuid()
    try:
        user = f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        user = f"uid {uid}"
    reason = getattr(exc, "strerror", None) or str(exc)
    folder = os.path.dirname(os.fspath(path)) or "."
    return StoreError(f"cannot write the state at {path} as user {user}: {reason}; make its folder "
                      f"{folder} writable by that user (chown, or the volume's owner), or set state.path")


def _private(path: str) -> None:
    # the database holds ticket text: readable by the service user only, and so are its -wal and -shm
    # files, which SQLite creates with the database's own mode (a restored 0644 file would leak them)
    for part in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if os.path.exists(part) and os.stat(part).st_mode & 0o077:
                os.chmod(part, 0o600)
        except PermissionError:
            raise StoreError(f"{part} is readable by others and not ours to tighten (chmod 600 it)") from None


def open_db(path: str | os.PathLike[str], *, readonly: bool = False) -> sqlite_utils.Database:
    """Open the state database, apply migrations, enable WAL; created with mode 0600 when missing.

    ``readonly`` (``status``, ``report``, ``estimate``): never creates, migrates or writes; a missing
    database is a :class:`StoreError`, and so is one that is corrupt or not a database at all.
    """
    import sqlite_utils

    path = os.fspath(path)  # os.path, not pathlib: its import was a tenth of `status`'s own start-up (issue 22)
    if path == ":memory:":
        db = sqlite_utils.Database(memory=True)
        migrations.apply(db)
        return db
    if readonly:
        return sqlite_utils.Database(open_reader(path))
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if not os.path.exists(path):
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        _private(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db = sqlite_utils.Database(conn)
        _check(db, path)
        db.enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
        db.conn.execute("PRAGMA foreign_keys=ON")
        migrations.apply(db)
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise StoreError(f"the state database {path} is read-only: the service needs to write it "
                             "(status and report can still read it)") from None
        if "unable to open" in str(exc):  # the -wal or -shm file cannot be created beside it
            raise unwritable(path, exc) from None
        raise StoreError(f"cannot open the state database {path}: {exc}") from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise unwritable(path, exc) from None
        raise StoreError(f"cannot open the state database {path}: {exc.strerror or exc}") from None
    return db


def open_reader(path: str | os.PathLike[str]) -> ReadConnection:
    """The state database opened read-only as a plain connection (``status``, ``report``, ``status --check``):
    never creates, migrates or writes; a missing database is a :class:`StoreError`, and so is one that is
    corrupt, not a database at all, or from an older version."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise StoreError(f"no state database at {path} yet: the service creates it on its first run "
                         "(check state.path)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30,
                               factory=ReadConnection)
        _check(conn, path)
    except sqlite3.OperationalError:
        # a WAL database in a folder we cannot write (no -shm to share): read the file as it stands
        conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True, check_same_thread=False, factory=ReadConnection)
        _check(conn, path)
    if migrations.missing(conn):
        conn.close()
        raise StoreError(f"the state database {path} is from an older version: run the service once to upgrade it")
    return conn


def _check(db: Reader, path: str) -> None:
    try:
        db.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError:
        raise  # locked, read-only, cannot open: the caller says which
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise StoreError(f"the state database {path} is not a readable SQLite database ({exc}): restore it from a "
                         "backup, or move it away to start afresh (tickets already triaged keep their marker tag)"
                         ) from None


# A database bigger than this when m0010 reaches it keeps auto_vacuum off: turning it on needs a VACUUM, which
# rewrites the whole file (minutes, and twice its size on disk, for a year of tickets). docs/how-it-works.md.
VACUUM_ON_UPGRADE_MAX_BYTES = 256 * 1024 * 1024


@migrations(transactional=False)  # VACUUM cannot run inside a transaction; the indexes get their own below
def m0010_query_indexes(db: sqlite_utils.Database) -> None:
    # What each index is for (tests/unit/test_query_plans.py checks every query a cycle runs against them):
    # - write_job_id and batch are set only while a write or a batch is in flight: partial indexes hold just
    #   those rows, instead of one NULL entry per ticket ever seen;
    # - open intents (write-back's "unsure writes", every minute) are the rows with write_started_at set;
    # - dead tickets still owed their failed tag, beside the answered ones, are write-back's candidates;
    # - (state, changed_at, cost_usd) serves report windows, their cost sums, and retention's oldest-first;
    # - calibration reads the newest 2,000 results.
    statements = [
        "drop index if exists idx_tickets_write_job_id",
        "drop index if exists idx_tickets_batch",
        "create index if not exists idx_tickets_write_job on tickets(write_job_id) where write_job_id is not null",
        "create index if not exists idx_tickets_in_batch on tickets(batch) where batch is not null",
        "create index if not exists idx_tickets_open_intent on tickets(write_job_id, write_started_at) "
        "where write_started_at is not null",
        "create index if not exists idx_tickets_failed_tag_owed on tickets(state, failed_tag_at) "
        "where state = 'dead' and failed_tag_at is null",
        "create index if not exists idx_tickets_state_changed on tickets(state, changed_at, cost_usd)",
        "create index if not exists idx_tickets_calibration on tickets(answered_at) "
        "where usage is not null and input_chars > 0",
        "create index if not exists idx_batches_created on batches(created_at, cost_usd)",
    ]
    with db.atomic():
        for sql in statements:
            db.execute(sql)
    # Retention frees pages; with auto_vacuum = INCREMENTAL, `PRAGMA incremental_vacuum` gives them back to
    # the file system. The mode only takes effect through a VACUUM: done here while that is cheap (a new or
    # small database), otherwise left to the admin (docs/how-it-works.md); freed pages are reused either way.
    if db.execute("pragma auto_vacuum").fetchone()[0] != 2 and _size(db) <= VACUUM_ON_UPGRADE_MAX_BYTES:
        db.execute("pragma auto_vacuum = incremental")
        db.execute("vacuum")


def _size(db: sqlite_utils.Database) -> int:
    return int(db.execute("pragma page_count").fetchone()[0] * db.execute("pragma page_size").fetchone()[0])


@migrations()
def m0011_report_totals(db: sqlite_utils.Database) -> None:
    # report over the whole history reads running totals kept by triggers (store/totals.py), not every row
    from .totals import install

    install(db)


@migrations()
def m0020_evaluations(db: sqlite_utils.Database) -> None:
    # `zdtriage evaluate` (solved tickets triaged read-only, compared with what agents set) and what the
    # exports show agents doing with our answers after write-back
    db.table("evaluations").create(
        {
            "id": int,
            "state": str,  # creating (batch create not confirmed) | running | done | abandoned
            "created_at": str,
            "finished_at": str,
            "since": str,  # solved and closed tickets changed since this time
            "max_tickets": int,
            "model": str,
            "prompt_hash": str,  # system prompt, answer schema and request limits
            "fingerprint": str,  # model and prompt_hash: a change of either is a new column side by side
            "settings": str,  # JSON: category source and value maps used for the truth
            "subdomain": str,  # for ticket links
            "batch": str,  # batches.local_id
            "tickets": int,
            "estimate_usd": float,  # worst case, reserved while the batch runs
            "error": str,
        },
        pk="id",
    )
    db.table("evaluations").create_index(["state"])
    db.table("evaluation_items").create(
        {
            "evaluation_id": int,
            "ticket_id": int,
            "custom_id": str,
            "zd_status": str,
            "raw_priority": str,  # Zendesk's value, as agents left it
            "raw_category": str,
            "truth_priority": str,  # mapped onto the configured values (NULL: no truth)
            "truth_category": str,
            "result": str,  # pending | answered | invalid | errored | expired | canceled | missing
            "ai_priority": str,
            "ai_category": str,
            "confidence": float,
            "error": str,
            "cost_usd": float,
        },
        pk=("evaluation_id", "ticket_id"),
        defaults={"result": "pending", "cost_usd": 0.0},
    )
    db.table("evaluation_items").create_index(["custom_id"], unique=True)
    db.table("live_observations").create(
        {
            "ticket_id": int,
            "triage_n": int,
            "field": str,  # priority | category | draft
            "ours": str,  # our value (the draft: NULL)
            "baseline": str,  # the native value first seen after our write
            "theirs": str,  # the agent's value, when one is known
            "outcome": str,  # pending | agreed | changed; for the draft: adopted | edited | ignored
            "source": str,  # ai_field | native | kept | reply
            "similarity": float,  # draft vs the agent's first public reply
            "written_at": str,
            "observed_at": str,
        },
        pk=("ticket_id", "triage_n", "field"),
    )
    db.table("live_observations").create_index(["written_at"])


@migrations()
def m0032_followups_and_users(db: sqlite_utils.Database) -> None:
    # 1 while a ticket first seen already carrying our marker (a follow-up inherits the closed ticket's tags, a
    # restore lost our rows) has to show our note for its own id before it is skipped: the copied tag proves
    # nothing, and it cannot settle this ticket's first write either (DESIGN §7 "Follow-up tickets")
    db.table("tickets").add_column("marker_inherited", int, not_null_default=0)
    # the Zendesk role of comment authors (end-user, agent, admin), read once with users/show_many: the prompt
    # labels a message by who wrote it, not by author_id != requester_id (DESIGN §7 "Comment authors")
    db.table("users").create({"id": int, "role": str, "seen_at": float}, pk="id")


@migrations()
def m0040_help_center(db: sqlite_utils.Database) -> None:
    # Published Help Center articles (issue 21), one row per article and locale, with an FTS5 index kept in
    # step by triggers; "unicode61 remove_diacritics 2" folds accents, so "Rückerstattung" finds "Ruckerstattung"
    db.table("articles").create(
        {
            "id": int,  # the Help Center article id
            "locale": str,  # e.g. en-us, de
            "title": str,
            "body": str,  # plain text, cut (store/articles.py MAX_BODY_CHARS)
            "html_url": str,  # the only source of a link in a note
            "section_id": int,
            "labels": str,  # label_names, space separated (searched with the title)
            "updated_at": str,
            "seen_run": str,  # the full read that last saw it: rows a finished read did not see are removed
        },
        pk=("id", "locale"),
    )
    db.table("articles").enable_fts(["title", "labels", "body"], fts_version="FTS5", create_triggers=True,
                                    tokenize="unicode61 remove_diacritics 2")
    # which articles a ticket's request held: the validator keeps only these ids, the note lists only these
    db.table("ticket_articles").create(
        {"ticket_id": int, "triage_n": int, "articles": str},  # JSON [{id, locale, title, html_url}]
        pk=("ticket_id", "triage_n"),
    )


@migrations()
def m0041_macros(db: sqlite_utils.Database) -> None:
    # the account's active shared macros, searched like the articles (triage.suggest_macros, issue 21)
    db.table("macros").create({"id": int, "title": str, "body": str}, pk="id")
    db.table("macros").enable_fts(["title", "body"], fts_version="FTS5", create_triggers=True,
                                  tokenize="unicode61 remove_diacritics 2")
    db.table("ticket_articles").add_column("macros", str)  # JSON [{id, title}] the request held


@migrations()
def m0050_writable_index(db: sqlite_utils.Database) -> None:
    # write-back's next tickets in its order, found by walking this index to the first few instead of reading and
    # sorting every waiting row (a backlog of 18,000 answers: 160 ms a call, twice a minute; issue 22). Its WHERE
    # is part of writes.writable's, which names it (INDEXED BY): SQLite's planner preferred two OR'd indexes.
    db.execute(f"create index if not exists idx_tickets_writable on tickets({WRITABLE_ORDER}) where {WRITABLE}")


@migrations()
def m0051_totals_parse_once(db: sqlite_utils.Database) -> None:
    # the report totals' triggers again, parsing each JSON column once a row instead of twelve times (issue 22);
    # install() refills the totals from the rows in the same transaction (one read of them, once)
    from .totals import install

    install(db)

