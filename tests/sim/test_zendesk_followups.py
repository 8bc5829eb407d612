"""The Zendesk simulator's follow-ups, merges and users (DESIGN §7 "Follow-up tickets", "Comment authors"):
what the pipeline reads of them goes through zenpy and ``zdtriage.zendesk``."""

from __future__ import annotations

import pytest
from zenpy import Zenpy

from zdtriage import zendesk as zd
from zdtriage.sim.server import ManualClock
from zdtriage.sim.zendesk import ZendeskSim
from zdtriage.sim.zendesk_store import AGENT_IDS, BOT_USER_ID, ApiError


def test_a_reply_to_a_closed_ticket_is_a_follow_up_with_its_tags_ccs_and_origin(
        zendesk_sim: ZendeskSim, zenpy_client: Zenpy, zendesk_clock: ManualClock) -> None:
    origin = zendesk_sim.add_ticket(subject="Refund", description="Please refund.", tags=["ai_triaged", "vip"],
                                    comments=[{"body": "Me too", "author": "cc"}])
    zendesk_sim.close(origin["id"])
    follow = zendesk_sim.add_customer_reply(origin["id"], "One more thing")
    assert follow["id"] != origin["id"] and zendesk_sim.ticket(origin["id"])["status"] == "closed"
    zendesk_clock.advance(5)
    page = zd.fetch_ticket_page(zenpy_client, start_time=0)
    exported = {t["id"]: t for t in page["tickets"]}
    assert exported[follow["id"]]["tags"] == ["ai_triaged", "vip"]
    assert exported[follow["id"]]["via"]["source"] == {
        "from": {"ticket_id": origin["id"]},
        "to": {},
        "rel": "follow_up",
    }
    assert zd.followup_of(exported[follow["id"]]) == origin["id"]
    assert zd.followup_of(exported[origin["id"]]) is None
    assert follow["cc_ids"] == origin["cc_ids"] and len(origin["cc_ids"]) == 1


def test_a_merge_closes_the_source_with_a_comment_and_comments_on_the_target(zendesk_sim: ZendeskSim) -> None:
    target = zendesk_sim.add_ticket(subject="Login", description="Cannot log in")["id"]
    source = zendesk_sim.add_ticket(subject="Login 2", description="Still cannot log in")["id"]
    zendesk_sim.merge(source, target, public=False)
    src, tgt = zendesk_sim.ticket(source), zendesk_sim.ticket(target)
    assert src["status"] == "closed" and f"merged into request #{target}" in src["comments"][-1]["body"]
    last = tgt["comments"][-1]
    assert last["author_id"] == AGENT_IDS[0] and last["public"] is False
    assert last["body"].startswith(f'Request #{source} "Login 2" was closed and merged into this request.')
    assert "Still cannot log in" in last["body"]
    with pytest.raises(ApiError):  # a closed ticket cannot be merged (it is closed: nothing changes)
        zendesk_sim.merge(source, target)


def test_users_show_many_gives_roles_and_leaves_out_unknown_ids(zendesk_sim: ZendeskSim, zenpy_client: Zenpy) -> None:
    t = zendesk_sim.add_ticket(subject="s", description="d", comments=[{"body": "cc here", "author": "cc"}])
    cc = t["cc_ids"][0]
    roles = zd.fetch_user_roles(zenpy_client, [t["requester_id"], cc, AGENT_IDS[1], BOT_USER_ID, 12345])
    assert roles == {t["requester_id"]: "end-user", cc: "end-user", AGENT_IDS[1]: "agent", BOT_USER_ID: "admin"}
    with pytest.raises(ValueError):
        zd.fetch_user_roles(zenpy_client, list(range(1, 102)))
