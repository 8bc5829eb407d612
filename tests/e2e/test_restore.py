"""Restoring an older backup (docs/operating.md "Backups"): answers the backup holds as not yet written were written
since. Write-back's fresh read sees this first triage's marker and settles them; it never writes a second note."""

from __future__ import annotations

import shutil
import sqlite3

from zdtriage import prompt
from zdtriage.sim.zendesk_store import BOT_USER_ID
from zdtriage.stages import ingest, poll, submit
from zdtriage.store import tickets as queue


def our_notes(ticket):
    return [c for c in ticket["comments"]
            if not c["public"] and c["author_id"] == BOT_USER_ID and prompt.NOTE_FOOTER in (c["body"] or "")]


def test_an_older_backup_restored_writes_no_second_note(zsim, asim, make_ctx, clock, drive, tmp_path):
    zsim.seed(20, 5)
    ctx = make_ctx()
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    clock.advance(60)
    poll.poll(ctx)
    answered = queue.counts(ctx.db)["answered"]
    assert answered > 10
    backup = tmp_path / "backup.db"
    with sqlite3.connect(backup) as copy:
        ctx.db.conn.backup(copy)  # what `zdtriage backup` takes: answers not yet written

    drive(ctx, clock)
    written = {t["id"] for t in zsim.snapshot() if our_notes(t)}
    assert len(written) >= answered
    ctx.db.conn.close()
    state = tmp_path / "state.db"
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"state.db{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, state)  # the admin restores the older backup

    restored = make_ctx()
    assert queue.counts(restored.db)["answered"] == answered
    counts = drive(restored, clock)
    after = {t["id"]: t for t in zsim.snapshot()}
    assert all(len(our_notes(after[i])) == 1 for i in written)  # never a second note
    assert counts["answered"] == 0 and counts["written"] >= len(written)
