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


# -- issue 22: the start-up of --version, status, status --check and report --------------------------------------

# what each of them imported before and no longer needs: sqlite-utils (with dateutil, and importlib.metadata for
# its plugin scan), importlib.metadata for the version, pathlib for the config's and the state's paths; the whole
# entry point runs (exit status and all)
HEAVY = ("sqlite_utils", "dateutil", "importlib.metadata", "pathlib", "pydantic", "zenpy", "anthropic", "requests",
         "zdtriage.pipeline", "zdtriage.stages")
MAIN_PROBE = """
import json, sys
sys.argv[0] = "zdtriage"
try:
    from zdtriage.cli import main
    main()
finally:
    print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
"""


def run_main(config, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    return subprocess.run([sys.executable, "-c", MAIN_PROBE.format(heavy=HEAVY), "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)


EMPTY_STATUS = """unhealthy: no stage has ever run: is the service (zdtriage run) running?
tickets: queued 0, submitted 0, answered 0, written 0, failed 0, dead 0, skipped 0
batches open: 0
spend today: $0.0000 spent, $0.0000 reserved of $50.00
error rate: n/a (no ticket finished yet)
comment events: not yet read; 0 queued ticket(s) wait for their conversation
"""


@pytest.mark.parametrize("args, code, out", [
    (["status"], 0, EMPTY_STATUS),
    (["status", "--check"], 1, "unhealthy: no stage has ever run: is the service (zdtriage run) running?\n"),
    (["report"], 0, "no ticket written or given up yet\n"),
])
def test_status_and_report_import_neither_sqlite_utils_nor_importlib_metadata(config, args, code, out):
    done = run_main(config, *args)
    assert (done.returncode, done.stdout) == (code, out), done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_version_imports_no_store_and_prints_the_installed_version(config):
    from importlib.metadata import version

    done = run_main(config, "--version")
    assert (done.returncode, done.stdout) == (0, f"zdtriage, version {version('zendesk-batch-triage')}\n")
    # importlib.metadata stays allowed here (the fallback of zdtriage.installed_version); nothing else
    assert [m for m in json.loads(done.stderr.strip().splitlines()[-1]) if m != "importlib.metadata"] == []


def test_the_version_read_without_importlib_metadata_is_importlib_metadatas():
    from importlib.metadata import version

    import zdtriage

    assert zdtriage.installed_version() == zdtriage.__version__ == version("zendesk-batch-triage")
    done = subprocess.run([sys.executable, "-c", "import sys, zdtriage; print(zdtriage.__version__, "
                           "'importlib.metadata' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == [version("zendesk-batch-triage"), "False"], done.stderr


EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("FROZEN", gc.get_freeze_count(), file=sys.stderr))  # first registered: runs last
sys.argv[0] = "zdtriage"
from zdtriage.cli import main
main()
"""


@pytest.mark.parametrize("args, code", [(["status"], 0), (["report", "--since", "not a time"], 2)])
def test_the_entry_point_leaves_the_imports_to_the_exit_not_to_a_last_collection(config, args, code):
    """Issue 22: the interpreter's last collection walked every object the imports made, about a tenth of
    status's CPU; frozen on the way out, whatever the exit status, and the atexit handlers still run."""
    env = {**os.environ, "ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE, "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == code, done.stderr
    frozen = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("FROZEN ")]
    assert frozen and frozen[0] > 10_000  # the imports' objects: click's, the config's, the store's


@pytest.mark.parametrize("raised, code", [(None, 0), (KeyboardInterrupt, 130)])
def test_main_freezes_once_after_the_command_whatever_it_ends_with(monkeypatch, raised, code):
    from zdtriage import cli

    calls: list[str] = []
    monkeypatch.setattr(cli.gc, "freeze", lambda: calls.append("freeze"))

    def command(**_kwargs: object) -> None:
        calls.append("command")
        if raised:
            raise raised
        sys.exit(0)

    monkeypatch.setattr(cli, "cli", command)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == code and calls == ["command", "freeze"]


def test_the_commands_kept_in_their_own_modules_are_imported_only_when_named():
    """Issue 22: cli_tools, cli_doctor and cli_admin (and their options) were built by every command."""
    probe = ("import sys, json, click; from zdtriage.cli import cli; ctx = click.Context(cli); "
             "before = [m for m in ('zdtriage.cli_tools', 'zdtriage.cli_doctor', 'zdtriage.cli_admin') "
             "if m in sys.modules]; names = cli.list_commands(ctx); "
             "print(json.dumps([before, names, cli.get_command(ctx, 'doctor').name, "
             "'zdtriage.cli_doctor' in sys.modules, 'zdtriage.cli_tools' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    before, names, doctor, doctor_loaded, tools_loaded = json.loads(done.stdout)
    assert before == [] and doctor == "doctor" and doctor_loaded and not tools_loaded
    assert {"backup", "config", "demo", "doctor", "evaluate", "resume", "sim", "status", "run"} <= set(names)
    assert names == sorted(names)
