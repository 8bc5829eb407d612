"""CLI commands that talk to the simulators: backfill and run --once."""

from __future__ import annotations

import json

from click.testing import CliRunner

from zdtriage import store
from zdtriage.cli import cli
from zdtriage.demo import eligible_ids
from zdtriage.store import tickets as queue

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


def write_config(tmp_path, zsim, asim, start="2020-01-01T00:00:00Z"):
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                    f'start = "{start}"\n[anthropic]\nbase_url = "{asim.base_url}"\n'
                    f'[state]\npath = "{tmp_path / "s.db"}"\n')
    return path


def test_backfill_queues_never_triaged_tickets_since_a_date(zsim, asim, tmp_path):
    zsim.seed(40, 31)
    before = zsim.snapshot()
    cfg = write_config(tmp_path, zsim, asim, start="2030-01-01T00:00:00Z")  # the normal sync would see nothing
    result = CliRunner().invoke(cli, ["--config", str(cfg), "backfill", "--since", "2020-01-01"], env=ENV,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db = store.open_db(tmp_path / "s.db")
    from zdtriage.config import TriageConfig

    assert queue.counts(db)["queued"] == len(eligible_ids(before, TriageConfig()))
    # a second backfill queues nothing new
    again = CliRunner().invoke(cli, ["--config", str(cfg), "backfill", "--since", "2020-01-01"], env=ENV)
    assert again.output.strip().endswith("0 ticket(s) queued")


def test_run_once_then_status_and_report(zsim, asim, tmp_path, clock):
    zsim.seed(15, 32)
    cfg = write_config(tmp_path, zsim, asim)
    for _ in range(3):
        result = CliRunner().invoke(cli, ["--config", str(cfg), "run", "--once"], env=ENV, catch_exceptions=False)
        assert result.exit_code == 0
        clock.advance(61)
    status = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"], env=ENV).output)
    assert status["tickets"]["written"] > 0
    report = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "report", "--json"], env=ENV).output)
    assert report["tickets_written"] == status["tickets"]["written"]
    assert report["cost_per_ticket_usd"] > 0
