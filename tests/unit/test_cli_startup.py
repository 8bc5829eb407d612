"""Commands that never call Anthropic do not import its SDK, nor zenpy when they never call Zendesk: each
command runs in a fresh interpreter, which then reports the client libraries it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zdtriage import store

CLIENTS = ("anthropic", "zenpy", "requests", "httpx")
PROBE = """
import json, sys
from zdtriage import cli
try:
    cli.cli(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps([m for m in {clients!r} if m in sys.modules]), file=sys.stderr)
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "zdtriage.toml"
    path.write_text(
        f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n\n[state]\npath = "{tmp_path / "state.db"}"\n'
    )
    store.open_db(tmp_path / "state.db")
    return path


def imported(config, *args: str) -> list[str]:
    env = {**os.environ, "ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-c", PROBE.format(clients=CLIENTS), "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["status", "--json"], ["report", "--json"], ["report", "--since", "2026-01-01"],
                                  ["config", "check"], ["estimate", "--json"], ["retry", "--dead"],
                                  ["estimate", "--tickets", "10", "--input-tokens", "5", "--output-tokens", "5"]])
def test_commands_without_a_client_import_no_client_library(config, args):
    assert imported(config, *args) == []


def test_the_probe_sees_an_sdk_when_a_command_makes_its_client(config):
    assert "anthropic" in imported(config, "estimate", "--exact", "--json")  # nothing queued: no call made


NO_PIPELINE = ("pydantic", "anthropic", "zenpy", "requests", "zdtriage.pipeline", "zdtriage.stages")


@pytest.mark.parametrize("args", [["--version"], ["status"], ["status", "--check"], ["report"]])
def test_commands_that_need_no_pipeline_import_neither_pydantic_nor_a_stage(config, args):
    """Issue 22: pydantic (through pipeline → stages → prompt → answer) was most of their start-up CPU."""
    env = {**os.environ, "ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-c", PROBE.format(clients=NO_PIPELINE), "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode in (0, 1), done.stderr  # status --check on an empty database may say unhealthy
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_import_of_the_cli_alone_loads_no_pydantic_nor_client():
    done = subprocess.run([sys.executable, "-c", "import sys, json, zdtriage.cli; "
                           f"print(json.dumps([m for m in {NO_PIPELINE!r} if m in sys.modules]))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
