"""bench.startup's figures from stubbed runs: the least CPU, each round's own ratio, the instruction counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is scripts at the root, not installed
from bench import startup


def test_the_least_cpu_the_rounds_median_and_the_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    # three rounds; python -c pass is slow in the second one, and so is every command measured right after it
    cpu = {"pass": [0.020, 0.030, 0.021], "libraries": [0.100, 0.150, 0.104],
           "version": [0.1, 0.15, 0.1], "status": [0.110, 0.180, 0.140], "status_check": [0.1, 0.15, 0.1],
           "report": [0.1, 0.15, 0.1]}
    seen: dict[str, int] = {}

    def measure(args: list[str], env: dict[str, str]) -> tuple[float, list[str]]:
        name = _name(args)
        seen[name] = seen.get(name, 0) + 1
        return cpu[name][seen[name] - 1], []

    counts = {"pass": 40_000_000, "libraries": 200_000_000, "status": 250_000_000}
    monkeypatch.setattr(startup, "measure", measure)
    monkeypatch.setattr(startup, "instructions", lambda args, env: counts.get(_name(args)))
    out = startup.run(3, count=True)
    status = out["commands"]["status"]
    assert out["python_pass_cpu_s"] == 0.020 and status["cpu_s"] == 0.110 and status["x_pass"] == 5.5
    assert status["x_pass_median"] == 6.0  # the rounds' own ratios: 5.5, 6.0, 6.67
    assert status["instructions"] == 250_000_000 and status["instructions_x_pass"] == 6.25
    assert out["libraries"]["x_pass"] == 5.0 and out["libraries"]["instructions_x_pass"] == 5.0
    assert "instructions" not in out["commands"]["report"]  # not counted (no valgrind, or no count): not shown
    seen.clear()
    without = startup.run(1)
    assert "python_pass_instructions" not in without and "instructions" not in without["commands"]["status"]


def _name(args: list[str]) -> str:
    if args[-1] == "pass":
        return "pass"
    if args[-1].startswith("import "):
        return "libraries"
    tail = args[args.index("--config") + 2:]
    return {("--version",): "version", ("status",): "status", ("status", "--check"): "status_check",
            ("report",): "report"}[tuple(tail)]


def test_instructions_reads_callgrinds_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup.shutil, "which", lambda name: "/usr/bin/valgrind")

    def fake_run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args[:2] == ["/usr/bin/valgrind", "--tool=callgrind"]
        return subprocess.CompletedProcess(args, 0, "", "==1== Events    : Ir\n==1== Collected : 38952346\n")

    monkeypatch.setattr(startup.subprocess, "run", fake_run)
    assert startup.instructions(["python", "-c", "pass"], {}) == 38952346
    monkeypatch.setattr(startup.shutil, "which", lambda name: None)
    assert startup.instructions(["python", "-c", "pass"], {}) is None
