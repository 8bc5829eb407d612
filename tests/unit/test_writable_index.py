"""write-back's next tickets come from walking idx_tickets_writable (m0050, issue 22): the same tickets in the same
order as reading and sorting every waiting row, without the sort."""

from __future__ import annotations

import random
from pathlib import Path

from zdtriage import store
from zdtriage.store import reads, writes
from zdtriage.timeutil import iso

STATUSES = ["new", "open", "pending"]
PLAIN = ("select * from tickets where write_started_at is null and "  # writable before m0050, word for word
         "(state = 'answered' or (state = 'dead' and failed_tag_at is null and zd_status in (?, ?, ?))) {wait}"
         "order by (coalesce(write_attempts, 0) + coalesce(failed_tag_attempts, 0)) > 0, state = 'dead', "
         "changed_at, id limit ?")


def _db(tmp_path: Path, n: int = 600):
    db = store.open_db(tmp_path / "state.db")
    rng = random.Random(3)
    rows = [{"id": i, "state": rng.choice(["answered", "answered", "dead", "written", "queued"]),
             "subject": "s", "description": "d" * rng.randint(0, 3000),
             "changed_at": f"2026-12-0{rng.randint(1, 6)}T0{rng.randint(0, 9)}:00:00Z",
             "zd_status": rng.choice([*STATUSES, "solved", "closed"]), "zd_tags": "[]", "zd_updated_at": 1.0,
             "write_attempts": rng.choice([0, 1, 3]), "failed_tag_attempts": rng.choice([0, 2]),
             "failed_tag_at": rng.choice([None, None, "2026-12-01T00:00:00Z"]),
             "write_started_at": rng.choice([None, None, None, "2026-12-01T00:00:00Z"]),
             "next_attempt_at": rng.choice([None, "2026-12-05T00:00:00Z", "2026-12-07T00:00:00Z",
                                            "2027-06-01T00:00:00Z"])}
            for i in range(1, n + 1)]
    with db.atomic():
        db.table("tickets").insert_all(rows)
    return db


def test_the_index_gives_the_tickets_and_order_of_the_plain_query(tmp_path: Path) -> None:
    db = _db(tmp_path)
    now = 1_796_500_000.0  # 2026-12-06
    wait = ("and (state != 'answered' or next_attempt_at is null or next_attempt_at <= ? "
            "or next_attempt_at > ?) ")
    for limit in (1, 7, 100, 1000):
        want = reads.rows(db, PLAIN.format(wait=""), [*STATUSES, limit])
        assert writes.writable(db, STATUSES, limit) == want
        want = reads.rows(db, PLAIN.format(wait=wait), [*STATUSES, iso(now), iso(now + 3600), limit])
        assert writes.writable(db, STATUSES, limit, now) == want and want


def test_no_sort_of_every_waiting_row(tmp_path: Path) -> None:
    db = _db(tmp_path, 50)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    writes.writable(db, STATUSES, 10)
    db.conn.set_trace_callback(None)
    (sql,) = [s for s in statements if "from tickets" in s]
    plan = " ".join(str(row) for row in db.execute(f"explain query plan {sql}").fetchall())
    assert "idx_tickets_writable" in plan and "TEMP B-TREE" not in plan


def test_the_queue_is_paged_in_id_order_without_a_sort(tmp_path: Path) -> None:
    """submit reads the queue by keyset pages (``store.tickets.iter_rows``): the index on state alone (it holds the
    rowid) gives each page in id order; without it every page sorted every queued row again."""
    from zdtriage.store import tickets as queue

    db = _db(tmp_path, 50)
    sql = f"select * from tickets where state = 'queued' and {queue.READY} and id > ? order by id limit 1000"
    plan = " ".join(str(row) for row in db.execute(f"explain query plan {sql}", [0, 0]).fetchall())
    assert "TEMP B-TREE" not in plan
