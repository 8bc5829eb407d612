"""Drafts grounded in the account's Help Center (issue 21), end to end through both simulators."""

from __future__ import annotations

import json

import pytest

from zdtriage import batches as anth
from zdtriage import prompt
from zdtriage.sim.helpcenter import NEVER_LINKED
from zdtriage.stages import helpcenter, ingest, poll, submit, writeback
from zdtriage.store import articles
from zdtriage.store import tickets as queue

REFUND = 360001  # sim/helpcenter.py: "Duplicate charges: getting a refund for a double payment"
DOUBLE_CHARGE = {
    "subject": "Charged twice for Team plan",
    "description": "Hi,\n\nI was charged twice this month for the Team plan: two payments of $49 on the same card. "
                   "Please refund the duplicate charge.\n\nThanks,\nSarah",
    "created_at": 1_790_000_000 - 7200,
}


def our_note(zsim, ticket_id):
    (note,) = [c for c in zsim.ticket(ticket_id)["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]
    return note["body"]


@pytest.fixture
def sent(monkeypatch):
    """The user turn of every request sent in a batch create, by custom_id (the simulator keeps no text)."""
    seen: dict[str, str] = {}
    create = anth.create_batch

    def recording(client, requests):
        # submit hands over each request as the bytes it measured (batches.encode_request)
        decoded = [json.loads(r) if isinstance(r, bytes) else r for r in requests]
        seen.update({r["custom_id"]: r["params"]["messages"][0]["content"] for r in decoded})
        return create(client, requests)

    monkeypatch.setattr(anth, "create_batch", recording)
    return seen


def test_a_double_charge_gets_a_draft_that_links_the_refund_article(zsim, sent, make_ctx, clock, drive):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    ctx = make_ctx()
    synced = helpcenter.sync(ctx)
    assert synced["complete"] and synced["articles"] >= 30
    drive(ctx, clock)

    body = our_note(zsim, ticket["id"])
    url = zsim.help_center.html_url(REFUND)
    assert f"Help Center articles:\n- Duplicate charges: getting a refund for a double payment <{url}>" in body
    assert body.strip().splitlines()[-1].startswith(prompt.NOTE_FOOTER)  # the footer stays the last line
    user_turn = sent[prompt.custom_id(ticket["id"], 1)]
    assert f'<article id="{REFUND}" locale="en-us">' in user_turn
    assert user_turn.index("</articles>") < user_turn.index("<ticket>")


def test_a_draft_or_agent_only_article_is_never_stored_nor_sent(zsim, sent, make_ctx, clock, drive):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)  # both hidden articles are about double charges and refunds
    ctx = make_ctx()
    helpcenter.sync(ctx)
    stored = {r["id"] for r in ctx.db.query("select id from articles")}
    assert stored and not stored & set(NEVER_LINKED)
    drive(ctx, clock)
    for hidden in NEVER_LINKED.values():
        assert hidden["title"] not in json.dumps(sent)
        assert hidden["title"] not in our_note(zsim, ticket["id"])


def test_after_an_article_is_archived_a_resync_stops_using_it(zsim, sent, make_ctx, clock, drive):
    ctx = make_ctx()
    helpcenter.sync(ctx)
    zsim.help_center.archive(REFUND)
    clock.advance(3600)
    out = helpcenter.sync(ctx)
    assert out["complete"] and out["removed"] == 4  # its four translations
    ticket = zsim.add_ticket(**{**DOUBLE_CHARGE, "created_at": int(clock()) - 7200})
    drive(ctx, clock)
    assert f'<article id="{REFUND}"' not in sent[prompt.custom_id(ticket["id"], 1)]
    assert f"/articles/{REFUND}-" not in our_note(zsim, ticket["id"])


def test_an_article_archived_between_submit_and_writeback_is_not_linked(zsim, asim, make_ctx, clock):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    ctx = make_ctx()
    helpcenter.sync(ctx)
    clock.advance(61)
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    for _ in range(5):
        clock.advance(61)
        poll.poll(ctx)
    assert json.loads(queue.get(ctx.db, ticket["id"])["answer"])["sources"] == [REFUND]
    zsim.help_center.archive(REFUND)
    helpcenter.sync(ctx)
    for _ in range(4):
        writeback.writeback(ctx)
        clock.advance(61)
    assert "Help Center articles:" not in our_note(zsim, ticket["id"])


def test_an_invented_source_or_link_never_reaches_a_note(zsim, make_ctx, clock, drive):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    ctx = make_ctx()
    helpcenter.sync(ctx)
    clock.advance(61)
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    row = queue.get(ctx.db, ticket["id"])
    held = [a["id"] for a in articles.provided(ctx.db, ticket["id"], 1)]
    assert REFUND in held and 360008 not in held  # 360008 exists, but this request did not hold it
    text = json.dumps({"priority": "P2", "category": "billing", "sentiment": "negative", "language": "en",
                       "confidence": 0.9, "sources": [REFUND, 999999, 360008],
                       "draft": "Sorry! See https://evil.example/refund-form or www.phish.example/x for your refund."})
    outcome = poll.apply_result(ctx, row["batch"], {"custom_id": row["custom_id"], "type": "succeeded",
                                                     "text": text, "stop_reason": "end_turn",
                                                     "usage": {"input_tokens": 10, "output_tokens": 10}})
    assert outcome == "answered"
    assert json.loads(queue.get(ctx.db, ticket["id"])["answer"])["sources"] == [REFUND]
    drive(ctx, clock)
    body = our_note(zsim, ticket["id"])
    assert "evil.example" not in body and "phish.example" not in body and prompt.LINK_REMOVED in body
    links = prompt.links_in(body)
    assert links == [zsim.help_center.html_url(REFUND)]


def test_the_cached_prefix_is_the_same_with_and_without_articles(zsim, asim, make_ctx, clock):
    ctx = make_ctx()
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    clock.advance(61)
    ingest.ingest(ctx)
    row = queue.get(ctx.db, ticket["id"])
    without = submit.build_request(ctx, row)["params"]
    helpcenter.sync(ctx)
    grounded = submit.build_request(ctx, row)["params"]
    assert "<articles>" in grounded["messages"][0]["content"] and "<articles>" not in without["messages"][0]["content"]
    assert json.dumps(grounded["system"]) == json.dumps(without["system"])
    assert grounded["output_config"] == without["output_config"]


def test_a_sync_cut_by_a_429_resumes_and_removes_nothing_until_the_read_is_complete(zsim, make_ctx, clock,
                                                                                   monkeypatch):
    from zdtriage import zendesk as zd
    from zdtriage import zendesk_hc as hc

    ctx = make_ctx()
    assert helpcenter.sync(ctx)["complete"]
    before = articles.count(ctx.db)
    zsim.help_center.archive(360014)
    zsim.help_center.page_size = 5  # several pages (the real export: up to 1,000 a page)
    real, calls = hc.fetch_article_page, []

    def cut_after_two(client, start_time):
        calls.append(start_time)
        if len(calls) == 3:
            raise zd.ZendeskRateLimited(30, "https://x/api/v2/help_center/incremental/articles.json")
        return real(client, start_time)

    monkeypatch.setattr(hc, "fetch_article_page", cut_after_two)
    out = helpcenter.sync(ctx)
    assert out["pages"] == 2 and "waiting" in out and "complete" not in out
    assert articles.count(ctx.db) == before  # a partial read removed nothing
    assert helpcenter.sync(ctx)["waiting"] == "rate limited by Zendesk"  # blocked for Retry-After
    removed = 0
    for _ in range(5):  # the export budget (10 calls a minute, shared with the ticket exports) spreads it out
        clock.advance(61)
        out = helpcenter.sync(ctx)
        removed += out["removed"]
        if out.get("complete"):
            break
    assert out["complete"] and removed == 1 and calls[3] == calls[2]  # resumed at the page it lost
    assert 360014 not in {r["id"] for r in ctx.db.query("select id from articles")}


def test_an_article_turned_back_into_a_draft_is_removed_at_once(zsim, make_ctx, clock):
    ctx = make_ctx()
    helpcenter.sync(ctx)
    clock.advance(60)
    zsim.help_center.add(360001, "en-us", "Duplicate charges (being rewritten)", "refund", draft=True)
    out = helpcenter.sync(ctx)
    assert out["complete"]
    assert [r["locale"] for r in ctx.db.query("select locale from articles where id = 360001 order by locale")] == [
        "de", "es", "fr"]


def test_helpcenter_is_off_with_zero_articles(zsim, make_ctx):
    ctx = make_ctx(triage={"articles": 0})
    calls = dict(zsim.call_counts())
    assert "off" in helpcenter.sync(ctx)["waiting"]
    assert zsim.call_counts() == calls


def test_with_suggest_macros_the_note_names_an_offered_shared_macro(zsim, sent, make_ctx, clock, drive):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    ctx = make_ctx(triage={"suggest_macros": True})
    out = helpcenter.sync(ctx)
    assert out["macros"] == 3  # of the 4 active ones listed (the retired one is not), the finance-only one is left out
    assert {r["id"] for r in ctx.db.query("select id from macros")} == {510001, 510002, 510003}
    drive(ctx, clock)
    body = our_note(zsim, ticket["id"])
    assert '<macro id="510001">' in sent[prompt.custom_id(ticket["id"], 1)]
    lines = body.strip().splitlines()
    assert lines[-3] == "Suggested macro: Billing::Refund duplicate charge" and lines[-2] == ""
    assert lines[-4].startswith("- Duplicate charges: getting a refund")


def test_an_unoffered_macro_id_is_dropped(zsim, make_ctx, clock, drive):
    ticket = zsim.add_ticket(**DOUBLE_CHARGE)
    ctx = make_ctx(triage={"suggest_macros": True})
    helpcenter.sync(ctx)
    clock.advance(61)
    ingest.ingest(ctx)
    submit.submit(ctx, ignore_min_batch=True)
    row = queue.get(ctx.db, ticket["id"])
    offered = {m["id"] for m in articles.provided(ctx.db, ticket["id"], 1, "macros")}
    (other,) = (
        {r["id"] for r in ctx.db.query("select id from macros")} - offered - {510002}
    )  # active, shared, not offered
    text = json.dumps({"priority": "P2", "category": "billing", "sentiment": "negative", "language": "en",
                       "confidence": 0.9, "sources": [], "macro_id": other, "draft": "We will refund it."})
    poll.apply_result(ctx, row["batch"], {"custom_id": row["custom_id"], "type": "succeeded", "text": text,
                                          "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}})
    assert json.loads(queue.get(ctx.db, ticket["id"])["answer"])["macro_id"] == 0
    drive(ctx, clock)
    assert "Suggested macro" not in our_note(zsim, ticket["id"])
