"""Prometheus metrics and /healthz (issue 14 item 4): the store's figures read through a connection of their own
and cached, this process's counters, the textfile written whole, and the HTTP server on a port chosen by the
system (port 0). No sleeps: the cache's clock is passed in."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zdtriage import config as config_mod
from zdtriage import health, metrics, store
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

NOW = 1_790_000_000.0
ENV = {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}


class Tick:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make_cfg(tmp_path, **metrics_section):
    return config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com"},
                             "budget": {"daily_usd": 20, "monthly_usd": 300},
                             "state": {"path": str(tmp_path / "s.db")}, "metrics": metrics_section}, ENV)


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


@pytest.fixture
def db(cfg):
    db = store.open_db(cfg.state.path)
    yield db
    db.close()


def samples(text: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = text.decode() if isinstance(text, bytes) else text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def fill(db):
    queue.insert_new(db, [{"id": i, "state": "queued"} for i in range(1, 4)] + [{"id": 9, "state": "dead"}])
    db["batches"].insert({"local_id": "b1", "batch_id": "msgbatch_1", "state": "open", "created_at": iso(NOW - 60),
                          "cost_usd": 0.25, "request_count": 3})
    for stage in health.STAGES:
        health.started(db, stage, NOW - 30)
        health.finished(db, stage, NOW - 29, error=None, worked=stage == "writeback")
    health.finished(db, "poll", NOW - 10, error="Anthropic answered 529")


@pytest.mark.parametrize("url, route", [
    ("https://acme.zendesk.com/api/v2/tickets/12345/comments.json?page=2", "/api/v2/tickets/{id}/comments.json"),
    ("https://acme.zendesk.com/api/v2/job_statuses/8b726e606741012ffc2d782bcb7848fe.json",
     "/api/v2/job_statuses/{id}.json"),
    ("https://acme.zendesk.com/api/v2/job_statuses/show_many.json?ids=a1,b2", "/api/v2/job_statuses/show_many.json"),
    ("https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor=MTU3",
     "/api/v2/incremental/tickets/cursor.json"),
    ("http://127.0.0.1:8765/api/v2/tickets/update_many.json", "/api/v2/tickets/update_many.json"),
    ("https://acme.zendesk.com/api/v2/users/me.json", "/api/v2/users/me.json"),
])
def test_routes_are_templates_without_ids_or_queries(url, route):
    assert metrics.route_of(url) == route


def test_the_store_figures_and_the_process_counters_in_one_exposition(cfg, db):
    fill(db)
    m = metrics.Metrics(cfg, clock=lambda: NOW)
    m.zendesk_call("get", "https://acme.zendesk.com/api/v2/tickets/1/comments.json", 200)
    m.zendesk_call("GET", "https://acme.zendesk.com/api/v2/tickets/2/comments.json", 429)
    m.stage_finished({"stage": "poll", "seconds": 0.4})
    m.stage_finished({"stage": "poll", "seconds": 2.0, "error": "Anthropic answered 529"})
    m.stage_crashed("ingest")
    got = samples(m.exposition())
    assert got[("zdtriage_tickets", (("state", "queued"),))] == 3
    assert got[("zdtriage_tickets", (("state", "dead"),))] == 1
    assert got[("zdtriage_tickets", (("state", "written"),))] == 0
    assert got[("zdtriage_batches_open", ())] == 1
    assert got[("zdtriage_spend_usd", (("period", "today"),))] == 0.25
    assert got[("zdtriage_budget_usd", (("period", "month"),))] == 300
    assert got[("zdtriage_stage_last_success_timestamp_seconds", (("stage", "poll"),))] == NOW - 29
    assert got[("zdtriage_stage_last_error_timestamp_seconds", (("stage", "poll"),))] == NOW - 10
    assert got[("zdtriage_healthy", ())] == 1 and got[("zdtriage_state_readable", ())] == 1
    assert got[("zdtriage_export_lag_seconds", ())] >= 0
    route = (("endpoint", "/api/v2/tickets/{id}/comments.json"), ("method", "GET"))
    assert got[("zdtriage_zendesk_requests_total", route)] == 2  # both ids, one series
    assert got[("zdtriage_zendesk_rate_limited_total", (("endpoint", "/api/v2/tickets/{id}/comments.json"),))] == 1
    assert got[("zdtriage_stage_runs_total", (("outcome", "error"), ("stage", "poll")))] == 1
    assert got[("zdtriage_stage_runs_total", (("outcome", "ok"), ("stage", "poll")))] == 1
    assert got[("zdtriage_stage_runs_total", (("outcome", "crash"), ("stage", "ingest")))] == 1
    assert got[("zdtriage_stage_runs_total", (("outcome", "ok"), ("stage", "writeback")))] == 0  # there from the start
    assert got[("zdtriage_stage_duration_seconds_count", (("stage", "poll"),))] == 2
    assert got[("zdtriage_stage_duration_seconds_sum", (("stage", "poll"),))] == pytest.approx(2.4)


def test_the_store_is_read_once_per_cache_period_and_not_at_registration(cfg, db):
    fill(db)
    tick = Tick()
    m = metrics.Metrics(cfg, clock=lambda: NOW, monotonic=tick, cache_seconds=5)
    assert m.view.reads == 0
    m.exposition()
    m.healthz()
    m.exposition()
    assert m.view.reads == 1
    queue.insert_new(db, [{"id": 50, "state": "queued"}])
    tick.t = 4.9
    assert samples(m.exposition())[("zdtriage_tickets", (("state", "queued"),))] == 3  # still cached
    tick.t = 5.0
    assert samples(m.exposition())[("zdtriage_tickets", (("state", "queued"),))] == 4
    assert m.view.reads == 2
    m.exposition(fresh=True)
    assert m.view.reads == 3


def test_a_scrape_reads_committed_state_through_its_own_connection(cfg, db):
    fill(db)
    m = metrics.Metrics(cfg, clock=lambda: NOW, cache_seconds=0)
    db.execute("begin")
    db.execute("update sync set value = 'x' where key = 'heartbeat:poll'")  # the daemon mid-transaction
    try:
        got = samples(m.exposition())  # neither blocked nor seeing the uncommitted write
        assert got[("zdtriage_stage_last_success_timestamp_seconds", (("stage", "poll"),))] == NOW - 29
    finally:
        db.execute("rollback")


def test_without_a_database_the_metrics_say_so_and_nothing_is_created(tmp_path):
    cfg = make_cfg(tmp_path)
    m = metrics.Metrics(cfg, clock=lambda: NOW)
    got = samples(m.exposition())
    assert got[("zdtriage_state_readable", ())] == 0 and got[("zdtriage_healthy", ())] == 0
    assert ("zdtriage_tickets", (("state", "queued"),)) not in got
    status, body = m.healthz()
    assert status == 503 and body["reason"].startswith("no state database at")
    assert not (tmp_path / "s.db").exists()


def test_the_textfile_is_written_whole_and_only_the_prom_file_is_left(tmp_path, db):
    cfg = make_cfg(tmp_path, textfile=str(tmp_path / "out" / "zdtriage.prom"))
    fill(db)
    m = metrics.Metrics(cfg, clock=lambda: NOW)
    with pytest.raises(OSError):  # its folder is missing: the daemon logs this and goes on
        m.write_textfile()
    (tmp_path / "out").mkdir()
    m.write_textfile()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["zdtriage.prom"]
    first = samples((tmp_path / "out" / "zdtriage.prom").read_text())
    assert first[("zdtriage_tickets", (("state", "queued"),))] == 3
    queue.insert_new(db, [{"id": 60, "state": "queued"}])
    m.write_textfile()  # read fresh after each stage, whatever the cache
    assert samples((tmp_path / "out" / "zdtriage.prom").read_text())[("zdtriage_tickets", (("state", "queued"),))] == 4
    metrics.Metrics(make_cfg(tmp_path)).write_textfile()  # none configured: nothing written, no error


def fetch(url, method="GET"):
    request = urllib.request.Request(url, method=method, headers={"Origin": "https://acme.zendesk.com"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_server_serves_metrics_and_healthz_with_cors_on_a_chosen_port(cfg, db):
    m = metrics.Metrics(cfg, clock=lambda: NOW, cache_seconds=0)
    server = m.serve(port=0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        status, headers, body = fetch(f"{server.url}/healthz")  # no stage has run yet
        assert status == 503 and headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["reason"] == "no stage has ever run: is the service (zdtriage run) running?"
        fill(db)
        status, headers, body = fetch(f"{server.url}/healthz")
        data = json.loads(body)
        assert status == 200 and data["healthy"] is True and data["last_writeback_success"] == iso(NOW - 29)
        assert set(data) >= {"healthy", "reason", "checked_at", "last_writeback_success", "stages"}
        assert data["stages"]["poll"]["last_error"]["message"] == "Anthropic answered 529"
        status, headers, body = fetch(f"{server.url}/metrics")
        assert status == 200 and samples(body)[("zdtriage_tickets", (("state", "queued"),))] == 3
        status, headers, _ = fetch(f"{server.url}/healthz", "OPTIONS")
        assert (
            status == 204
            and headers["Access-Control-Allow-Origin"] == "*"
            and "GET" in headers["Access-Control-Allow-Methods"]
        )
        assert fetch(f"{server.url}/healthz", "POST")[0] == 405
        assert fetch(f"{server.url}/nothing")[0] == 404
    finally:
        server.close()


def test_a_port_in_use_is_an_os_error_the_cli_turns_into_one_line(cfg):
    m = metrics.Metrics(cfg)
    server = m.serve(port=0)
    try:
        with pytest.raises(OSError):
            m.serve(port=server.port)
    finally:
        server.close()
