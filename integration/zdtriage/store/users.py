"""Who wrote a comment: the Zendesk role of comment authors, read once (``users/show_many``) and kept.

Database only. A role decides how the prompt labels a message (DESIGN §7 "Comment authors"): the requester,
another end user (a CC'd colleague) or staff; an author whose role is not known is never taken for staff.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from . import reads


def save_roles(db: sqlite_utils.Database, now: float, roles: dict[int, str]) -> None:
    """Keep the roles read from Zendesk (a later read replaces an earlier one)."""
    db.table("users").insert_all([{"id": i, "role": r, "seen_at": now} for i, r in roles.items()], pk="id",
                                 replace=True)


def roles_of(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, str]:
    """The known roles of ``ids`` (unknown ones are absent)."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        marks = ", ".join("?" for _ in part)
        found = reads.rows(db, f"select id, role from users where id in ({marks})", part)
        out.update({r["id"]: r["role"] for r in found})
    return out


def unknown_authors(db: sqlite_utils.Database, limit: int) -> list[int]:
    """Authors of public comments on waiting tickets whose role is not known yet (the requester is not
    asked about: a requester's message is the customer's by definition), at most ``limit``."""
    return [r["author_id"] for r in db.query(
        "select distinct c.author_id from comments c join tickets t on t.id = c.ticket_id "
        "where t.state in ('queued', 'failed') and c.public = 1 and c.author_id is not null "
        "and c.author_id != coalesce(t.requester_id, -1) and c.author_id not in (select id from users) "
        "order by c.author_id limit ?", [limit])]
