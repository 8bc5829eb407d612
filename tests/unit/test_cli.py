"""The CLI: exit codes, one-line config errors, JSON keys of DESIGN §3, every command documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zdtriage import store
from zdtriage.cli import cli
from zdtriage.store import tickets as queue

ROOT = Path(__file__).resolve().parents[2]
ENV = {"ZENDESK_API_TOKEN": "zd-secret-value-123", "ANTHROPIC_API_KEY": "sk-ant-secret-value-456"}


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    store.open_db(tmp_path / "s.db").close()  # as after a first run
    return path


def invoke(*args, env=ENV):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def test_config_check_masks_secrets(cfg_file):
    result = invoke("--config", cfg_file, "config", "check")
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output and "subdomain" in result.output
    for secret in ENV.values():
        assert secret not in result.output


@pytest.mark.parametrize("body, key", [
    ('[zendesk]\nsubdomain = "acme"\n', "zendesk.email"),
    ('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[anthropic]\nmax_tokens = "lots"\n', "anthropic.max_tokens"),
    ('[zendesk\n', "not valid TOML"),
    ('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\nbogus = 1\n', "zendesk.bogus"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, body, key):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = invoke("--config", path, "config", "check")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0]
    assert "Traceback" not in result.output


def test_missing_secret_exits_2(cfg_file):
    result = invoke("--config", cfg_file, "run", "--once", env={"ZENDESK_API_TOKEN": "x"})
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.output


def test_config_path_from_environment(cfg_file):
    result = invoke("config", "check", env={**ENV, "ZDTRIAGE_CONFIG": str(cfg_file)})
    assert result.exit_code == 0


def test_status_json_keys(cfg_file):
    result = invoke("--config", cfg_file, "status", "--json")
    data = json.loads(result.output)
    assert set(data["tickets"]) == {"queued", "submitted", "answered", "written", "failed", "dead", "skipped"}
    assert {"batches_open", "spend_today_usd"} <= set(data)


def test_status_works_without_secrets(cfg_file):
    assert invoke("--config", cfg_file, "status", env={}).exit_code == 0


def test_estimate_hypothetical_matches_hand_figures(cfg_file):
    result = invoke("--config", cfg_file, "estimate", "--tickets", 10000, "--input-tokens", 2500,
                    "--output-tokens", 1200, "--json")
    models = {m["model"]: m for m in json.loads(result.output)["models"]}
    assert models["claude-haiku-4-5"]["batch_usd"] == 42.50
    assert models["claude-haiku-4-5"]["standard_usd"] == 85.00
    assert models["claude-sonnet-4-6"]["batch_usd"] == 127.50
    assert models["claude-opus-4-7"]["batch_usd"] == 212.50
    assert set(models["claude-haiku-4-5"]) >= {
        "model",
        "tickets",
        "input_tokens",
        "output_tokens",
        "standard_usd",
        "batch_usd",
    }


def test_estimate_hypothetical_needs_all_three(cfg_file):
    assert invoke("--config", cfg_file, "estimate", "--tickets", 5).exit_code == 2


def test_report_json_keys(cfg_file):
    data = json.loads(invoke("--config", cfg_file, "report", "--json").output)
    assert {"tickets_written", "cost_usd", "cost_per_ticket_usd", "error_rate", "submit_to_written_seconds",
            "by_priority", "by_category", "by_sentiment"} <= set(data)
    assert set(data["submit_to_written_seconds"]) == {"median", "p95"}


def test_report_bad_date_exits_2(cfg_file):
    result = invoke("--config", cfg_file, "report", "--since", "last tuesday")
    assert result.exit_code == 2 and "--since" in result.output


def test_status_on_a_missing_database_says_so_and_creates_nothing(cfg_file, tmp_path):
    (tmp_path / "s.db").unlink()
    for command in (["status"], ["report"], ["estimate"]):
        result = invoke("--config", cfg_file, *command)
        assert result.exit_code == 1 and "no state database" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.db").exists()


def test_a_corrupt_database_is_one_line_and_exit_1(cfg_file, tmp_path):
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    for command in (["status"], ["retry"], ["report", "--json"]):
        result = invoke("--config", cfg_file, *command)
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
        assert "not a readable SQLite database" in result.output


def test_status_and_report_work_on_a_read_only_database(cfg_file, tmp_path):
    import os

    db = store.open_db(tmp_path / "s.db")
    db["tickets"].insert({"id": 1, "state": "written", "answer": "{}"})
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for name in ("s.db-wal", "s.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    os.chmod(tmp_path / "s.db", 0o400)
    before = (tmp_path / "s.db").read_bytes()
    assert json.loads(invoke("--config", cfg_file, "status", "--json").output)["tickets"]["written"] == 1
    assert json.loads(invoke("--config", cfg_file, "report", "--json").output)["tickets_written"] == 1
    assert (tmp_path / "s.db").read_bytes() == before  # opened read-only: nothing migrated, nothing written


def test_a_restored_world_readable_database_is_tightened(cfg_file, tmp_path):
    import os
    import stat

    for name in ("s.db", "s.db-wal", "s.db-shm"):
        (tmp_path / name).touch()
        os.chmod(tmp_path / name, 0o644)
    (tmp_path / "s.db").unlink()
    store.open_db(tmp_path / "s.db").close()
    os.chmod(tmp_path / "s.db", 0o644)
    store.open_db(tmp_path / "s.db")
    for name in ("s.db", "s.db-wal", "s.db-shm"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name


def test_retry_moves_failed_and_with_dead_flag_dead(cfg_file, tmp_path):
    db = store.open_db(tmp_path / "s.db")
    db["tickets"].insert_all([{"id": 1, "state": "failed"}, {"id": 2, "state": "dead"}, {"id": 3, "state": "written"}])
    db.close()
    assert "1 ticket(s)" in invoke("--config", cfg_file, "retry").output
    assert "1 ticket(s)" in invoke("--config", cfg_file, "retry", "--dead", "--ticket", 2).output
    db = store.open_db(tmp_path / "s.db")
    assert queue.counts(db)["queued"] == 2 and queue.counts(db)["written"] == 1


def test_second_daemon_on_same_state_exits_2(cfg_file, tmp_path):
    from zdtriage.daemon import single_instance

    with single_instance(str(tmp_path / "s.db")):
        result = invoke("--config", cfg_file, "run", "--once")
    assert result.exit_code == 2 and "another zdtriage process" in result.output


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    names = [n for n in cli.list_commands(click.Context(cli)) if n != "config"] + ["config check"]
    for name in names:
        assert re.search(rf"zdtriage {name}\b", readme), f"`zdtriage {name}` missing from README"
