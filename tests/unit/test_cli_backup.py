"""`zdtriage backup PATH` (issue 20 item 7): a consistent copy while the service writes, never an overwrite
without --force, and a copy that restores as the state."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading

import pytest
from click.testing import CliRunner

from zdtriage import store
from zdtriage.cli import cli

ENV = {"ZENDESK_API_TOKEN": "zd-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}


def invoke(*args, env=ENV):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    return path


def test_backup_while_another_connection_writes_is_consistent(cfg_file, tmp_path):
    db = store.open_db(tmp_path / "s.db")  # the running service: WAL, one write transaction per ticket
    stop, written = threading.Event(), []

    def service() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with db.atomic():  # a ticket and its event land together or not at all
                db.execute("insert into tickets (id, state, description) values (?, 'queued', ?)", [n, "x" * 2000])
                db.execute("insert into events (at, action, ticket_id) values ('2026-12-06', 'queued', ?)", [n])
            written.append(n)

    writer = threading.Thread(target=service)
    writer.start()
    try:
        copies = []
        for i in range(5):
            while len(written) < 200 * (i + 1):
                threading.Event().wait(0.005)
            target = tmp_path / f"backup-{i}.db"
            result = invoke("--config", cfg_file, "backup", target)
            assert result.exit_code == 0, result.output
            copies.append(target)
    finally:
        stop.set()
        writer.join()
    seen = []
    for target in copies:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600  # ticket text: the service user's only
        assert not target.with_name(target.name + "-wal").exists()  # one file, ready to restore
        conn = sqlite3.connect(target)
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        tickets, events = (conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("tickets", "events"))
        assert tickets == events > 0  # a snapshot: no ticket without its event, no event without its ticket
        assert conn.execute("select max(id) from tickets").fetchone()[0] == tickets
        conn.close()
        store.open_db(target, readonly=True).close()  # every migration is in the copy
        seen.append(tickets)
    assert seen == sorted(seen) and seen[-1] < len(written)  # taken while the writes went on


def test_backup_refuses_to_overwrite_without_force(cfg_file, tmp_path):
    store.open_db(tmp_path / "s.db").close()
    target = tmp_path / "b.db"
    target.write_text("an older backup")
    result = invoke("--config", cfg_file, "backup", target)
    assert result.exit_code == 2 and "--force" in result.output
    assert target.read_text() == "an older backup"
    result = invoke("--config", cfg_file, "backup", target, "--force")
    assert result.exit_code == 0 and "0 tickets" in result.output
    assert sqlite3.connect(target).execute("pragma integrity_check").fetchone()[0] == "ok"
    same = invoke("--config", cfg_file, "backup", tmp_path / "s.db", "--force")
    assert same.exit_code == 2 and "the state database itself" in same.output


def test_backup_without_a_state_says_so(cfg_file, tmp_path):
    result = invoke("--config", cfg_file, "backup", tmp_path / "b.db")
    assert result.exit_code == 1 and "no state database at" in result.output
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "s.db").exists()


def test_a_restored_backup_is_the_state(cfg_file, tmp_path):
    db = store.open_db(tmp_path / "s.db")
    db["tickets"].insert({"id": 7, "state": "written", "answer": "{}"})
    db.close()
    assert invoke("--config", cfg_file, "backup", tmp_path / "b.db").exit_code == 0
    for name in ("s.db", "s.db-wal", "s.db-shm"):  # the state is lost
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "b.db").rename(tmp_path / "s.db")  # docs/operating.md "Backups": restore = put the copy at state.path
    status = json.loads(invoke("--config", cfg_file, "status", "--json").output)
    assert status["tickets"]["written"] == 1
