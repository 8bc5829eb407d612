"""Watching the service as operators do (issue 14 items 3-5), against both simulators: heartbeats from real
stage runs, `status --check` and `run --once` exit codes, dead tickets and budget holds in the log and in
`status`, Zendesk calls and 429s counted per route through the real zenpy client, the metrics textfile, and
the daemon serving /metrics and /healthz."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from zdtriage import batches as anth
from zdtriage import daemon, health, metrics, pipeline, store
from zdtriage import zendesk as zd
from zdtriage.cli import cli

from .conftest import make_config

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


def write_config(tmp_path, zsim, asim, extra=""):
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                    f'start = "2020-01-01T00:00:00Z"\n[anthropic]\nbase_url = "{asim.base_url}"\nmax_attempts = 1\n'
                    f'[state]\npath = "{tmp_path / "s.db"}"\n{extra}')
    return path


def invoke(cfg, *args, level="INFO"):
    return CliRunner().invoke(cli, ["--log-format", "json", "--log-level", level, "--config", str(cfg), *args], env=ENV,
                              catch_exceptions=False)


def log_lines(result):
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def samples(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_run_once_leaves_a_heartbeat_per_stage_and_status_check_reads_it(zsim, asim, tmp_path, clock):
    zsim.seed(6, 41)
    cfg = write_config(tmp_path, zsim, asim)
    missing = invoke(cfg, "status", "--check")
    assert missing.exit_code == 1 and missing.output.startswith("unhealthy: no state database at ")
    assert len(missing.output.strip().splitlines()) == 1 and not (tmp_path / "s.db").exists()
    result = invoke(cfg, "run", "--once")
    assert result.exit_code == 0, result.output
    actions = [line["action"] for line in log_lines(result)]
    assert [a for a in actions if a in health.STAGES] == list(health.STAGES)  # each logged as it ended, in order
    db = store.open_db(tmp_path / "s.db", readonly=True)
    for stage in health.STAGES:
        beat = health.heartbeat(db, stage)
        assert beat["last_start"] <= beat["last_success"] and "last_error" not in beat
    check = invoke(cfg, "status", "--check")
    assert check.exit_code == 0 and check.output.startswith("healthy: every stage succeeded within its period")
    body = json.loads(invoke(cfg, "status", "--check", "--json").output)
    assert body["healthy"] is True and body["last_writeback_success"] == body["stages"]["writeback"]["last_success"]
    status = json.loads(invoke(cfg, "status", "--json").output)
    assert status["health"]["healthy"] is True and status["dead_tickets"] == {"total": 0, "latest": []}
    assert status["budget_hold"] is None


def test_an_account_refusal_fails_run_once_after_every_stage_and_makes_status_check_unhealthy(zsim, asim, tmp_path):
    zsim.seed(5, 42)
    asim.refuse("credit")
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "run", "--once", level="DEBUG")  # poll and writeback have nothing to do: DEBUG
    assert result.exit_code == 1
    lines = log_lines(result)
    by_action = {line["action"]: line for line in lines}
    assert set(health.STAGES) <= set(by_action)  # what came after the failed submit still ran and was logged
    assert by_action["submit"]["level"] == "WARNING" and "credit balance is too low" in by_action["submit"]["message"]
    assert lines[-1]["action"] == "run_once_failed" and lines[-1]["message"].startswith("1 stage(s) failed: submit:")
    check = invoke(cfg, "status", "--check")
    assert check.exit_code == 1
    assert check.output.startswith("unhealthy: submitting held since ")
    assert "Your credit balance is too low" in check.output and len(check.output.strip().splitlines()) == 1
    text = invoke(cfg, "status").output
    assert text.splitlines()[0].startswith("unhealthy: submitting held") and "SUBMIT HELD" in text


def test_dead_tickets_are_warnings_with_id_and_reason_and_status_lists_them(zsim, asim, tmp_path, clock):
    zsim.seed(4, 43)
    asim.set_faults(errored_invalid=1.0)  # every request errors as invalid: no retry, dead at once
    cfg = write_config(tmp_path, zsim, asim)
    dead_lines = []
    for _ in range(3):
        result = invoke(cfg, "run", "--once")
        dead_lines += [line for line in log_lines(result) if line["action"] == "dead"]
        clock.advance(61)
    status = json.loads(invoke(cfg, "status", "--json").output)
    dead = status["dead_tickets"]
    assert dead["total"] >= 1 and len(dead_lines) == dead["total"]
    assert {line["ticket_id"] for line in dead_lines} == {d["id"] for d in dead["latest"]}
    assert all(line["level"] == "WARNING" and line["reason"] for line in dead_lines)
    text = invoke(cfg, "status").output
    assert f"dead tickets: {dead['total']}" in text and str(dead["latest"][0]["id"]) in text


def test_a_budget_hold_is_a_warning_naming_tickets_and_status_shows_it(zsim, asim, tmp_path):
    zsim.seed(5, 44)
    cfg = write_config(tmp_path, zsim, asim, extra="[budget]\ndaily_usd = 0.000001\n")
    result = invoke(cfg, "run", "--once")
    (hold,) = [line for line in log_lines(result) if line["action"] == "budget_hold"]
    assert hold["level"] == "WARNING" and hold["tickets"] >= 1 and hold["ticket_ids"]
    assert "budget" in hold["message"] and "daily $0.00" in hold["message"]
    status = json.loads(invoke(cfg, "status", "--json").output)
    assert status["budget_hold"]["ticket_ids"] == hold["ticket_ids"]
    assert "BUDGET HOLD since" in invoke(cfg, "status").output
    again = invoke(cfg, "run", "--once")  # the same hold a moment later: no second warning
    assert not [line for line in log_lines(again) if line["action"] == "budget_hold"]


def test_run_once_writes_the_textfile_and_refuses_a_port(zsim, asim, tmp_path):
    zsim.seed(3, 45)
    cfg = write_config(tmp_path, zsim, asim)
    prom = tmp_path / "node" / "zdtriage.prom"
    prom.parent.mkdir()
    result = invoke(cfg, "run", "--once", "--metrics-textfile", str(prom))
    assert result.exit_code == 0, result.output
    got = samples(prom.read_text())
    tickets = json.loads(invoke(cfg, "status", "--json").output)["tickets"]
    assert {dict(labels)["state"]: v for (name, labels), v in got.items() if name == "zdtriage_tickets"} == tickets
    assert sum(tickets.values()) >= 1
    assert got[("zdtriage_stage_runs_total", (("outcome", "ok"), ("stage", "writeback")))] == 1
    assert any(name == "zdtriage_zendesk_requests_total" and v > 0 for (name, _), v in got.items())
    refused = invoke(cfg, "run", "--once", "--metrics-port", "9464")
    assert refused.exit_code == 2 and "--metrics-textfile" in refused.output


def test_zendesk_calls_and_429s_are_counted_per_route_through_zenpy(zsim, asim, tmp_path, clock):
    zsim.seed(8, 46)
    cfg = make_config(zsim, asim, tmp_path, clock)
    m = metrics.Metrics(cfg, clock=clock)
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), clock=clock,
                           zendesk=zd.make_client(cfg.zendesk, on_call=m.zendesk_call),
                           anthropic=anth.make_client(cfg.anthropic))
    zsim.set_faults(rate_429=1.0, seed=1)
    first = pipeline.run_once(ctx)
    assert "waiting" in first[0]  # the 429 blocked ingest until Retry-After, as before
    zsim.set_faults()
    clock.advance(120)
    pipeline.run_once(ctx)
    got = samples(m.exposition().decode())
    export = "/api/v2/incremental/tickets/cursor.json"
    assert got[("zdtriage_zendesk_rate_limited_total", (("endpoint", export),))] >= 1
    ours = sum(v for (name, _), v in got.items() if name == "zdtriage_zendesk_requests_total")
    assert ours == sum(n for route, n in zsim.call_counts().items() if "/_sim/" not in route)
    assert all(
        "{id}" in dict(labels)["endpoint"] or not any(c.isdigit() for c in dict(labels)["endpoint"].replace("v2", ""))
        for (name, labels), _ in got.items()
        if name == "zdtriage_zendesk_requests_total"
    )


def test_a_crashing_stage_records_its_error_and_the_exception_goes_on(make_ctx, monkeypatch):
    ctx = make_ctx()

    def broken():
        raise KeyError("bug")

    try:
        pipeline.run_stage(ctx, "poll", broken)
    except KeyError:
        pass
    else:
        raise AssertionError("the crash was swallowed")
    beat = health.heartbeat(ctx.db, "poll")
    assert beat["last_error"]["message"] == "crashed (KeyError): 'bug'" and "last_success" not in beat


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_daemon_serves_metrics_and_healthz_while_it_runs(zsim, asim, tmp_path, clock, monkeypatch):
    zsim.seed(4, 47)
    port = free_port()
    cfg = make_config(zsim, asim, tmp_path, clock, metrics={"port": port})
    m = metrics.Metrics(cfg, clock=clock, cache_seconds=0)
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), clock=clock,
                           zendesk=zd.make_client(cfg.zendesk, on_call=m.zendesk_call),
                           anthropic=anth.make_client(cfg.anthropic))
    stop, cycle = threading.Event(), threading.Event()
    real = daemon.reporter

    def reporter(metrics_=None):
        report = real(metrics_)

        def wrapped(summary):
            report(summary)
            if summary["stage"] == "writeback":
                cycle.set()

        return wrapped

    monkeypatch.setattr(daemon, "reporter", reporter)
    worker = threading.Thread(target=daemon.run_forever, args=(ctx, stop), kwargs={"metrics": m}, daemon=True)
    worker.start()
    try:
        assert cycle.wait(30), "the first cycle did not finish"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            body = json.loads(response.read())
            assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
        assert body["healthy"] is True and body["last_writeback_success"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            got = samples(response.read().decode())
        for stage in health.STAGES:
            assert got[("zdtriage_stage_runs_total", (("outcome", "ok"), ("stage", stage)))] >= 1
            assert got[("zdtriage_stage_last_success_timestamp_seconds", (("stage", stage),))] == clock()
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    with socket.socket() as s:  # the server is gone with the daemon
        assert s.connect_ex(("127.0.0.1", port)) != 0
