"""Poison pills stop at the parser: every text field zendesk.py returns can be stored and encoded.

A lone surrogate is valid JSON (``"\\ud800"``) and arrives as such from Zendesk; before, it crashed the
SQLite insert (and ``json.dumps(...).encode()``) of every ingest, so the cursor never moved. The
simulator serves it exactly as JSON carries it (``json.dumps`` escapes it), through zenpy and our session.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from zdtriage import zendesk
from zdtriage.config import parse
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim, make_zenpy_env

POISON = "bad \ud800 half, NUL \x00, bell \x07, CR\r\nLF, split pair \ud83d\ude00, fine ✓"
EXPECTED = "bad \ufffd half, NUL , bell , CR\nLF, split pair 😀, fine ✓"


@pytest.fixture
def sim() -> Iterator[tuple[ZendeskSim, ManualClock]]:
    clock = ManualClock()
    s = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock, export_per_minute=1000,
                   rate_per_minute=100_000, export_exclude_recent_seconds=0)
    s.start()
    yield s, clock
    s.stop()


@pytest.fixture
def client(sim: tuple[ZendeskSim, ManualClock], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in make_zenpy_env(sim[0].base_url).items():
        monkeypatch.setenv(name, value)
    cfg = parse({"zendesk": {"subdomain": "sim", "email": "triage-bot@example.com"}},
                {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "k"})
    return zendesk.make_client(cfg.zendesk)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _storable(records: list[dict[str, Any]]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("create table t (v text)")
    for record in records:
        for text in _strings(record):
            text.encode("utf-8")  # raises on a lone surrogate
            db.execute("insert into t values (?)", [text])
        json.dumps(record, ensure_ascii=False).encode("utf-8")


def test_poison_pills_are_made_storable_where_a_response_is_parsed(sim, client):
    zsim, clock = sim
    created = int(clock()) - 3600
    ticket = zsim.add_ticket(
        subject=POISON,
        description=POISON,
        tags=["plain", "x\ud800y"],
        created_at=created,
        comments=[{"body": POISON, "public": True, "author": "customer", "created_at": created + 5}],
    )
    clock.advance(5)

    page = zendesk.fetch_ticket_page(client, start_time=created - 60)
    (parsed,) = [t for t in page["tickets"] if t["id"] == ticket["id"]]
    assert parsed["subject"] == EXPECTED and parsed["description"] == EXPECTED
    assert parsed["tags"] == ["plain", "x\ufffdy"]

    events = zendesk.fetch_comment_events(client, created - 60)
    comments = zendesk.fetch_comments(client, ticket["id"])
    bodies = [c["body"] for c in events["comments"] + comments]
    assert EXPECTED in bodies and all(b == EXPECTED for b in bodies)
    _storable(page["tickets"] + events["comments"] + comments)


def test_the_raw_values_would_have_crashed_the_store():
    # what the parser used to hand on unchanged
    with pytest.raises(UnicodeEncodeError):
        sqlite3.connect(":memory:").execute("select ?", [POISON])
    with pytest.raises(UnicodeEncodeError):
        json.dumps({"subject": POISON}, ensure_ascii=False).encode()
