"""Small things that read wrong (issue 20 item 5, issue 22's demo size), the way an admin meets them."""

from __future__ import annotations

import json
import tempfile
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from zdtriage import config as config_mod
from zdtriage import demo, store
from zdtriage.cli import cli

ROOT = Path(__file__).resolve().parents[2]
ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


def invoke(*args, env=ENV, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, input=input, catch_exceptions=False)


def write_config(tmp_path, zsim=None, asim=None, extra=""):
    path = tmp_path / "zdtriage.toml"
    urls = (f'url = "{zsim.base_url}"\n' if zsim else "") + (
        f'[anthropic]\nbase_url = "{asim.base_url}"\n' if asim else ""
    )
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "triage-bot@example.com"\n{urls}{extra}'
                    f'[state]\npath = "{tmp_path / "state" / "s.db"}"\n')
    return path


# -- demo ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_twice_on_one_workdir_and_its_own_temporary_folder_removed(tmp_path, monkeypatch):
    # before: the second run on the same --workdir ended in a false FAILED or an IntegrityError traceback
    work = tmp_path / "work"
    runs = [json.loads(invoke("demo", "--tickets", 12, "--workdir", work, "--json").stdout) for _ in range(2)]
    for run in runs:
        assert run["ok"], run.get("problem")
        assert run["written"] + run["failed"] == run["eligible"] > 0 and run["workdir"] == str(work)
    assert runs[0]["written"] == runs[1]["written"]  # the second run works like the first
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    third = invoke("demo", "--tickets", 12, "--json")
    assert json.loads(third.stdout)["ok"] and json.loads(third.stdout)["workdir"] is None
    assert list((tmp_path / "tmp").iterdir()) == []  # the folder it made is gone


def test_demo_progress_moves_before_the_first_write():
    db = store.open_db(":memory:")
    assert demo.progress(db) == (0, 0)
    db["tickets"].insert_all([{"id": 1, "state": "submitted"}, {"id": 2, "state": "submitted"},
                              {"id": 3, "state": "queued"}])
    assert demo.progress(db) == (2, 0)  # sent: the bar moves while the batch is out
    db.execute("update tickets set state = 'answered' where id = 1")
    assert demo.progress(db) == (3, 0)
    db.execute("update tickets set state = 'written', write_started_at = '2026-12-06T00:00:00Z' where id = 2")
    assert demo.progress(db) == (4, 0)  # written, its job not yet confirmed: not settled
    db.execute("update tickets set write_started_at = null where id = 2")
    assert demo.progress(db) == (5, 1)


def test_demo_patience_grows_with_the_tickets():
    # issue 22: `demo --tickets 2000` exited 1 ("only 600 settled"): 1,805 eligible tickets need about six
    # minutes of write-back at the simulated account's 300 updates a minute, and the demo waited 110 s
    assert demo.patience(20) == demo.TIMEOUT_SECONDS
    assert demo.patience(1805) >= 1.25 * 1805 / demo.UPDATES_PER_MINUTE * 60
    assert demo.patience(90_000) >= 90_000 / demo.UPDATES_PER_MINUTE * 60


# -- retry, evaluate and backfill never leave a state behind, and say what they did not do --------------


def test_retry_without_a_state_creates_none(tmp_path):
    cfg = write_config(tmp_path)
    result = invoke("--config", cfg, "retry", "--dead")
    assert result.exit_code == 1 and "no state database at" in result.output and "nothing to retry" in result.output
    assert not (tmp_path / "state" / "s.db").exists()


def test_retry_of_an_unknown_or_unfailed_ticket_says_so(tmp_path):
    cfg = write_config(tmp_path)
    db = store.open_db(tmp_path / "state" / "s.db")
    db["tickets"].insert_all([{"id": 5, "state": "failed"}, {"id": 6, "state": "written"}, {"id": 7, "state": "dead"}])
    db.close()
    result = CliRunner().invoke(cli, ["--config", str(cfg), "retry", "--ticket", "99"], env=ENV)
    assert result.exit_code == 1
    assert "0 ticket(s) back in the queue" in result.stdout
    assert "ticket 99: not in the state database" in result.stderr
    result = CliRunner().invoke(cli, ["--config", str(cfg), "retry", "--ticket", "5", "--ticket", "6", "--ticket", "7"],
                                env=ENV)
    assert result.exit_code == 0 and "1 ticket(s) back in the queue" in result.stdout
    assert "ticket 6: written, not retried" in result.stderr
    assert "ticket 7: dead, not retried (pass --dead to revive it)" in result.stderr


def test_a_declined_evaluate_creates_no_state(zsim, asim, tmp_path):
    zsim.seed(10, 3, history=True)
    cfg = write_config(tmp_path, zsim, asim)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "evaluate", "--since", "2020-01-01"], env=ENV, input="n\n")
    assert result.exit_code == 0 and "Nothing was sent." in result.stdout
    assert list((tmp_path / "state").iterdir()) == []  # no database, no -wal, no lock
    refused = invoke("--config", cfg, "evaluate")  # no --since and nothing to resume
    assert refused.exit_code == 2 and "--since is required" in refused.output
    assert list((tmp_path / "state").iterdir()) == []


def test_backfill_since_a_future_date_is_refused(tmp_path):
    result = invoke("--config", write_config(tmp_path), "backfill", "--since", "2099-01-01")
    assert result.exit_code == 2 and "not in the past" in result.output
    assert not (tmp_path / "state").exists()


# -- status and report on a state with nothing finished -------------------------------------------------


def test_status_and_report_of_a_fresh_state_say_what_they_lack(tmp_path):
    cfg = write_config(tmp_path, extra='start = "2020-01-01T00:00:00Z"\n')
    db = store.open_db(tmp_path / "state" / "s.db")
    db["tickets"].insert({"id": 1, "state": "queued"})
    store.set_sync(db, "start_time", "1577836800")  # as after a first ingest from zendesk.start
    db.close()
    status = invoke("--config", cfg, "status")
    assert status.exit_code == 0, status.output
    assert "error rate: n/a (no ticket finished yet)" in status.output  # before: 0.00%
    assert "comment events: not yet read" in status.output  # before: read up to 3645848 min ago
    report = invoke("--config", cfg, "report")
    assert report.exit_code == 0, report.output
    assert report.output.startswith("no ticket written or given up yet") and "None s" not in report.output
    since = invoke("--config", cfg, "report", "--since", "2026-01-01")
    assert "no ticket written or given up yet since 2026-01-01" in since.output
    assert json.loads(invoke("--config", cfg, "status", "--json").output)["events_read"] is False


# -- config check and the simulators' config ---------------------------------------------------------


def test_config_check_prints_toml_that_reads_back_with_durations_as_written(tmp_path):
    cfg = write_config(
        tmp_path,
        extra='verify_after = "90s"\n[schedule]\ningest_every = "2m"\nmax_wait = 300\n'
        '[evaluate]\ncategory_field = "type"\ncategory_map = { incident = "technical" }\n',
    )
    result = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = tomllib.loads(result.stdout)  # before: null, JSON objects and a bare "config OK" line
    assert doc["zendesk"]["verify_after"] == "90s" and doc["schedule"]["ingest_every"] == "2m"
    assert doc["schedule"]["max_wait"] == "5m" and doc["schedule"]["poll_every"] == "1m"
    assert doc["evaluate"]["category_map"] == {"incident": "technical"}
    assert doc["zendesk"]["subdomain"] == "acme" and "sim-token" not in result.stdout
    assert "# config OK" in result.stdout


def test_the_simulators_config_ships_in_the_package():
    shipped = files("zdtriage").joinpath("data/sim.toml").read_text(encoding="utf-8")
    assert shipped == (ROOT / "config" / "sim.toml").read_text(encoding="utf-8"), \
        "copy config/sim.toml to integration/zdtriage/data/ (the package ships that copy)"
    printed = invoke("sim", "--print-config")
    assert printed.exit_code == 0 and printed.stdout == shipped
    moved = invoke("sim", "--print-config", "--zendesk-port", 9001, "--anthropic-port", 9002).stdout
    cfg = config_mod.parse(tomllib.loads(moved), ENV)
    assert (cfg.zendesk.url, cfg.anthropic.base_url) == ("http://127.0.0.1:9001", "http://127.0.0.1:9002")
