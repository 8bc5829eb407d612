"""A real account's day (issue 11): default triggers on, a bulk close of 2,000 tickets in one second, and a
two-hour credit outage. Every eligible ticket is written once, no trigger e-mail text reaches a request, and
no healthy ticket gets the failed tag."""

from __future__ import annotations

import json
import random

import pytest

from zdtriage import batches as anth
from zdtriage import prompt
from zdtriage.sim.zendesk_shapes import TRIGGERS
from zdtriage.stages import ingest, poll, submit, writeback
from zdtriage.store import tickets as queue

from .test_end_to_end import our_notes

DAY = 86_400
TICK = 60
ARRIVALS = 120
TEMPLATE_LINES = [line for t in TRIGGERS.values() for line in t.body.splitlines() if len(line) > 20]
SUBJECTS = ["Invoice charged twice", "Cannot log in since the update", "Export to CSV is broken",
            "Please add dark mode", "How do I change my plan?", "The app crashes on start"]


def _run_due(ctx, elapsed):
    # the daemon's schedule: each stage when its interval comes round, in pipeline order
    every = ctx.config.schedule
    for stage, interval in ((ingest.ingest, every.ingest_every), (submit.submit, every.submit_every),
                            (poll.poll, every.poll_every), (writeback.writeback, every.writeback_every)):
        if elapsed % int(interval) == 0:
            stage(ctx)


@pytest.mark.slow
def test_a_day_with_triggers_a_bulk_close_and_a_credit_outage(zsim, asim, make_ctx, clock, monkeypatch):
    rng = random.Random(5)
    start = clock()
    old = [zsim.add_ticket(subject=f"Old request {i}", description="From the old system.", status="open",
                           created_at=start - 40 * DAY)["id"] for i in range(2000)]
    ctx = make_ctx(zendesk={"start": "2026-09-20T00:00:00Z"})  # a day before the clock: the 2,000 predate it
    sent: list[str] = []
    real_create = anth.create_batch

    def create(client, requests):
        # submit hands over each request as the bytes it measured (batches.encode_request)
        decoded = [json.loads(r) if isinstance(r, bytes) else r for r in requests]
        sent.extend(r["params"]["messages"][0]["content"] for r in decoded)
        return real_create(client, requests)

    monkeypatch.setattr(anth, "create_batch", create)
    arrivals = sorted(rng.uniform(0, DAY - 4 * 3600) for _ in range(ARRIVALS))
    replied: dict[int, str] = {}
    crowded_at, outage = 9 * 3600 + 600, (13 * 3600, 15 * 3600)
    new_ids: list[int] = []
    elapsed = 0
    while elapsed <= DAY + 6 * 3600:
        while arrivals and arrivals[0] <= elapsed:
            arrivals.pop(0)
            new_ids.append(zsim.add_ticket(subject=rng.choice(SUBJECTS), status="new",
                                           description="Hello, " + rng.choice(SUBJECTS).lower() + ". Thanks!")["id"])
        if elapsed == crowded_at - TICK:
            waiting = [zsim.add_ticket(subject="Still waiting", description=f"My order {n} has not arrived.",
                                       status="new")["id"] for n in range(3)]
            new_ids.extend(waiting)
        if elapsed == crowded_at:
            # 2,000 closed in one second, and three waiting customers write in that same second
            zsim.bulk_update(old, {"status": "closed"}, at=int(clock()))
            for ticket_id in waiting:
                replied[ticket_id] = f"Any news on ticket {ticket_id}? It is getting worse."
                zsim.add_customer_reply(ticket_id, replied[ticket_id])
        if elapsed == outage[0]:
            asim.refuse("credit")
        if elapsed == outage[1]:
            asim.clear_refusal()
        _run_due(ctx, elapsed)
        clock.advance(TICK)
        elapsed += TICK

    assert len(replied) == 3, "the crowded second must find tickets waiting"
    eligible = set(new_ids)
    after = {t["id"]: t for t in zsim.snapshot()}
    for ticket_id in eligible:
        notes = our_notes(after[ticket_id])
        assert len(notes) == 1 and notes[0]["public"] is False, (ticket_id, queue.get(ctx.db, ticket_id))
        assert prompt.failed_tag(ctx.config.triage) not in after[ticket_id]["tags"]
    assert not any(our_notes(after[i]) for i in old)
    for line in TEMPLATE_LINES:
        assert not any(line in text for text in sent), line
    for ticket_id, reply in replied.items():  # read one by one past the crowded second
        assert any(reply in text for text in sent), ticket_id
    counts = queue.counts(ctx.db)
    assert counts["written"] == len(eligible) and counts["dead"] == 0
    assert ctx.db["event_gaps"].count == 1  # the crowded second was stepped past, once
    refused = list(ctx.db.query("select detail from events where action = 'batch_create_failed'"))
    assert refused and all("credit balance is too low" in r["detail"] for r in refused)
    assert next(ctx.db.query("select max(attempts) as n from tickets"))["n"] == 0  # the outage cost no attempt
