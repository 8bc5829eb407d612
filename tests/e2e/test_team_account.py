"""Issue 23, all of it at once: a Team-plan account (200 requests a minute) that another app spends 120 a minute
of, update jobs that take 40 s and whose statuses expire, one job stuck that runs late, one item refused, two
follow-ups of closed triaged tickets, and a batch create that landed and then answered 500.

Every eligible ticket is written once, each follow-up on its own answer, no request is billed twice, and the
account sees at most one 429 from us.
"""

from __future__ import annotations

import json

import pytest

from zdtriage import batches as anth
from zdtriage import pipeline, prompt, store
from zdtriage.demo import eligible_ids
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.sim.zendesk_store import BOT_USER_ID
from zdtriage.stages import account
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

from .conftest import make_config

STEP = 20.0  # the daemon's one-minute stages and the submit policy's checks come about this often


def our_notes(ticket):
    return [c for c in ticket["comments"]
            if not c["public"] and c["author_id"] == BOT_USER_ID and prompt.NOTE_FOOTER in (c["body"] or "")]


@pytest.fixture
def team(clock, monkeypatch):
    sim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock, plan="team",
                     other_app_per_minute=120, job_complete_after_seconds=40, job_status_ttl_seconds=300)
    sim.start()
    yield sim
    sim.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


def _run(ctx, clock, rounds, until=None, before_round=None):
    for n in range(rounds):
        if before_round:
            before_round(n)
        pipeline.run_once(ctx)
        clock.advance(STEP)
        if until and until():
            return n
    raise AssertionError(f"not done after {rounds} rounds: {queue.counts(ctx.db)}")


@pytest.mark.slow
def test_a_shared_team_account_gets_every_ticket_written_once(team, asim, tmp_path, clock):
    first = team.seed(40, 11)  # opened hours to days ago
    start = clock() - 90 * 86400
    clock.advance(120)
    cfg = make_config(team, asim, tmp_path, clock, zendesk={"start": iso(start), "verify_after": "2m"},
                      schedule={"max_wait": "2m"})
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), anthropic=anth.make_client(cfg.anthropic),
                           clock=clock)
    ctx.zendesk = account.client(ctx)  # paced on the account's limit, as `run` is

    def settled(ids):
        def done():
            states = {r["id"]: r["state"] for r in ctx.db.query("select id, state from tickets")}
            return all(states.get(i) in ("written", "dead", "skipped") for i in ids) and not list(
                ctx.db.query("select id from tickets where write_started_at is not null"))
        return done

    eligible_first = eligible_ids([t for t in team.snapshot() if t["id"] in first], cfg.triage)
    _run(ctx, clock, 80, until=settled(eligible_first))

    # two triaged tickets are closed, then their customers write again: Zendesk makes follow-ups with our tags
    written = [t for t in team.snapshot() if t["id"] in eligible_first and our_notes(t)]
    closed = [t["id"] for t in written[:2]]
    for ticket_id in closed:
        team.close(ticket_id)
    followups = [team.add_customer_reply(i, "I have a different question now: how do I export my invoices?")["id"]
                 for i in closed]
    assert not set(followups) & set(closed)
    assert all(prompt.marker_tag(cfg.triage) in t["tags"] for t in team.snapshot() if t["id"] in followups)

    # more tickets, a job that stays queued and then runs late, one refused item, a create that lands then 500s
    second = team.seed(40, 12)  # old tickets behind the export's cursor, until their customers write again
    eligible_second = eligible_ids([t for t in team.snapshot() if t["id"] in second], cfg.triage)
    for ticket_id in eligible_second:
        team.add_customer_reply(ticket_id, "Any news on this? We are still stuck.")
    refused = sorted(eligible_second)[0]
    team.stick_jobs(1, run_after=600)
    team.fail_job_items([refused], "Follow Up Date: needed")
    batches_before = len(asim.batches())
    landed = {"done": False}

    def fault(_):
        if not landed["done"]:
            asim.set_faults(create_landed_500=1.0 if len(asim.batches()) == batches_before else 0.0)
            landed["done"] = len(asim.batches()) > batches_before
            if landed["done"]:
                asim.set_faults(create_landed_500=0.0)

    everything = set(eligible_second) | set(followups)
    _run(ctx, clock, 150, until=settled(everything), before_round=fault)
    assert landed["done"]
    clock.advance(700)  # the stuck job's late run comes due
    _run(ctx, clock, 10, until=settled(everything))

    after = {t["id"]: t for t in team.snapshot()}
    rows = {r["id"]: r for r in ctx.db.query("select id, state, answer, attempts, last_error from tickets")}
    for ticket_id in set(eligible_first) | everything:
        state = rows[ticket_id]["state"]
        assert state in ("written", "dead"), (ticket_id, state)
        assert len(our_notes(after[ticket_id])) == (1 if state == "written" else 0), ticket_id  # once, never twice
        if state == "dead":
            assert rows[ticket_id]["last_error"].startswith("invalid answer"), rows[ticket_id]  # the corpus's bad one
    assert rows[refused]["state"] == "written"  # refused once with its details, resent after the write backoff

    for ticket_id in followups:  # triaged on its own answer: its own note, its own value tags, nothing inherited
        assert rows[ticket_id]["state"] == "written"
        (note,) = our_notes(after[ticket_id])
        assert prompt.is_our_note(note["body"], public=False, author_id=BOT_USER_ID, bot_user_id=BOT_USER_ID,
                                  ticket_id=ticket_id)
        own = set(prompt.triage_tags(json.loads(rows[ticket_id]["answer"]), cfg.triage))
        ours = {t for t in after[ticket_id]["tags"] if t.startswith("ai_") and t != prompt.marker_tag(cfg.triage)}
        assert ours == own - {prompt.marker_tag(cfg.triage)}

    sent = asim.custom_ids_sent()
    for custom_id, n in sent.items():  # a request is in a second batch only when its first answer was refused
        parsed = prompt.parse_custom_id(custom_id)
        assert parsed is not None
        assert n == 1 or rows[parsed[0]]["attempts"] > 1, (custom_id, n)

    (stuck,) = [j for j in team.jobs() if j["stuck"]]
    assert stuck["status"] == "completed" and stuck["results"]  # it did run, late, after its tickets were resent
    assert not any(r.get("success") for r in stuck["results"])  # and safe_update refused every item of it

    stats = team.stats()
    assert stats["rate_limited"] <= 1
    assert stats["own_peak_per_minute"] <= int(cfg.zendesk.account_share * 200)
    assert stats["other_app_refused"] == 0
