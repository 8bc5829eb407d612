"""A Team-plan account (200 requests a minute over all endpoints) where another app spends 120 a minute: the
pipeline paces itself on what Zendesk reports and every ticket is still written, slower (issue 23 item 2).

The load: 200 old tickets that customers all answered at once, so each one's conversation is read one by one
(a comments call each) on top of the exports, show_many, update_many and job statuses; the pipeline runs every
20 s (the daemon's one-minute stages and the submit policy's checks come about that often). Unpaced, the same
run makes about 110 calls in a minute, runs into 429s and starves the other app (measured on the code before
this change: peak 112 a minute, two 429s, the account left with 0).
"""

from __future__ import annotations

import pytest

from zdtriage import batches as anth
from zdtriage import pipeline, reports, store
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.stages import account
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

from .conftest import make_config


@pytest.fixture
def team_sim(clock, monkeypatch):
    sim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock, plan="team",
                     other_app_per_minute=120)
    sim.start()
    yield sim
    sim.stop()
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


def test_a_busy_team_account_is_served_slower_never_over_its_share(team_sim, asim, tmp_path, clock):
    ids = team_sim.seed(200, 23)
    start = clock() - 600
    clock.advance(5)
    for ticket_id in ids:
        team_sim.add_customer_reply(ticket_id, "Any news on this? We are still stuck.")
    clock.advance(120)
    cfg = make_config(team_sim, asim, tmp_path, clock, zendesk={"start": iso(start)})
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), anthropic=anth.make_client(cfg.anthropic),
                           clock=clock)
    ctx.zendesk = account.client(ctx)
    eligible = None
    for rounds in range(40):
        pipeline.run_once(ctx)
        clock.advance(20)
        counts = queue.counts(ctx.db)
        eligible = eligible or sum(counts.values()) - counts["skipped"]
        if counts["written"] + counts["dead"] == eligible and rounds > 2:
            break
    stats = team_sim.stats()
    share = int(cfg.zendesk.account_share * 200)
    assert stats["own_peak_per_minute"] <= share  # never more than our share of the limit in a minute
    assert stats["own_peak_per_minute"] <= 200 - 120  # nor more than the other app leaves
    assert stats["min_remaining_after_own"] >= account.RESERVE  # what remains minus the reserve, at most
    assert stats["rate_limited"] <= 1
    assert stats["other_app_refused"] == 0  # the other app was never starved by us
    counts = queue.counts(ctx.db)
    assert counts["written"] + counts["dead"] == eligible and counts["written"] > 150  # every ticket, just slower
    dead = [r["last_error"] for r in ctx.db.query("select last_error from tickets where state = 'dead'")]
    assert all(reason.startswith("invalid answer") for reason in dead)  # the corpus's bad answer; no Zendesk refusal
    notes = [c for t in team_sim.snapshot() for c in t["comments"] if not c["public"] and "triage" in c["body"].lower()]
    assert len(notes) == counts["written"]  # once each
    seen = reports.status(ctx.db, cfg, clock())["zendesk_limit"]
    assert seen["limit"] == 200 and 0 <= seen["remaining"] <= 200 and seen["others_per_minute"] > 60
