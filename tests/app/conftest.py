"""Fixtures for the Zendesk app tests (tests/app)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import ROOT, load_json


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def manifest() -> dict:
    return load_json(ROOT / "manifest.json")


@pytest.fixture(scope="session")
def requirements() -> dict:
    return load_json(ROOT / "requirements.json")


@pytest.fixture(scope="session")
def translations(manifest) -> dict:
    return load_json(ROOT / "translations" / f"{manifest['defaultLocale']}.json")
