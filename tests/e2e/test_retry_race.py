"""`zdtriage retry --dead` while the dead ticket's failed-tag job is still in flight (issue 10).

A ticket dies, write-back sends its ``ai_failed`` tag in an update_many job, the admin revives it, and the
ticket is triaged again before that job's outcome is read. The old job's outcome must settle nothing: the
ticket ends with exactly one internal note, its triage tags, and no ``ai_failed``. Two timings: the outcome
arrives while the revived ticket is inside a batch, and after its new answer is stored.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zdtriage import prompt
from zdtriage.cli import cli
from zdtriage.stages import ingest, poll, submit, writeback
from zdtriage.store import tickets as queue

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
JOB_SECONDS = 600.0


def _config_file(tmp_path, ctx):
    path = tmp_path / "zdtriage.toml"
    z, a = ctx.config.zendesk, ctx.config.anthropic
    path.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "{z.email}"\nurl = "{z.url}"\n'
                    f'[anthropic]\nbase_url = "{a.base_url}"\n[state]\npath = "{ctx.config.state.path}"\n')
    return path


def _dead_with_failed_tag_in_flight(zsim, asim, ctx, clock, tmp_path):
    zsim.job_complete_after_seconds = JOB_SECONDS  # the failed-tag job stays "working" for ten minutes
    revived, other = (zsim.add_ticket(subject=subject, description="I was charged twice for my plan.",
                                      created_at=clock() - 3600)["id"] for subject in ("Refund please", "Refund too"))
    asim.set_faults(errored_invalid=1.0)
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    assert queue.get(ctx.db, revived)["state"] == queue.get(ctx.db, other)["state"] == "dead"
    assert writeback.writeback(ctx)["jobs_sent"] == 1  # one job carries both ai_failed writes
    assert queue.get(ctx.db, revived)["write_job_id"] is not None
    result = CliRunner().invoke(cli, ["--config", str(_config_file(tmp_path, ctx)), "retry", "--dead",
                                      "--ticket", str(revived)], env=ENV, catch_exceptions=False)
    assert result.exit_code == 0 and result.output.startswith("1 ticket(s)")
    asim.set_faults(errored_invalid=0.0)
    return revived, other


def _finish(ctx, clock):
    for _ in range(4):
        out = writeback.writeback(ctx)
        assert "error" not in out, out
        clock.advance(max(JOB_SECONDS, writeback.job_check_after(ctx)) + 61)
        poll.poll(ctx)


def _assert_one_note_and_the_right_tags(zsim, ctx, ticket_id):
    ticket = zsim.ticket(ticket_id)
    notes = [c for c in ticket["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]
    assert len(notes) == 1 and notes[0]["public"] is False
    row = queue.get(ctx.db, ticket_id)
    assert row["state"] == "written"
    answer = json.loads(row["answer"])
    assert set(prompt.triage_tags(answer, ctx.config.triage)) <= set(ticket["tags"])
    assert prompt.failed_tag(ctx.config.triage) not in ticket["tags"]


@pytest.mark.parametrize("timing", ["outcome while the ticket is in a batch", "outcome after the new answer"])
def test_retry_dead_while_its_failed_tag_job_is_in_flight(zsim, asim, make_ctx, clock, tmp_path, timing):
    ctx = make_ctx()
    ticket_id, other = _dead_with_failed_tag_in_flight(zsim, asim, ctx, clock, tmp_path)
    assert submit.submit(ctx, ignore_min_batch=True)["submitted"] == 1
    if timing == "outcome after the new answer":
        poll.poll(ctx)
        assert queue.get(ctx.db, ticket_id)["state"] == "answered"
    clock.advance(max(JOB_SECONDS, writeback.job_check_after(ctx)) + 1)  # the old job completes, and is looked up
    out = writeback.writeback(ctx)
    assert "error" not in out, out
    # the old job's outcome settles the ticket still dead; for the revived one its intent no longer exists
    assert out["results"]["failed_tagged"] == 1 and out["results"]["stale"] == 1
    assert queue.get(ctx.db, ticket_id)["state"] in ("submitted", "answered")
    assert queue.get(ctx.db, other)["failed_tag_at"] is not None
    _finish(ctx, clock)
    _assert_one_note_and_the_right_tags(zsim, ctx, ticket_id)
