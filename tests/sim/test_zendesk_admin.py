"""The simulated account around the tickets (``sim/zendesk_admin.py``), on the wire.

Sources: the trigger list's keys and the standard set are a real account's export kept as a fixture by
nukosuke/go-zendesk (``fixture/GET/triggers.json``, 2018); "Update Trigger" in Zendesk's Triggers API docs says
that sending conditions or actions replaces both arrays; the agent's 403 body is quoted in facetoe/zenpy#336
and DESIGN §7 says the exports are for admins only.
"""

from __future__ import annotations

import requests

from zdtriage.sim.zendesk_admin import FORBIDDEN, NOISY_TRIGGER_ID

AUTH = ("triage-bot@example.com/token", "sim-token")
TRIGGER_KEYS = {"url", "id", "title", "active", "updated_at", "created_at", "actions", "conditions", "description",
                "position", "raw_title"}


def get(sim, path, auth=AUTH, **params):
    return requests.get(f"{sim.base_url}{path}", auth=auth, params=params, timeout=10)


def test_triggers_have_the_recorded_keys_and_condition_json(zendesk_sim):
    zendesk_sim.add_noisy_trigger()
    body = get(zendesk_sim, "/api/v2/triggers/active.json").json()
    assert set(body) == {"triggers", "next_page", "previous_page", "count"} and body["count"] == 8
    for trigger in body["triggers"]:
        assert set(trigger) == TRIGGER_KEYS and set(trigger["conditions"]) == {"all", "any"}
        assert trigger["url"] == f"{zendesk_sim.base_url}/api/v2/triggers/{trigger['id']}.json"
        assert all(set(c) == {"field", "operator", "value"} for c in trigger["conditions"]["all"])
    titles = [t["title"] for t in body["triggers"]]
    assert "Notify assignee of comment update" in titles and "Notify support team of every update" in titles


def test_a_put_with_conditions_only_clears_the_actions_as_zendesk_does(zendesk_sim):
    url = f"{zendesk_sim.base_url}/api/v2/triggers/{NOISY_TRIGGER_ID}.json"
    conditions = {"all": [{"field": "update_type", "operator": "is", "value": "Change"}], "any": []}
    answer = requests.put(url, auth=AUTH, json={"trigger": {"conditions": conditions}}, timeout=10)
    assert answer.status_code == 404  # not there until added
    zendesk_sim.add_noisy_trigger()
    answer = requests.put(url, auth=AUTH, json={"trigger": {"conditions": conditions}}, timeout=10)
    assert answer.status_code == 200 and answer.json()["trigger"]["actions"] == []
    assert zendesk_sim.trigger(NOISY_TRIGGER_ID)["conditions"] == conditions


def test_an_agents_token_gets_403_on_exports_and_triggers_but_reads_itself(zendesk_sim):
    zendesk_sim.set_api_role("agent")
    for path in ("/api/v2/incremental/tickets/cursor.json", "/api/v2/triggers/active.json"):
        answer = get(zendesk_sim, path, start_time=0)
        assert answer.status_code == 403 and answer.json() == FORBIDDEN
    assert get(zendesk_sim, "/api/v2/users/me.json").json()["user"]["role"] == "agent"
    assert get(zendesk_sim, "/api/v2/triggers/active.json", auth=("x/token", "bad")).status_code == 401


def test_scope_lists_hold_the_ids_tickets_carry_and_tag_search_needs_two_characters(zendesk_sim):
    zendesk_sim.seed(3, 1)
    ticket = get(zendesk_sim, "/api/v2/tickets/show_many.json", ids=",".join(
        str(t["id"]) for t in zendesk_sim.snapshot()[:1])).json()["tickets"][0]
    for path, key, field in (("brands", "brands", "brand_id"), ("groups", "groups", "group_id"),
                             ("ticket_forms", "ticket_forms", "ticket_form_id"),
                             ("custom_statuses", "custom_statuses", "custom_status_id")):
        ids = {row["id"] for row in get(zendesk_sim, f"/api/v2/{path}.json").json()[key]}
        assert ticket[field] in ids, path
    assert get(zendesk_sim, "/api/v2/autocomplete/tags.json", name="a").status_code == 400
    tag = ticket["tags"][0] if ticket["tags"] else None
    if tag:
        assert tag in get(zendesk_sim, "/api/v2/autocomplete/tags.json", name=tag[:2]).json()["tags"]
