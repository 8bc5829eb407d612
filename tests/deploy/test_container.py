"""Build the Dockerfile with podman and run the image against the simulators (opt-in: about a minute).

    CONTAINER_TEST=1 .venv/bin/pytest -q tests/deploy/test_container.py

Settings (environment):
- ``CONTAINER_BASE``: the base image (default the Dockerfile's, python:3.12-slim-bookworm). Where no
  registry is reachable, make one from Debian's packages: ``mmdebstrap --variant=apt
  --include=python3,python3-venv,ca-certificates bookworm rootfs.tar && podman import rootfs.tar
  localhost/debian-python`` (add the host's CA bundle and ``PIP_CERT`` if TLS is intercepted).
- ``PODMAN``: the podman command (e.g. ``podman --runtime /usr/sbin/runc`` where crun cannot run).
- ``PODMAN_RUN_FLAGS``: extra ``run``/``build`` flags (e.g. ``--ulimit nofile=1024:4096 --ulimit
  nproc=1024:4096`` where the host forbids raising limits).

The containers use the host network to reach the simulators on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.zendesk import ZendeskSim

ROOT = Path(__file__).resolve().parents[2]
PODMAN = shlex.split(os.environ.get("PODMAN", "podman"))
FLAGS = shlex.split(os.environ.get("PODMAN_RUN_FLAGS", ""))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("CONTAINER_TEST"), reason="opt-in: CONTAINER_TEST=1 (builds an image)"),
    pytest.mark.skipif(shutil.which(PODMAN[0]) is None, reason="podman is not installed"),
]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args[:3])}: {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def image():
    tag = f"localhost/zendesk-batch-triage:test-{uuid.uuid4().hex[:8]}"
    args = ["build", "--format", "docker", *FLAGS, "-t", tag]
    if os.environ.get("CONTAINER_BASE"):
        args += ["--build-arg", f"PYTHON_IMAGE={os.environ['CONTAINER_BASE']}"]
    podman(*args, str(ROOT), timeout=900)
    yield tag
    podman("rmi", "-f", tag, check=False)


@pytest.fixture
def sims():
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token")
    asim = AnthropicSim(api_key="sim-key", processing_seconds=0.0)
    zurl, aurl = zsim.start(), asim.start()
    yield zsim, zurl, aurl
    zsim.stop()
    asim.stop()


@pytest.fixture
def volume():
    name = f"zdt-state-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", name)
    yield name
    podman("volume", "rm", "-f", name, check=False)


def env_args(zurl: str, aurl: str) -> list[str]:
    env = {"ZDTRIAGE_ZENDESK__SUBDOMAIN": "sim", "ZDTRIAGE_ZENDESK__EMAIL": "triage-bot@example.com",
           "ZDTRIAGE_ZENDESK__URL": zurl, "ZDTRIAGE_ZENDESK__START": "2020-01-01T00:00:00Z",
           "ZDTRIAGE_ANTHROPIC__BASE_URL": aurl, "ZDTRIAGE_ZENDESK__TOKEN_FILE": "/run/secrets/zendesk_token",
           "ZDTRIAGE_ANTHROPIC__API_KEY_FILE": "/run/secrets/anthropic_api_key"}
    return [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]


@pytest.fixture
def secrets(tmp_path):
    names = []
    for name, value in (("zendesk_token", "sim-token"), ("anthropic_api_key", "sim-key")):
        path = tmp_path / name
        path.write_text(value + "\n")
        secret = f"zdt-{name}-{uuid.uuid4().hex[:6]}"
        podman("secret", "create", secret, str(path))
        names.append((secret, name))
    yield [arg for secret, name in names for arg in ("--secret", f"{secret},target={name}")]
    for secret, _ in names:
        podman("secret", "rm", secret, check=False)


def test_image_runs_as_its_user_and_keeps_the_healthcheck(image):
    assert podman("run", "--rm", *FLAGS, "--entrypoint", "id", image).stdout.startswith("uid=10001(zdtriage)")
    health = json.loads(podman("image", "inspect", "--format", "{{json .HealthCheck}}", image).stdout)
    assert health["Test"] == ["CMD", "zdtriage", "status", "--check"]  # kept: built in docker format
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["StopSignal"] == "SIGTERM" and "/state" in config["Volumes"]


def test_image_triages_the_simulators_with_secret_files_and_state_in_the_volume(image, sims, volume, secrets):
    zsim, zurl, aurl = sims
    zsim.seed(8, 5)
    base = ["run", "--rm", *FLAGS, "--network", "host", "-v", f"{volume}:/state", *secrets, *env_args(zurl, aurl),
            image]
    check = podman(*base, "config", "check")
    assert "config OK" in check.stdout and "WARNING" not in check.stderr and "sim-token" not in check.stdout
    for _ in range(3):
        run = podman(*base, "run", "--once")
        lines = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
        assert {line["action"] for line in lines} >= {"ingest", "submit", "poll", "writeback"}
        time.sleep(1.5)  # the simulator's update_many jobs complete asynchronously
    status = json.loads(podman(*base, "status", "--json").stdout)
    assert status["tickets"]["written"] > 0
    listing = podman(
        "run", "--rm", *FLAGS, "-v", f"{volume}:/state", "--entrypoint", "ls", image, "-ln", "/state"
    ).stdout
    assert any(
        line.startswith("-rw------- 1 10001 10001") and line.endswith("zdtriage.db") for line in listing.splitlines()
    )


def test_sigterm_stops_the_daemon_cleanly(image, sims, volume, secrets):
    _, zurl, aurl = sims
    name = f"zdt-daemon-{uuid.uuid4().hex[:6]}"
    podman("run", "-d", "--name", name, *FLAGS, "--network", "host", "-v", f"{volume}:/state", *secrets,
           *env_args(zurl, aurl), image)
    try:
        deadline = time.monotonic() + 30
        while "writeback" not in podman("logs", name).stderr and time.monotonic() < deadline:
            time.sleep(0.5)
        started = time.monotonic()
        podman("stop", "-t", "660", name, timeout=700)
        assert time.monotonic() - started < 30  # idle: nothing to finish
        assert podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip() == "0"
        actions = [
            json.loads(line)["action"] for line in podman("logs", name).stderr.splitlines() if line.startswith("{")
        ]
        assert actions[-2:] == ["stop", "stopped"]
    finally:
        podman("rm", "-f", name, check=False)
