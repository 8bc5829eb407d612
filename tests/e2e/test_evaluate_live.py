"""Live agreement and draft adoption through the real pipeline: agents change our values or answer the
customer in the Zendesk simulator, the exports bring it back, ``report`` shows it."""

from __future__ import annotations

import json

import requests

from zdtriage import pipeline, prompt, reports
from zdtriage.sim.zendesk_store import AGENT_IDS
from zdtriage.store import evaluations

AUTH = ("triage-bot@example.com/token", "sim-token")


def put(zsim, ticket_id, body):
    response = requests.put(f"{zsim.base_url}/api/v2/tickets/{ticket_id}.json", json={"ticket": body}, auth=AUTH,
                            timeout=10)
    assert response.status_code == 200, response.text


def test_agents_changes_and_replies_show_in_the_report(zsim, make_ctx, clock, drive):
    zsim.seed(12, 21)
    ctx = make_ctx(triage={"retriage": True})  # comment events are read at every submit
    drive(ctx, clock)
    written = list(ctx.db.query("select * from tickets where state = 'written' order by id"))
    assert len(written) >= 4
    changed, solved, replied = written[0], written[1], written[2]
    ours = json.loads(changed["answer"])["priority"]
    other = next(p for p in ctx.config.triage.priorities if p != ours)
    put(zsim, changed["id"], {"remove_tags": [prompt.tag_for("ai_", "priority", ours)],
                              "additional_tags": [prompt.tag_for("ai_", "priority", other)]})
    put(zsim, solved["id"], {"status": "solved"})
    draft = json.loads(replied["answer"])["draft"]
    put(zsim, replied["id"], {"comment": {"body": f"{draft}\n\nBest, Dana", "public": True, "author_id": AGENT_IDS[0]}})
    clock.advance(120)
    for _ in range(2):
        pipeline.run_once(ctx)
        clock.advance(61)

    data = reports.report(ctx.db, ctx.config)
    priority = data["live_agreement"]["priority"]
    assert (priority["changed"], priority["agreed"]) == (1, 1)
    assert priority["changed_by"] == {"ai_field": 1} and priority["agreement"] == 0.5
    assert data["draft_adoption"]["measured"] == 1 and data["draft_adoption"]["adopted"] == 1.0
    row = evaluations.observation(ctx.db, changed["id"], 1, "priority")
    assert (row["ours"], row["theirs"]) == (ours, other)
