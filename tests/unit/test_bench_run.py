"""``make bench`` (bench/run.py): every scenario runs in turn, the load before each is printed with the table, and
the raw results (with those loads) go to ``--json`` (issue 22: every figure beside the load it ran under)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is scripts at the root, not installed
from bench import run


def test_main_prints_the_load_before_each_scenario(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []

    def scenario(module: str, *args: object, **_: Any) -> dict[str, Any]:
        asked.append(module)
        return {"split": {"api_max": {}, "default": {}}}.get(module) or {}

    monkeypatch.setattr(run, "scenario", scenario)
    monkeypatch.setattr(run, "load", lambda: "0.50 / 0.40 / 0.30")
    monkeypatch.setattr(run, "rows", lambda r: [("figure", "1", "-", "info")])
    out = tmp_path / "out.json"
    assert run.main(["--quick", "--json", str(out)]) == 0
    assert asked == ["split", "day", "backlog", "backlog", "backlog", "backlog", "ceiling", "ceiling"]
    printed = capsys.readouterr().out
    assert "Load average (1 / 5 / 15 min) before each scenario: split 0.50 / 0.40 / 0.30; day 0.50" in printed
    assert "| figure | 1 " in printed
    assert json.loads(out.read_text())["load_average"]["ceiling_300"] == "0.50 / 0.40 / 0.30"
