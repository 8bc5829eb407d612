"""Every query a cycle runs is served by an index (store/db.py m0010).

The queries are collected by tracing the connection (``set_trace_callback``) while ``pipeline.run_once``, the
daemon's prune job and the read-only views drive tickets through both simulators, faults on (errored and
invalid answers, Zendesk 503s on writes, so retries, dead tickets and unsure writes happen too). Two checks:

- ``EXPLAIN QUERY PLAN`` of each: no full ``SCAN tickets`` (a covering or a partial index is fine);
- the work of each (SQLite VM steps, counted by a progress handler) does not grow when 30,000 finished
  tickets sit in the database: a query that reads every done ticket, even through an index whose key does
  not exclude them (``write_job_id IS NULL`` matched every ticket ever written), fails here.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from zdtriage import batches as anth
from zdtriage import config as config_mod
from zdtriage import daemon, pipeline, reports, store
from zdtriage import zendesk as zd
from zdtriage.sim.anthropic import AnthropicSim
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.timeutil import iso

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
START = 1_790_000_000.0
PADDING = 30_000
TICK = 100  # VM instructions per progress-handler call


class Trace:
    """Each statement the connection runs, normalised (literals → ?), with the VM steps it took."""

    def __init__(self, db) -> None:
        self.steps: dict[tuple[str, str], int] = defaultdict(int)
        self.phase = "cycle"
        self.sql: dict[str, str] = {}
        self._current: str | None = None
        self._last = ""
        self.counting = True
        self.tickets_before_prune = 0
        db.conn.set_trace_callback(self._statement)
        db.conn.set_progress_handler(self._tick, TICK)

    def _statement(self, sql: str) -> None:
        if sql == self._last:
            return  # each trigger statement is traced with the text of the statement that fired it: its own work
        self._last = sql
        text = re.sub(r"\s+", " ", sql.strip())
        if re.match(r"(savepoint|release|begin|commit|rollback)\b", text, re.IGNORECASE):
            return  # sqlite-utils releases its savepoint before the rows are read: they stay the query's
        key = re.sub(r"'(?:[^']|'')*'", "?", text)
        key = re.sub(r"(?<![\w\]])-?\d+(\.\d+)?(e[+-]?\d+)?\b", "?", key)
        key = re.sub(r"\?(, ?\?)+", "?…", key)
        self._current = key
        self.sql.setdefault(key, text)

    def _tick(self) -> int:
        if self._current is not None and self.counting:
            self.steps[(self.phase, self._current)] += 1
        return 0


def run_day(tmp_path, name: str, padding: int) -> tuple[Trace, store.open_db]:
    clock = ManualClock(START)
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock)
    asim = AnthropicSim(api_key="sim-key", clock=clock, processing_seconds=0.0)
    zsim.start()
    asim.start()
    try:
        cfg = config_mod.parse({
            "zendesk": {"subdomain": "sim", "email": "triage-bot@example.com", "url": zsim.base_url,
                        "start": "2026-01-01T00:00:00Z", "verify_after": "30s"},
            "anthropic": {"base_url": asim.base_url, "max_attempts": 2, "retry_backoff": "1m"},
            "state": {"path": str(tmp_path / f"{name}.db")},
        }, ENV)
        db = store.open_db(cfg.state.path)
        if padding:
            pad(db, padding)
        ctx = pipeline.Context(config=cfg, db=db, zendesk=zd.make_client(cfg.zendesk),
                               anthropic=anth.make_client(cfg.anthropic), clock=clock)
        zsim.seed(40, 7)
        asim.set_faults(errored_overloaded=0.15, errored_invalid=0.05, bad_enum=0.1)
        zsim.set_faults(rate_503=0.15, seed=3)
        trace = Trace(db)
        for round_ in range(16):
            if round_ == 9:
                asim.set_faults(errored_overloaded=0.0, errored_invalid=0.0, bad_enum=0.0)
                zsim.set_faults(seed=3)
            pipeline.run_once(ctx)
            daemon.prune(ctx)
            clock.advance(61)
        trace.phase = "views"
        reports.status(db, cfg, clock())
        reports.report(db, cfg)
        reports.report(db, cfg, since=iso(clock() - 86400))
        reports.estimate(db, cfg, queued_chars=0)
        trace.counting = False
        trace.tickets_before_prune = db.execute("select count(*) from tickets").fetchone()[0]
        db.conn.set_progress_handler(None, TICK)
        if not padding:  # retention of the whole day, traced for its plans (the padding would only repeat them)
            clock.advance(91 * 86400)
            daemon.prune(ctx)
        db.conn.set_trace_callback(None)
        db.conn.set_progress_handler(None, TICK)
        return trace, db
    finally:
        zsim.stop()
        asim.stop()


def pad(db, n: int) -> None:
    """``n`` finished tickets of the last days (too young to prune, older than ``report --since`` yesterday)."""
    changed = iso(START - 2 * 86400)
    states = ["written"] * 90 + ["skipped"] * 8 + ["dead"] * 2
    with db.atomic():
        db.conn.executemany(
            "insert into tickets (id, state, subject, zd_status, zd_tags, answer, usage, cost_usd, input_chars, "
            "submitted_at, answered_at, written_at, changed_at, failed_tag_at) values (?, ?, 's', 'open', '[]', "
            "'{\"priority\": \"P2\"}', '{\"input_tokens\": 900}', 0.001, 3000, ?, ?, ?, ?, ?)",
            [(10_000_000 + i, states[i % 100], changed, changed, changed, changed,
              changed if states[i % 100] == "dead" else None) for i in range(n)])


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plans")
    return run_day(tmp, "fresh", 0), run_day(tmp, "padded", PADDING)


KEYWORDS = {"where", "indexed", "set", "values", "group", "order", "limit", "on", "join", "select"}


def _plan(db, sql: str) -> list[str]:
    return [row[3] for row in db.execute(f"explain query plan {sql}")]


def _partial(db) -> set[str]:
    return {r[0] for r in db.execute("select name from sqlite_master where type = 'index' and sql like '% where %'")}


def test_the_trace_saw_the_cycle_the_views_and_retention(days):
    (trace, db), _ = days
    seen = " | ".join(trace.sql)
    for part in ("write_started_at is not null and write_job_id is null",  # write-back's unsure writes
                 "state = ? or (state = ? and failed_tag_at is null",  # write-back's candidates
                 "and id > ? order by id limit",  # submit's queue, streamed
                 "order by answered_at desc limit ?",  # estimate's calibration
                 "delete from tickets not indexed where id in",  # retention
                 "from batches where created_at >= ?"):  # spend
        assert part in seen, part
    assert db.execute("select count(*) from tickets where state = 'dead'").fetchone()[0] == 0  # pruned at the end


def test_no_query_scans_the_tickets_table(days):
    (trace, db), _ = days
    partial = _partial(db)
    offenders = {}
    for key, sql in trace.sql.items():
        if not re.match(r"(select|insert|update|delete|with|replace)\b", sql, re.IGNORECASE) or "tickets" not in sql:
            continue
        names = {"tickets"} | set(re.findall(r"\btickets\s+(?:as\s+)?(\w+)", sql, re.IGNORECASE)) - KEYWORDS
        for line in _plan(db, sql):
            scan = re.match(r"SCAN (\w+)(?: USING (COVERING )?INDEX (\w+))?", line)
            if scan and scan.group(1) in names and not (scan.group(2) or scan.group(3) in partial):
                offenders[key] = line
    assert offenders == {}


# calibration reads its 2,000 newest results: bounded, though here the padding supplies them. status and
# report over the whole history read the running totals, report --since yesterday only yesterday's rows.
WHOLE_HISTORY = ("order by answered_at desc limit ?",)


def _grown(fresh: Trace, padded: Trace, phase: str) -> dict[str, tuple[int, int]]:
    grown = {}
    for (where, key), steps in padded.steps.items():
        if where != phase or (phase == "views" and any(part in key for part in WHOLE_HISTORY)):
            continue
        before = fresh.steps.get((where, key), 0)
        # a B-tree one level deeper costs a few steps more per lookup; reading the padding costs thousands
        if steps > 2 * before + 20:
            grown[key[:200]] = (before * TICK, steps * TICK)
    return grown


def test_a_cycle_does_not_read_the_finished_tickets(days):
    (fresh, _), (padded, _) = days
    assert padded.tickets_before_prune > PADDING > fresh.tickets_before_prune > 30
    assert _grown(fresh, padded, "cycle") == {}


def test_the_views_read_only_what_they_aggregate(days):
    (fresh, _), (padded, _) = days
    assert _grown(fresh, padded, "views") == {}
