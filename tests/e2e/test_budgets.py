"""The account's budgets are kept, not discovered (issue 11): the 10 export requests a minute shared by both
exports, and the ticket updates a minute, hold across repeated `run --once`, restarts and the daemon."""

from __future__ import annotations

from click.testing import CliRunner

from zdtriage import pipeline
from zdtriage.cli import cli
from zdtriage.stages import ingest, poll, submit, writeback
from zdtriage.store import pace

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


def _export_calls(zsim):
    calls = zsim.call_counts()
    return sum(n for route, n in calls.items() if "/incremental/" in route)


def test_repeated_runs_never_exceed_the_export_budget(zsim, make_ctx, clock):
    zsim.seed(30, 14)
    ctx = make_ctx()
    for _ in range(12):  # a dozen `run --once` in the same minute, as a cron job gone wrong would
        pipeline.run_once(ctx)
        clock.advance(2)
    assert _export_calls(zsim) <= ctx.config.zendesk.export_requests_per_minute
    assert zsim.stats()["rate_limited"] == 0


def test_another_process_shares_the_same_budget(zsim, make_ctx, clock, tmp_path):
    zsim.seed(10, 15)
    ctx = make_ctx()
    for _ in range(9):
        assert pace.take(ctx.db, "export", clock(), 10)  # a restart or a backfill spent these moments ago
    assert ingest.ingest(ctx)["pages"] == 1  # the one request left this minute
    again = ingest.ingest(ctx)
    assert again["pages"] == 0 and "export budget" in again["waiting"]
    assert _export_calls(zsim) == 1


def test_updates_per_minute_hold_across_runs(zsim, make_ctx, clock):
    zsim.seed(260, 16)
    ctx = make_ctx(zendesk={"updates_per_minute": 100})
    ingest.ingest(ctx)
    clock.advance(61)
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    sent = 0
    for _ in range(8):  # repeated runs inside one minute
        sent += writeback.writeback(ctx)["jobs_sent"]
        clock.advance(5)
    assert zsim.stats()["max_ticket_updates_per_minute"] <= 100
    assert sent == 1  # one update_many of 100; the rest waits for the next minute
    clock.advance(61)
    assert writeback.writeback(ctx)["jobs_sent"] == 1


def test_run_once_from_the_command_line_keeps_the_budget(zsim, asim, tmp_path, clock):
    zsim.seed(20, 17)
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                    f'start = "2020-01-01T00:00:00Z"\n[anthropic]\nbase_url = "{asim.base_url}"\n'
                    f'[state]\npath = "{tmp_path / "s.db"}"\n')
    for _ in range(8):
        assert CliRunner().invoke(cli, ["--config", str(path), "run", "--once"], env=ENV).exit_code == 0
    assert zsim.stats()["rate_limited"] == 0
