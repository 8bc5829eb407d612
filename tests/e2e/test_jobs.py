"""Update jobs as they really are (issue 23 items 3 and 4, issue 22's first target), through both simulators.

Jobs take a while, some stay ``queued`` forever or run very late, their statuses expire (404, left out of
``show_many``), and an item can be refused for a reason of its own ("Follow Up Date: needed"): DESIGN §7.
Every ticket must still get exactly one note, and a stuck job must not hold write-back.
"""

from __future__ import annotations

from zdtriage import pipeline, prompt
from zdtriage.stages import common, ingest, poll, submit, writeback
from zdtriage.store import tickets as queue

SHOW_JOBS = "GET /api/v2/job_statuses/show_many.json"


def _notes(zsim, ticket_id):
    return [c for c in zsim.ticket(ticket_id)["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]


def _tickets(zsim, clock, n):
    return [zsim.add_ticket(subject=f"Refund {i}", description="I was charged twice for my plan.",
                            created_at=clock() - 3600)["id"] for i in range(n)]


def _answered(ctx, n):
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    assert queue.counts(ctx.db)["answered"] == n


def _rounds(ctx, clock, n, step=61.0):
    for _ in range(n):
        pipeline.run_once(ctx)
        clock.advance(step)


def test_a_job_stuck_in_queued_is_verified_resent_and_frees_its_slot(zsim, make_ctx, clock, monkeypatch):
    monkeypatch.setattr(writeback, "MAX_JOBS_IN_FLIGHT", 1)  # the stuck job holds the only slot
    ids = _tickets(zsim, clock, 3)
    ctx = make_ctx()
    zsim.stick_jobs(1)  # queued forever
    _rounds(ctx, clock, 8)
    assert queue.counts(ctx.db)["written"] == 3
    assert all(len(_notes(zsim, i)) == 1 for i in ids)
    assert next(ctx.db.query("select count(*) as n from events where action = 'write_job_stuck'"))["n"] == 1


def test_a_stuck_job_running_late_never_adds_a_second_note(zsim, make_ctx, clock):
    ids = _tickets(zsim, clock, 3)
    ctx = make_ctx()
    zsim.stick_jobs(1, run_after=900)  # applied as sent, fifteen minutes late
    _rounds(ctx, clock, 4)
    assert queue.counts(ctx.db)["written"] == 3  # resent and written long before the old job runs
    [late] = [job for job in zsim.store.jobs.values() if job.stuck]
    assert late.status == "queued"
    _rounds(ctx, clock, 16)
    assert late.status == "completed"
    # it ran, and every item was refused by safe_update: the ticket had changed since the read it carried
    assert [r.get("error") for r in late.results] == ["TicketUpdateFailed"] * 3
    assert all(len(_notes(zsim, i)) == 1 for i in ids)
    assert queue.counts(ctx.db)["written"] == 3


def test_an_expired_job_status_is_unknown_and_verified_never_an_error(zsim, make_ctx, clock):
    zsim.job_status_ttl_seconds = 20.0  # gone before write-back asks (the documented expiry, shortened)
    ids = _tickets(zsim, clock, 2)
    ctx = make_ctx()
    _answered(ctx, 2)
    assert writeback.writeback(ctx)["jobs_sent"] == 1
    clock.advance(61)
    out = writeback.writeback(ctx)  # no ingest in between: only the job status or the tickets can tell
    assert "error" not in out, out
    assert out["results"] == {"unknown": 2, "written": 2}
    assert all(len(_notes(zsim, i)) == 1 for i in ids)


def test_an_item_refused_for_its_own_reason_backs_off_then_is_written(zsim, make_ctx, clock):
    refused, _fine = _tickets(zsim, clock, 2)
    ctx = make_ctx()
    _answered(ctx, 2)
    zsim.fail_job_items([refused], "Follow Up Date: needed")
    writeback.writeback(ctx)
    clock.advance(61)
    out = writeback.writeback(ctx)
    assert out["results"] == {"retry": 1, "written": 1} and out["jobs_sent"] == 0  # not resent before the backoff
    row = queue.get(ctx.db, refused)
    assert row["state"] == "answered" and row["write_attempts"] == 1
    assert row["last_error"] == "write-back: TicketUpdateFailed Follow Up Date: needed"
    clock.advance(common.WRITE_BACKOFF)
    assert writeback.writeback(ctx)["jobs_sent"] == 1
    clock.advance(61)
    writeback.writeback(ctx)
    assert queue.get(ctx.db, refused)["state"] == "written" and len(_notes(zsim, refused)) == 1


def test_an_item_refused_every_time_is_dead_with_the_reason(zsim, make_ctx, clock):
    [ticket] = _tickets(zsim, clock, 1)
    ctx = make_ctx()
    _answered(ctx, 1)
    zsim.fail_job_items([ticket], "Follow Up Date: needed", times=common.MAX_WRITE_ATTEMPTS)
    sent = 0
    for _ in range(common.MAX_WRITE_ATTEMPTS * 2 + 2):
        sent += writeback.writeback(ctx)["jobs_sent"]
        clock.advance(1000)  # past each backoff (120 s doubling), within the job statuses' hour
    row = queue.get(ctx.db, ticket)
    assert sent >= common.MAX_WRITE_ATTEMPTS and row["state"] == "dead"
    assert row["last_error"] == "write-back: TicketUpdateFailed Follow Up Date: needed"
    assert _notes(zsim, ticket) == [] and prompt.failed_tag(ctx.config.triage) in zsim.ticket(ticket)["tags"]


def test_full_slots_ask_the_open_jobs_in_one_call_instead_of_waiting(zsim, make_ctx, clock, monkeypatch):
    # issue 22: a job Zendesk finished seconds after the call counted in flight until the next ingest
    monkeypatch.setattr(writeback, "MAX_JOBS_IN_FLIGHT", 1)
    zsim.job_complete_after_seconds = 5.0
    _tickets(zsim, clock, 150)
    ctx = make_ctx(zendesk={"verify_after": "11m"})
    _answered(ctx, 150)
    assert writeback.writeback(ctx)["jobs_sent"] == 1  # the only slot taken
    clock.advance(61)
    before = zsim.call_counts().get(SHOW_JOBS, 0)
    second = writeback.writeback(ctx)
    assert zsim.call_counts()[SHOW_JOBS] - before == 1
    assert second["results"] == {"written": 100} and second["jobs_sent"] == 1


def test_retry_dead_between_the_fresh_read_and_the_intents_drops_that_ticket_not_the_group(
        zsim, make_ctx, clock, monkeypatch):
    revived, dead, answered = _tickets(zsim, clock, 3)
    ctx = make_ctx()
    ingest.ingest(ctx)
    for ticket_id in (revived, dead):
        queue.kill(ctx.db, ticket_id, clock(), reason="invalid answer")
    submit.submit(ctx, ignore_min_batch=True)
    poll.poll(ctx)
    read = writeback.zd.fetch_tickets

    def read_then_retry(client, ids, **kw):
        found = read(client, ids, **kw)
        queue.retry(ctx.db, clock(), dead=True, ids=[revived])  # `zdtriage retry --dead` lands here
        return found

    monkeypatch.setattr(writeback.zd, "fetch_tickets", read_then_retry)
    out = writeback.writeback(ctx)
    assert "error" not in out and out["jobs_sent"] == 1 and out["results"] == {"moved": 1}
    assert queue.get(ctx.db, revived)["state"] == "queued" and queue.get(ctx.db, revived)["write_started_at"] is None
    assert queue.get(ctx.db, dead)["write_job_id"] is not None
    assert queue.get(ctx.db, answered)["write_job_id"] is not None
    [job] = zsim.store.jobs.values()
    assert sorted(i for i, _ in job.items) == sorted([dead, answered])


def test_a_clock_set_back_does_not_leave_a_failed_job_unchecked(zsim, make_ctx, clock):
    ids = _tickets(zsim, clock, 2)
    ctx = make_ctx()
    _answered(ctx, 2)
    clock.advance(86400)  # the host clock a day fast while the job is sent...
    assert writeback.writeback(ctx)["jobs_sent"] == 1
    zsim.store.jobs.clear()  # ...its status gone (a failed job would say the same: verify)
    clock.advance(-86400 + 61)  # ...then corrected: the job is asked about now, not in a day
    out = writeback.writeback(ctx)
    # the simulator shares the clock, so that job is not due before tomorrow: verified, not there, resent
    assert out["results"] == {"unknown": 2, "resend": 2} and out["jobs_sent"] == 1, out
    clock.advance(61)
    assert writeback.writeback(ctx)["results"] == {"written": 2}
    assert all(len(_notes(zsim, i)) == 1 for i in ids)
