"""``pipeline.settle_heap`` (issue 22): what the set-up leaves alive is taken out of every later full collection;
what the stages create afterwards is collected as before; ``zdtriage run`` settles it once, before any stage."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from click.testing import CliRunner

from zdtriage import pipeline, store
from zdtriage.cli import cli

ENV = {"ZENDESK_API_TOKEN": "zd-secret-value-123", "ANTHROPIC_API_KEY": "sk-ant-secret-value-456"}


class Node:
    """A reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_is_alive_is_frozen_and_later_garbage_is_still_collected():  # tests/conftest.py unfreezes
    early = Node()
    early_ref = weakref.ref(early)
    pipeline.settle_heap()
    assert gc.get_freeze_count() > 0
    late = Node()
    late_ref = weakref.ref(late)
    del early, late
    gc.collect()
    assert late_ref() is None  # created after: collected as before
    assert early_ref() is not None  # alive at start-up: out of the collector's sight, by design (run once)


def test_run_settles_the_heap_once_before_any_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = tmp_path / "zdtriage.toml"
    cfg.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    store.open_db(tmp_path / "s.db").close()
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "settle_heap", lambda: calls.append("settle"))
    monkeypatch.setattr(pipeline, "run_once", lambda ctx, on_stage=None: calls.append("stages") or [])
    result = CliRunner().invoke(cli, ["--config", str(cfg), "run", "--once"], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert calls == ["settle", "stages"]
