"""Top-level options (--log-format, --log-level, --version), `config init` and `config check` (issue 14, items 5-7)."""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from zdtriage import logs
from zdtriage.cli import cli

ENV = {"ZENDESK_API_TOKEN": "zd-secret-value-123", "ANTHROPIC_API_KEY": "sk-ant-secret-value-456"}
EXAMPLE = files("zdtriage").joinpath("data/zdtriage.example.toml").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs._secrets.clear()


def invoke(*args, env=ENV):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def test_config_init_then_check_from_an_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("config", "init")
    assert result.exit_code == 0, result.output
    written = tmp_path / "config" / "zdtriage.toml"
    assert written.read_text() == EXAMPLE
    untouched = invoke("config", "check")
    assert untouched.exit_code == 2 and "zendesk.subdomain" in untouched.output and "CHANGE-ME" in untouched.output
    written.write_text(EXAMPLE.replace('"CHANGE-ME"', '"acme"').replace("CHANGE-ME@example.com", "bot@acme.com"))
    check = invoke("config", "check")
    assert check.exit_code == 0, check.output
    assert "config OK" in check.output
    assert f'path = "{tmp_path / "state" / "zdtriage.db"}"' in check.output


def test_config_init_never_overwrites_without_force(tmp_path):
    target = tmp_path / "mine.toml"
    target.write_text("# my edits\n")
    result = invoke("config", "init", "--path", target)
    assert result.exit_code == 2 and "--force" in result.output
    assert target.read_text() == "# my edits\n"
    assert invoke("config", "init", "--path", target, "--force").exit_code == 0
    assert target.read_text() == EXAMPLE


def test_config_init_writes_where_config_points(tmp_path):
    target = tmp_path / "etc" / "zdtriage.toml"
    assert invoke("--config", target, "config", "init").exit_code == 0
    assert target.read_text() == EXAMPLE
    assert invoke("config", "init", env={"ZDTRIAGE_CONFIG": str(tmp_path / "env.toml")}).exit_code == 0
    assert (tmp_path / "env.toml").exists()


def test_config_init_into_a_folder_is_refused(tmp_path):
    result = invoke("config", "init", "--path", tmp_path)
    assert result.exit_code == 2 and "is a directory" in result.output


def test_config_check_names_the_sources_and_masks_file_secrets(tmp_path):
    token = tmp_path / "zendesk_token"
    token.write_text("zd-file-secret-999\n")
    token.chmod(0o644)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    env = {**ENV, "ZDTRIAGE_ZENDESK__TOKEN_FILE": str(token), "ZDTRIAGE_TRIAGE__SAMPLE": "0.1"}
    result = invoke("--config", cfg, "config", "check", env=env)
    assert result.exit_code == 0, result.output
    assert f"# file: {cfg}" in result.output
    assert "# from the environment: ZDTRIAGE_TRIAGE__SAMPLE, ZDTRIAGE_ZENDESK__TOKEN_FILE" in result.output
    assert "sample = 0.1" in result.output
    assert f'token = "**** (set, from {token})"' in result.output
    assert "WARNING: zendesk.token_file" in result.stderr and "readable by every user" in result.stderr
    assert "zd-file-secret" not in result.output


def test_config_check_from_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {**ENV, "ZDTRIAGE_ZENDESK__SUBDOMAIN": "acme", "ZDTRIAGE_ZENDESK__EMAIL": "bot@acme.com"}
    result = invoke("config", "check", env=env)
    assert result.exit_code == 0, result.output
    assert "# file: (none: environment only)" in result.output


def test_a_bad_variable_exits_2_naming_it(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n')
    result = invoke("--config", cfg, "config", "check", env={**ENV, "ZDTRIAGE_BUDGET__DAILY_USD": "inf"})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "ZDTRIAGE_BUDGET__DAILY_USD" in lines[0] and "budget.daily_usd" in lines[0]


def test_version():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and version("zendesk-batch-triage") in result.output


@pytest.mark.parametrize("args, env", [
    (["--log-format", "json"], {}),
    ([], {"ZDTRIAGE_LOG_FORMAT": "json"}),
])
def test_log_format_json_from_flag_or_environment(tmp_path, args, env):
    # run --once against a closed port: ingest fails fast and its stage line is logged
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\nurl = "http://127.0.0.1:9"\n'
                   f'start = "2026-01-01T00:00:00Z"\n[anthropic]\nbase_url = "http://127.0.0.1:9"\n'
                   f'[state]\npath = "{tmp_path}/s.db"\n')
    result = CliRunner().invoke(cli, [*args, "--config", str(cfg), "run", "--once"], env={**ENV, **env})
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    ingest = [line for line in lines if line["action"] == "ingest"]
    assert ingest and ingest[0]["level"] == "WARNING" and "ts" in ingest[0]
    assert all(secret not in result.output for secret in ENV.values())


def test_log_level_from_the_environment_and_a_bad_one_names_the_variable():
    assert invoke("config", "--help", env={"ZDTRIAGE_LOG_LEVEL": "warning"}).exit_code == 0
    assert logging.getLogger().level == logging.WARNING
    result = invoke("config", "--help", env={"ZDTRIAGE_LOG_LEVEL": "loud"})
    assert result.exit_code == 2 and "ZDTRIAGE_LOG_LEVEL" in result.output


def test_every_top_level_option_is_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for option in ("--log-format", "--log-level", "--version", "ZDTRIAGE_LOG_FORMAT", "ZDTRIAGE_LOG_LEVEL",
                   "zdtriage config init"):
        assert option in readme, option


def test_config_warnings_are_logged_once_by_other_commands(tmp_path):
    token = tmp_path / "zendesk_token"
    token.write_text("zd-file-secret-999\n")
    token.chmod(0o644)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\ntoken_file = "zendesk_token"\n'
                   f'[state]\npath = "{tmp_path}/s.db"\n')
    result = invoke("--log-format", "json", "--config", cfg, "run", "--once",
                    env={"ANTHROPIC_API_KEY": ENV["ANTHROPIC_API_KEY"], "ZDTRIAGE_ZENDESK__URL": "http://127.0.0.1:9"})
    warnings = [json.loads(line) for line in result.stderr.splitlines() if '"config_warning"' in line]
    assert len(warnings) == 1 and "readable by every user" in warnings[0]["message"]
    assert "zd-file-secret" not in result.output
    check = invoke("--config", cfg, "config", "check", env={"ANTHROPIC_API_KEY": ENV["ANTHROPIC_API_KEY"]})
    assert check.stderr.count("readable by every user") == 1
