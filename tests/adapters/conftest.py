"""Replay-only vcrpy setup for the adapter cassette tests.

Cassettes live in tests/cassettes/ and are built by tests/cassettes/build_cassettes.py from the
recorded real responses; nothing here records or rebuilds them. ``record_mode="none"``: a request
that no cassette interaction matches raises ``CannotOverwriteExistingCassetteException`` instead of
reaching the network.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import vcr
import yaml

from zdtriage.config import Config, parse

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
FILTER_HEADERS = ("authorization", "x-api-key", "cookie")
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"})

ZENDESK_TOKEN = "fake-zendesk-token"
ANTHROPIC_KEY = "sk-ant-fake-key-for-cassettes"


def make_vcr(**overrides: Any) -> vcr.VCR:
    options: dict[str, Any] = {
        "cassette_library_dir": str(CASSETTES),
        "record_mode": "none",
        "match_on": list(MATCH_ON),
        "filter_headers": list(FILTER_HEADERS),
    }
    options.update(overrides)
    return vcr.VCR(**options)


@pytest.fixture
def replay() -> vcr.VCR:
    return make_vcr()


@pytest.fixture
def make_replay() -> Any:
    """``make_replay(**vcr_options)``: a replay-only VCR with extra options (e.g. more matchers)."""
    return make_vcr


@pytest.fixture(autouse=True)
def _real_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """No simulator overrides: zenpy builds https://example.zendesk.com, the SDK https://api.anthropic.com."""
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC", "ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS",
                 "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cfg() -> Config:
    return parse(
        {"zendesk": {"subdomain": "example", "email": "user@example.com"}},
        {"ZENDESK_API_TOKEN": ZENDESK_TOKEN, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    )


@pytest.fixture
def builder() -> ModuleType:
    return load_builder()


@pytest.fixture
def no_secrets() -> Any:
    """``no_secrets(name)`` asserts a cassette carries no credential (see :func:`assert_no_secrets`)."""
    return assert_no_secrets


def load_builder() -> ModuleType:
    """tests/cassettes/build_cassettes.py as a module (it is a script, not a package)."""
    name = "zdtriage_build_cassettes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CASSETTES / "build_cassettes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_no_secrets(name: str) -> None:
    """No credential header in any request or response, and no credential value anywhere."""
    text = (CASSETTES / name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["interactions"], name
    for i, interaction in enumerate(data["interactions"]):
        for part in ("request", "response"):
            headers = {h.lower() for h in (interaction[part].get("headers") or {})}
            assert not headers & SECRET_HEADERS, f"{name} [{i}] {part} carries {sorted(headers & SECRET_HEADERS)}"
    for needle in (ZENDESK_TOKEN, ANTHROPIC_KEY, "Basic ", "Bearer ", "sk-ant-"):
        assert needle not in text, f"{name} contains {needle!r}"
