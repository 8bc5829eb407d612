"""For every test: a ``zdtriage run`` invoked in-process freezes the collector's view of what is alive
(``pipeline.settle_heap``, issue 22); the next test starts with a normal collector again."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _unfrozen_collector() -> Iterator[None]:
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
