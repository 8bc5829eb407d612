"""assets/triage.js under Node (module.exports): the same parser the sidebar runs in the browser.
Skipped when node is not installed."""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from .helpers import ROOT
from .parse_cases import PARSE_CASES

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node to load assets/triage.js")

RUNNER = """
const T = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(cases.map(c => T[c.fn](...c.args))));
"""


def run_node(calls: list[dict]) -> list:
    out = subprocess.run(
        [NODE, "-e", RUNNER, str(ROOT / "assets" / "triage.js")],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def test_parse_note_under_node():
    results = run_node([{"fn": "parseNote", "args": [text]} for text, _ in PARSE_CASES])
    for (text, expected), got in zip(PARSE_CASES, results, strict=True):
        if expected is None:
            assert got is None, text
            continue
        for key, value in expected.items():
            assert got[key] == value, (key, text)


BOT = {"id": 9, "email": "Triage-Bot@Example.com"}
NOTE = (
    "AI triage \u2014 priority P2 \u00b7 category billing \u00b7 sentiment negative \u00b7 confidence 0.82\n\n"
    "Hello!\n\n\u2014 Draft by zendesk-batch-triage (triage-id zbt-5-1). Review before sending."
)


def call(tags, comments, **opts):
    options = {"prefix": "ai_", "ticketId": 5, "serviceUser": "triage-bot@example.com", **opts}
    return {"fn": "buildModel", "args": [tags, comments, options]}


def test_build_model_under_node():
    untriaged, triaged, failed, both = run_node([
        call(["vip"], [{"id": 1, "value": "<p>Hi</p>", "isPublic": True}]),
        call(["ai_triaged", "ai_confidence_low", "ai_draft_rejected"],
             [{"id": 2, "value": NOTE, "isPublic": False, "author": BOT}], prefix=None),
        call(["ai_failed"], []),
        call(["ai_failed", "ai_triaged"], []),
    ])
    assert untriaged["state"] == "untriaged" and untriaged["hasNote"] is False
    assert triaged["state"] == "triaged" and triaged["draft"] == "Hello!"
    assert (triaged["priority"], triaged["category"], triaged["confidence"]) == ("P2", "billing", 0.82)
    assert triaged["confidenceLow"] is True
    assert triaged["feedback"] == "rejected"
    assert triaged["tags"] == {"used": "ai_draft_used", "rejected": "ai_draft_rejected"}
    assert failed["state"] == "failed"
    assert both["state"] == "triaged"


def test_trust_rules_under_node():
    good = {"id": 2, "value": NOTE, "isPublic": False, "author": BOT}
    cases = {
        "missing_flag": ({k: v for k, v in good.items() if k != "isPublic"}, "not_internal"),
        "public": ({**good, "isPublic": True}, "not_internal"),
        "rest_style_public_false": (
            {**{k: v for k, v in good.items() if k != "isPublic"}, "public": False},
            "not_internal",
        ),
        "other_author": ({**good, "author": {"id": 10, "email": "x@example.com"}}, "wrong_author"),
        "no_author": ({k: v for k, v in good.items() if k != "author"}, "wrong_author"),
        "other_ticket": ({**good, "value": NOTE.replace("zbt-5-1", "zbt-6-1")}, "wrong_ticket"),
        "footer_not_last": ({**good, "value": NOTE + "\nthanks"}, "footer_not_last"),
    }
    results = run_node(
        [call(["ai_triaged"], [comment]) for comment, _ in cases.values()]
        + [
            call(["ai_triaged"], [good], serviceUser=u)
            for u in ("triage-bot@example.com", "9", "10", "not a user", None)
        ]
    )
    for (name, (_, reason)), got in zip(cases.items(), results, strict=False):
        assert got["hasNote"] is False, name
        assert got["ignored"] == [{"id": 2, "reason": reason}], name
    by_user = results[len(cases):]
    assert [m["hasNote"] for m in by_user] == [True, True, False, False, False]
    assert by_user[-1]["serviceUserSet"] is False


def test_tag_fallback_never_ranks_values():
    orders = (["ai_priority_p1", "ai_priority_p4"], ["ai_priority_p4", "ai_priority_p1"])
    for got in run_node([call(["ai_triaged", *order, "ai_category_billing"], []) for order in orders]):
        assert got["priority"] is None
        assert got["conflicts"] == {"priority": ["P1", "P4"]}
        assert got["category"] == "billing"


def test_draft_to_html_under_node():
    (html,) = run_node([{"fn": "draftToHtml", "args": ['<a href="x">y</a> &amp; \'q\'\r\nnext']}])
    assert html == "&lt;a href=&quot;x&quot;&gt;y&lt;/a&gt; &amp;amp; &#39;q&#39;<br>next"


def test_article_links_only_to_the_account_under_node():
    allowed = {"subdomain": "acme", "hosts": ["help.acme.com", ""]}
    urls = {
        "https://acme.zendesk.com/hc/en-us/articles/1-Refunds": "https://acme.zendesk.com/hc/en-us/articles/1-Refunds",
        "https://ACME.zendesk.com/hc/de/articles/2": "https://acme.zendesk.com/hc/de/articles/2",
        "https://help.acme.com/hc/en-us/articles/3": "https://help.acme.com/hc/en-us/articles/3",
        "http://acme.zendesk.com/hc/en-us/articles/1": None,
        "javascript:alert(1)": None,
        "JavaScript://acme.zendesk.com/%0aalert(1)": None,
        "data:text/html,<b>x</b>": None,
        "https://other.zendesk.com/hc/en-us/articles/1": None,
        "https://acme.zendesk.com.evil.example/hc/1": None,
        "https://evil.example@acme.zendesk.com/hc/1": None,
        "https://acme.zendesk.com@evil.example/hc/1": None,
        "https://acme.zendesk.com:8443/hc/1": None,
        "//acme.zendesk.com/hc/1": None,
        "": None,
    }
    got = run_node([{"fn": "articleHref", "args": [u, allowed]} for u in urls]
                   + [{"fn": "articleHref", "args": ["https://acme.zendesk.com/hc/1", {"subdomain": "", "hosts": []}]}])
    assert dict(zip(urls, got, strict=False)) == urls
    assert got[-1] is None, "without a known subdomain or host nothing is a link"


def test_articles_survive_zendesks_html_under_node():
    """The same block as ZAF may hand it over: escaped brackets, URLs auto-linked, the lines as a list."""
    footer = "\u2014 Draft by zendesk-batch-triage (triage-id zbt-5-1). Review before sending."
    url = "https://acme.zendesk.com/hc/en-us/articles/1-Refunds"
    as_paragraphs = (
        '<div class="zd-comment"><p>AI triage \u2014 priority P2</p><p>Hi.</p>'
        f'<p>Help Center articles:<br>- Refunds &amp; returns &lt;<a href="{url}" rel="noreferrer">{url}</a>&gt;<br>'
        f"Suggested macro: Refund issued</p><p>{footer}</p></div>"
    )
    as_list = (
        '<div class="zd-comment"><p>AI triage \u2014 priority P2</p><p>Hi.</p><p>Help Center articles:</p>'
        f'<ul><li>Refunds &amp; returns &lt;<a href="{url}">{url}</a>&gt;</li></ul><p>{footer}</p></div>'
    )
    got = run_node([call(["ai_triaged"], [{"id": 2, "value": v, "isPublic": False, "author": BOT}])
                    for v in (as_paragraphs, as_list)])
    for model in got:
        assert model["draft"] == "Hi."
        assert model["articles"] == [{"title": "Refunds & returns", "url": url}]
    assert [m["macro"] for m in got] == ["Refund issued", None]


def tags_change(at: str, before: list[str], after: list[str]) -> dict:
    """An audit as GET tickets/{id}/audits.json lists it, with a Change event on the tags."""
    return {"id": 1, "created_at": at, "author_id": 9, "events": [
        {"id": 2, "type": "Change", "field_name": "tags", "value": after, "previous_value": before}]}


def test_failed_since_under_node():
    created = {"id": 1, "created_at": "2026-11-01T08:00:00Z", "events": [
        {"id": 2, "type": "Create", "field_name": "tags", "value": ["ai_failed"]}]}
    got = run_node([
        {"fn": "failedSince", "args": [[
            created,
            tags_change("2026-11-02T09:00:00Z", [], ["ai_failed"]),
            tags_change("2026-11-03T09:00:00Z", ["ai_failed"], ["ai_failed", "vip"]),  # kept, not added
            tags_change("2026-11-04T09:00:00Z", ["ai_failed"], []),
            tags_change("2026-11-05T10:30:00Z", ["vip"], ["vip", "ai_failed"]),
        ], "ai_"]},
        {"fn": "failedSince", "args": [[created], "ai_"]},
        {"fn": "failedSince", "args": [[tags_change("2026-11-05T10:30:00Z", "vip", "vip zbt_failed")], "zbt_"]},
        {"fn": "failedSince", "args": [[tags_change("2026-11-05T10:30:00Z", [], ["ai_failed"])], "zbt_"]},
        {"fn": "failedSince", "args": [None, "ai_"]},
    ])
    assert got[0] == "2026-11-05T10:30:00.000Z", "the latest time the tag was added"
    assert got[1] is None, "a tag copied into a follow-up at creation does not say when triage failed"
    assert got[2] == "2026-11-05T10:30:00.000Z"
    assert got[3:] == [None, None]


LAST_MS = int(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp() * 1000)


def test_health_summary_under_node():
    body = {"healthy": True, "reason": "", "checked_at": "2026-12-01T10:03:20Z",
            "last_writeback_success": "2026-12-01T10:00:00Z", "stages": {}}
    got = run_node([
        {"fn": "healthSummary", "args": [200, body, 0]},
        {"fn": "healthSummary", "args": [200, {**body, "checked_at": None}, LAST_MS + 260_000]},
        {"fn": "healthSummary", "args": [503, {**body, "healthy": False, "reason": "poll: 529"}, 0]},
        {"fn": "healthSummary", "args": [200, {**body, "healthy": False, "reason": " x "}, 0]},
        {"fn": "healthSummary", "args": [500, body, 0]},
        {"fn": "healthSummary", "args": [200, {"status": "ok"}, 0]},
        {"fn": "healthSummary", "args": [0, None, 0]},
        {"fn": "ageParts", "args": [59]},
        {"fn": "ageParts", "args": [3599]},
        {"fn": "ageParts", "args": [7200]},
    ])
    assert got[0] == {"kind": "ok", "ageSeconds": 200}
    assert got[1] == {"kind": "ok", "ageSeconds": 260}, "without checked_at the given clock is used"
    assert got[2] == {"kind": "unhealthy", "reason": "poll: 529"}
    assert got[3] == {"kind": "unhealthy", "reason": "x"}
    assert got[4:7] == [{"kind": "unreachable"}] * 3
    assert got[7:] == [{"key": "just_now", "n": 0}, {"key": "minutes_ago", "n": 59}, {"key": "hours_ago", "n": 2}]


TRANSLATE = """
const T = require(process.argv[1]);
const dicts = {en: {a: {b: 'Hello {{name}}', only: 'English only'}}, de: {a: {b: 'Hallo {{name}}'}}};
const out = ['de', 'de-AT', 'DE_ch', 'pt-BR', '', null].map(l => {
  const t = T.makeTranslator(dicts, l);
  return [t.locale, t('a.b', {name: 'Ana'}), t('a.only'), t('a.missing')];
});
process.stdout.write(JSON.stringify(out));
"""


def test_translator_under_node():
    out = subprocess.run([NODE, "-e", TRANSLATE, str(ROOT / "assets" / "triage.js")],
                         capture_output=True, text=True, timeout=30, check=True)
    rows = json.loads(out.stdout)
    assert rows[0] == ["de", "Hallo Ana", "English only", "a.missing"]
    assert [r[0] for r in rows] == ["de", "de", "de", "en", "en", "en"]
    assert rows[3][1] == "Hello Ana"
