"""Installable (issue 14 item 7): `pip install <repo>` into a fresh venv, then from an empty folder
`zdtriage config init && zdtriage config check` works with the secrets in the environment, `--version`
answers, and the wheel carries the LICENSE, the example config and the project metadata."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def repository_copy(target: Path) -> Path:
    """The files git would commit (tracked, and new ones not ignored): no .venv, no build leftovers."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow
def test_fresh_venv_install_then_init_and_check_from_an_empty_folder(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("needs git to list the repository's files")
    started = time.monotonic()
    source = repository_copy(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(source)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-3000:]
    zdtriage = venv / "bin" / "zdtriage"

    empty = tmp_path / "empty"
    empty.mkdir()
    # nothing of this repository or the test run leaks in: a clean environment and an empty folder
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(empty), "LANG": "C.UTF-8",
           "ZENDESK_API_TOKEN": "zd-install-test-1234", "ANTHROPIC_API_KEY": "sk-ant-install-test-5678"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(zdtriage), *args], cwd=empty, env=env, capture_output=True, text=True, timeout=60)

    init = run("config", "init")
    assert init.returncode == 0, init.stderr
    assert (empty / "config" / "zdtriage.toml").read_text() == (ROOT / "config" / "zdtriage.example.toml").read_text()
    untouched = run("config", "check")  # issue 20: the placeholders of `config init` cannot pass
    assert untouched.returncode == 2 and "zendesk.subdomain" in untouched.stderr and "CHANGE-ME" in untouched.stderr
    written = empty / "config" / "zdtriage.toml"
    written.write_text(
        written.read_text().replace('"CHANGE-ME"', '"acme"').replace("CHANGE-ME@example.com", "bot@acme.com")
    )
    check = run("config", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.rstrip().endswith("config OK")
    assert f'path = "{empty / "state" / "zdtriage.db"}"' in check.stdout
    assert "zd-install-test" not in check.stdout + check.stderr
    again = run("config", "init")
    assert again.returncode == 2 and "--force" in again.stderr

    version = run("--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout

    site = next((venv / "lib").glob("python3*/site-packages"))
    (dist,) = site.glob("zendesk_batch_triage-*.dist-info")
    assert (dist / "licenses" / "LICENSE").read_text().startswith("MIT License")
    metadata = (dist / "METADATA").read_text()
    for field in (
        "License-Expression: MIT",
        "Project-URL: Homepage",
        "Keywords: zendesk",
        "Classifier: Programming Language",
        "Requires-Python: >=3.11",
    ):
        assert field in metadata, field
    assert not (site / "tests").exists() and not (site / "config").exists()  # only the package is installed
    assert time.monotonic() - started < 120, "install test took longer than two minutes"
    assert os.path.exists(site / "zdtriage" / "data" / "zdtriage.example.toml")
    assert not (site / "integration").exists()  # the source folder is not a package: only zdtriage is installed
