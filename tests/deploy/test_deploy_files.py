"""The Dockerfile, compose.yaml and the systemd unit, checked against the code they run: every command and
flag they use exists, every ZDTRIAGE_ variable they set is a config key that validates, the secret names and
paths agree, the state lives where the volume is, and the stop grace outlasts the longest call a stage makes.
(No Docker engine here; tests/deploy/test_container.py builds and runs the image with podman when asked.)"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml

from zdtriage import batches
from zdtriage.cli import cli
from zdtriage.config import DEFAULT_PATH, AnthropicConfig, parse

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def instructions(name: str) -> list[str]:
    return [args for word, args in dockerfile() if word == name]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in instructions("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def unit() -> list[tuple[str, str, str]]:
    """(section, key, value) of deploy/zdtriage.service, repeated keys kept in order."""
    section, out = "", []
    for line in (ROOT / "deploy" / "zdtriage.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            out.append((section, key, value))
    return out


def unit_values(key: str) -> list[str]:
    return [v for _, k, v in unit() if k == key]


def unit_env() -> dict[str, str]:
    env = {}
    for value in unit_values("Environment"):
        for item in shlex.split(value):
            k, _, v = item.partition("=")
            env[k] = v
    return env


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def service() -> dict:
    (svc,) = compose()["services"].values()
    return svc


def assert_cli_accepts(argv: list[str]) -> None:
    """``zdtriage <argv>``: the group options, the command and its options all exist."""
    group = {o: p for p in cli.params for o in p.opts}
    args = list(argv)
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        name = flag.split("=")[0]
        assert name in group, f"zdtriage has no option {name}"
        if "=" not in flag and not getattr(group[name], "is_flag", False):
            args.pop(0)  # its value
    assert args, "no command"
    command = cli.get_command(click.Context(cli), args[0])  # the lazily imported commands too
    assert command is not None, f"zdtriage has no command {args[0]!r}"
    opts = {o for p in command.params for o in p.opts}
    for arg in args[1:]:
        if arg.startswith("-"):
            flag = arg.split("=")[0]
            assert flag in opts, f"`zdtriage {args[0]}` has no option {flag}"


def secret_files(tmp_path: Path, env: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """``env`` with each *_FILE path replaced by a file under tmp_path holding a dummy secret."""
    out = dict(env)
    for var, path in env.items():
        if var.endswith("_FILE") and path in names:
            target = tmp_path / names[path]
            target.write_text(f"dummy-{names[path]}-value\n")
            target.chmod(0o400)
            out[var] = str(target)
    return out


def longest_call_seconds() -> float:
    # a stage finishes its running call on SIGTERM; the Anthropic client's timeout is the longest one
    return float(batches.make_client(AnthropicConfig(api_key="x")).timeout)


def seconds(text: str) -> float:
    total = 0.0
    for number, unit_ in re.findall(r"(\d+(?:\.\d+)?)\s*(min|m|s|h)?", text):
        total += float(number) * {"min": 60, "m": 60, "h": 3600, "s": 1, "": 1}[unit_ or ""]
    return total


# --- Dockerfile -------------------------------------------------------------------------------------------

def test_dockerfile_uses_a_slim_python_base_in_every_stage():
    (arg,) = [a for a in instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]-slim(-\w+)?", arg)
    assert all(f.startswith("${PYTHON_IMAGE}") for f in instructions("FROM"))


def test_dockerfile_runs_as_an_unprivileged_user_it_creates():
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid not in ("0", "root") and gid not in ("0", "root")
    run = " ".join(instructions("RUN"))
    assert f"--uid {uid}" in run and f"--gid {gid}" in run


def test_state_lives_in_the_state_volume_owned_by_that_user():
    assert any("/state" in v for v in instructions("VOLUME"))
    assert dockerfile_env()["ZDTRIAGE_STATE__PATH"].startswith("/state/")
    (user,) = instructions("USER")
    assert f"chown {user} /state" in " ".join(instructions("RUN"))


def test_dockerfile_commands_exist():
    (entry,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    import json

    entry_argv, cmd_argv = json.loads(entry), json.loads(cmd)
    assert entry_argv == ["zdtriage"]
    assert_cli_accepts(cmd_argv)
    (health,) = instructions("HEALTHCHECK")
    assert re.search(r"--interval=\d+s", health) and re.search(r"--timeout=\d+s", health)
    health_argv = json.loads(health.split("CMD", 1)[1])
    assert health_argv[0] == "zdtriage"
    assert_cli_accepts(health_argv[1:])


def test_dockerfile_stops_with_sigterm_and_copies_only_what_exists():
    assert instructions("STOPSIGNAL") == ["SIGTERM"]
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    for copy in instructions("COPY"):
        if "--from=" in copy:
            continue
        *sources, _dest = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            # .dockerignore: the last matching pattern wins, "!" re-includes
            included = True
            for pattern in ignore:
                negate = pattern.startswith("!")
                if fnmatch.fnmatch(source.rstrip("/"), pattern.lstrip("!").rstrip("/")):
                    included = negate
            assert included, f"COPY {source} is excluded by .dockerignore"


def test_dockerfile_environment_is_valid_configuration():
    env = {**dockerfile_env(), "ZDTRIAGE_ZENDESK__SUBDOMAIN": "acme", "ZDTRIAGE_ZENDESK__EMAIL": "a@b.c"}
    cfg = parse({}, env, need_secrets=False)
    assert cfg.state.path == "/state/zdtriage.db"
    assert env["ZDTRIAGE_LOG_FORMAT"] in ("text", "json")


# --- compose.yaml -----------------------------------------------------------------------------------------

def test_compose_secrets_reach_the_secret_file_keys(tmp_path):
    svc = service()
    declared = compose()["secrets"]
    assert set(svc["secrets"]) == set(declared)
    env = {k: str(v) for k, v in svc["environment"].items()}
    paths = {f"/run/secrets/{name}": name for name in svc["secrets"]}
    assert env["ZDTRIAGE_ZENDESK__TOKEN_FILE"] in paths and env["ZDTRIAGE_ANTHROPIC__API_KEY_FILE"] in paths
    for spec in declared.values():
        assert spec["file"].startswith("./secrets/")  # git-ignored
    cfg = parse({}, secret_files(tmp_path, {**dockerfile_env(), **env}, paths))
    assert cfg.zendesk.token == "dummy-zendesk_token-value"
    assert cfg.anthropic.api_key == "dummy-anthropic_api_key-value"
    assert "/secrets/" in (ROOT / ".gitignore").read_text()


def test_compose_keeps_state_in_a_volume_and_mounts_config_where_the_image_reads_it():
    svc = service()
    assert any(v.split(":")[1] == "/state" for v in svc["volumes"])
    text = (ROOT / "compose.yaml").read_text()
    (workdir,) = instructions("WORKDIR")[-1:]
    assert f":{workdir}/{DEFAULT_PATH}:ro" in text  # the commented config mount matches the image's default path


def test_compose_grace_period_outlasts_the_longest_call():
    grace = seconds(service()["stop_grace_period"])
    assert grace > longest_call_seconds()
    assert service()["read_only"] is True and "ALL" in service()["cap_drop"]


# --- systemd ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("Restart", "on-failure"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
    ("ProtectHome", "yes"), ("StateDirectory", "zdtriage"), ("KillSignal", "SIGTERM"),
    ("RestartPreventExitStatus", "2"),
])
def test_unit_has_the_baseline(key, value):
    assert value in unit_values(key)


def test_unit_credentials_reach_the_secret_file_keys(tmp_path):
    creds = dict(v.split(":", 1) for v in unit_values("LoadCredential"))
    env = unit_env()
    assert env["ZDTRIAGE_ZENDESK__TOKEN_FILE"] == "%d/zendesk_token" and "zendesk_token" in creds
    assert env["ZDTRIAGE_ANTHROPIC__API_KEY_FILE"] == "%d/anthropic_api_key" and "anthropic_api_key" in creds
    resolved = {k: v.replace("%S", str(tmp_path / "var")).replace("%E", str(tmp_path / "etc")) for k, v in env.items()
                if k != "ZDTRIAGE_CONFIG"}
    resolved["ZDTRIAGE_ZENDESK__SUBDOMAIN"], resolved["ZDTRIAGE_ZENDESK__EMAIL"] = "acme", "a@b.c"
    cfg = parse({}, secret_files(tmp_path, resolved, {f"%d/{name}": name for name in creds}))
    assert cfg.zendesk.token == "dummy-zendesk_token-value"
    assert cfg.state.path == str(tmp_path / "var" / "zdtriage" / "zdtriage.db")  # inside StateDirectory


def test_unit_command_exists_and_stop_timeout_fits_the_longest_stage():
    (exec_start,) = unit_values("ExecStart")
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/zdtriage")
    assert_cli_accepts(argv[1:])
    (timeout,) = unit_values("TimeoutStopSec")
    assert seconds(timeout) > longest_call_seconds()
    assert seconds(timeout) == seconds(service()["stop_grace_period"])  # one documented grace everywhere


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    binary = shutil.which("zdtriage") or str(Path(__import__("sys").executable).parent / "zdtriage")
    text = (ROOT / "deploy" / "zdtriage.service").read_text().replace("/opt/zdtriage/bin/zdtriage", binary)
    path = tmp_path / "zdtriage.service"
    path.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
