"""The ticket sidebar in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The app is served from the repository over a loopback HTTP server. The ZAF SDK URL is routed to
tests/app/fake_zaf.js, which answers client.get / client.metadata from a fixture and records every
call; every other non-loopback request is aborted and reported.
"""
from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .helpers import ROOT
from .parse_cases import PARSE_CASES

CHROMIUM = Path("/usr/bin/chromium")
SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
FAKE_ZAF = (Path(__file__).parent / "fake_zaf.js").read_text(encoding="utf-8")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (bash .ci/install-browser.sh)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)

FOOTER = "\u2014 Draft by zendesk-batch-triage (triage-id zbt-{ticket}-{n}). Review before sending."


def header(priority="P2", category="billing", sentiment="negative", confidence="0.82"):
    return (
        f"AI triage \u2014 priority {priority} \u00b7 category {category} "
        f"\u00b7 sentiment {sentiment} \u00b7 confidence {confidence}"
    )


def note_html(head: str, paragraphs: list[str], ticket: int, n: int) -> str:
    """An internal note as ZAF hands it to apps: the plain-text body rendered to HTML."""

    def p(text: str) -> str:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return '<p dir="auto">' + escaped.replace("\n", "<br>") + "</p>"

    body = [head, *paragraphs, FOOTER.format(ticket=ticket, n=n)]
    return '<div class="zd-comment" dir="auto">' + "".join(p(x) for x in body) + "</div>"


def customer(comment_id: int, text: str) -> dict:
    return {
        "id": comment_id,
        "value": f'<div class="zd-comment"><p>{text}</p></div>',
        "author": {"id": 7, "name": "Dana Customer", "role": "end-user"},
        "isPublic": True,
    }


def note(comment_id: int, value: str, **extra) -> dict:
    return {
        "id": comment_id,
        "value": value,
        "author": {"id": 9, "name": "Triage Bot", "role": "admin"},
        **extra,
    }


DRAFT = "Hi Dana,\nthanks for reaching out about the double charge.\n\nWe refunded the second payment today.\nBest regards,\nSupport"
TRIAGED = {
    "settings": {"tag_prefix": "ai_"},
    "tags": [
        "vip", "ai_triaged", "ai_priority_p2", "ai_category_billing", "ai_sentiment_negative",
        "ai_lang_en",
    ],
    "comments": [
        customer(100, "I was charged twice!"),
        note(
            101,
            note_html(
                header(),
                [
                    "Hi Dana,\nthanks for reaching out about the double charge.",
                    "We refunded the second payment today.\nBest regards,\nSupport",
                ],
                42,
                1,
            ),
            isPublic=False,
        ),
    ],
}


# --- plumbing ----------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="module")
def base_url():
    handler = functools.partial(_QuietHandler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Sidebar:
    def __init__(self, page, blocked, errors, sdk_hits):
        self.page = page
        self.blocked = blocked
        self.errors = errors
        self.sdk_hits = sdk_hits

    def calls(self, kind=None):
        calls = self.page.evaluate("window.__zafCalls")
        return [c for c in calls if kind is None or c["kind"] == kind]

    def invoked(self, name):
        return [c["args"] for c in self.calls("invoke") if c["name"] == name]

    def badges(self):
        return self.page.eval_on_selector_all(
            "[data-badge]", "els => Object.fromEntries(els.map(e => [e.dataset.badge, e.textContent]))"
        )

    def text(self, selector):
        return self.page.text_content(selector)

    def state(self):
        return self.page.get_attribute("body", "data-state")

    def wait_for_invoke(self, name, count=1):
        self.page.wait_for_function(
            "([name, count]) => window.__zafCalls.filter("
            "c => c.kind === 'invoke' && c.name === name).length >= count",
            arg=[name, count],
            timeout=5000,
        )


@pytest.fixture
def open_sidebar(browser, base_url):
    contexts = []

    def open_(fixture: dict) -> Sidebar:
        context = browser.new_context()
        context.set_default_timeout(5000)
        contexts.append(context)
        blocked: list[str] = []
        sdk_hits: list[str] = []
        body = "window.__ZAF_FIXTURE = " + json.dumps(fixture) + ";\n" + FAKE_ZAF

        def route(r):
            url = r.request.url
            if url == SDK_URL:
                sdk_hits.append(url)
                r.fulfill(status=200, content_type="application/javascript", body=body)
            elif urlparse(url).hostname == "127.0.0.1":
                r.continue_()
            else:
                blocked.append(url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base_url + "/assets/iframe.html")
        page.wait_for_selector("body:not([data-state='loading'])", timeout=5000)
        sidebar = Sidebar(page, blocked, errors, sdk_hits)
        sidebar.wait_for_invoke("resize")
        return sidebar

    yield open_
    for context in contexts:
        context.close()


def assert_clean(sidebar: Sidebar):
    assert sidebar.errors == [], sidebar.errors
    assert sidebar.blocked == [], f"the sidebar tried to reach {sidebar.blocked}"
    assert sidebar.sdk_hits == [SDK_URL], "the ZAF SDK was not loaded from its standard URL"


def assert_resized(sidebar: Sidebar):
    sizes = sidebar.invoked("resize")
    assert sizes, "no resize after render"
    height = sizes[-1][0]["height"]
    assert height.endswith("px") and int(height[:-2]) >= 60


# --- behaviour ---------------------------------------------------------------------------------


def test_triaged_ticket_shows_badges_and_draft(open_sidebar):
    sidebar = open_sidebar(TRIAGED)
    assert sidebar.state() == "triaged"
    assert sidebar.badges() == {
        "priority": "P2",
        "category": "billing",
        "sentiment": "negative",
        "confidence": "confidence 0.82",
        "language": "en",
    }
    assert sidebar.page.inner_text("#draft") == DRAFT
    assert "Not triaged yet" not in sidebar.page.inner_text("body")
    assert sidebar.page.is_visible("#insert-draft")
    assert sidebar.text("#insert-draft") == "Insert draft into reply"
    gets = sidebar.calls("get")
    assert gets and set(gets[0]["paths"]) == {"ticket.tags", "ticket.comments"}
    assert sidebar.calls("metadata"), "the tag prefix setting was never read"
    assert sidebar.invoked("ticket.editor.insert") == []
    assert sidebar.invoked("ticket.tags.add") == []
    assert_resized(sidebar)
    assert_clean(sidebar)


def test_insert_button_puts_the_draft_into_the_reply(open_sidebar):
    sidebar = open_sidebar(TRIAGED)
    sidebar.page.click("#insert-draft")
    sidebar.wait_for_invoke("ticket.editor.insert")
    assert sidebar.invoked("ticket.editor.insert") == [[DRAFT]]
    sidebar.page.wait_for_selector("#notice")
    assert "inserted" in sidebar.text("#notice")
    assert_clean(sidebar)


def test_thumbs_add_the_feedback_tags(open_sidebar):
    sidebar = open_sidebar(TRIAGED)
    sidebar.page.click("#thumb-up")
    sidebar.wait_for_invoke("ticket.tags.add")
    assert sidebar.invoked("ticket.tags.add") == [["ai_draft_used"]]
    assert sidebar.invoked("ticket.tags.remove") == []
    sidebar.page.wait_for_selector("#thumb-up[aria-pressed='true']")

    sidebar.page.click("#thumb-down")
    sidebar.wait_for_invoke("ticket.tags.add", count=2)
    assert sidebar.invoked("ticket.tags.add") == [["ai_draft_used"], ["ai_draft_rejected"]]
    sidebar.wait_for_invoke("ticket.tags.remove")
    assert sidebar.invoked("ticket.tags.remove") == [["ai_draft_used"]]
    sidebar.page.wait_for_selector("#thumb-down[aria-pressed='true']")
    assert sidebar.page.get_attribute("#thumb-up", "aria-pressed") == "false"
    assert_clean(sidebar)


def test_thumb_clears_the_opposite_tag(open_sidebar):
    fixture = json.loads(json.dumps(TRIAGED))
    fixture["tags"] += ["ai_draft_used", "ai_draft_rejected"]
    sidebar = open_sidebar(fixture)
    assert sidebar.page.get_attribute("#thumb-up", "aria-pressed") == "true"
    sidebar.page.click("#thumb-up")
    sidebar.wait_for_invoke("ticket.tags.remove")
    assert sidebar.invoked("ticket.tags.add") == [["ai_draft_used"]]
    assert sidebar.invoked("ticket.tags.remove") == [["ai_draft_rejected"]]
    assert_clean(sidebar)


def test_untriaged_ticket_says_so(open_sidebar):
    sidebar = open_sidebar(
        {
            "settings": {"tag_prefix": "ai_"},
            "tags": ["vip", "billing"],
            "comments": [
                customer(100, "I was charged twice!"),
                note(101, "<p>Internal: looking into it.</p>", isPublic=False),
            ],
        }
    )
    assert sidebar.state() == "untriaged"
    assert sidebar.text("#status") == "Not triaged yet"
    assert sidebar.badges() == {}
    assert sidebar.page.query_selector("#insert-draft") is None
    assert sidebar.page.query_selector("#thumb-up") is None
    assert sidebar.page.query_selector("#failed") is None
    assert_resized(sidebar)
    assert_clean(sidebar)


def test_failed_triage_is_still_not_triaged(open_sidebar):
    sidebar = open_sidebar({"tags": ["ai_failed"], "comments": [customer(1, "Help")]})
    assert sidebar.text("#status") == "Not triaged yet"
    assert "ai_failed" in sidebar.text("#failed")
    assert_clean(sidebar)


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_two_notes_the_latest_wins(open_sidebar, order):
    old = note(
        101,
        note_html(header("P3", "technical", "neutral", "0.55"), ["Old draft."], 42, 1),
        isPublic=False,
    )
    new = note(
        205,
        note_html(header("P1", "account", "angry", "0.91"), ["New draft,\nsecond line."], 42, 2),
        isPublic=False,
    )
    comments = [customer(100, "Hello"), old, customer(150, "Still broken!"), new]
    if order == "newest_first":
        comments.reverse()
    sidebar = open_sidebar(
        {
            "tags": ["ai_triaged", "ai_priority_p3", "ai_priority_p1", "ai_category_technical",
                     "ai_category_account", "ai_sentiment_angry", "ai_lang_de"],
            "comments": comments,
        }
    )
    assert sidebar.badges() == {
        "priority": "P1",
        "category": "account",
        "sentiment": "angry",
        "confidence": "confidence 0.91",
        "language": "de",
    }
    assert sidebar.page.inner_text("#draft") == "New draft,\nsecond line."
    assert "Old draft" not in sidebar.page.inner_text("body")
    sidebar.page.click("#insert-draft")
    sidebar.wait_for_invoke("ticket.editor.insert")
    assert sidebar.invoked("ticket.editor.insert") == [["New draft,\nsecond line."]]
    assert_clean(sidebar)


def test_configured_tag_prefix_is_used(open_sidebar):
    sidebar = open_sidebar(
        {
            "settings": {"tag_prefix": "zbt_"},
            "tags": ["ai_triaged", "zbt_triaged", "zbt_confidence_low", "zbt_priority_p4"],
            "comments": [
                note(5, note_html(header("P4", "other", "positive", "0.40"), ["Thanks!"], 9, 1))
            ],
        }
    )
    assert sidebar.badges()["confidence"] == "low confidence 0.40"
    assert sidebar.badges()["priority"] == "P4"
    sidebar.page.click("#thumb-down")
    sidebar.wait_for_invoke("ticket.tags.add")
    assert sidebar.invoked("ticket.tags.add") == [["zbt_draft_rejected"]]
    assert_clean(sidebar)


HOSTILE = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> & <b>bold</b>'


@pytest.mark.parametrize("form", ["plain", "html"])
def test_ticket_text_is_never_markup(open_sidebar, form):
    head = header(category='billing"><img src=x onerror=window.__pwned=3>')
    if form == "plain":
        value = head + "\n\n" + HOSTILE + "\n\n" + FOOTER.format(ticket=1, n=1)
    else:  # as ZAF hands it over: the text escaped inside <p> elements
        value = note_html(head, [HOSTILE], 1, 1)
    sidebar = open_sidebar({"tags": ["ai_triaged"], "comments": [note(1, value)]})
    assert sidebar.page.evaluate("window.__pwned") is None
    assert sidebar.page.query_selector("#draft *") is None
    assert sidebar.page.query_selector("img, b, script:not([src])") is None
    assert sidebar.page.inner_text("#draft") == HOSTILE
    assert sidebar.badges()["category"] == "billing"
    assert_clean(sidebar)


def test_plain_text_note_and_public_footer(open_sidebar):
    """A plain-text value parses too; a public comment quoting our footer is not our note."""
    plain = header("P2", "feature-request", "positive", "0.7") + "\n\nSure, noted!\n\n" + FOOTER.format(ticket=3, n=1)
    quoted = note(9, plain.replace("Sure, noted!", "Quoted by the customer"), isPublic=True)
    sidebar = open_sidebar({"tags": [], "comments": [note(2, plain, public=False), quoted]})
    assert sidebar.state() == "triaged"
    assert sidebar.badges()["category"] == "feature request"
    assert sidebar.page.inner_text("#draft") == "Sure, noted!"
    assert_clean(sidebar)


def test_read_error_is_reported(open_sidebar):
    sidebar = open_sidebar({"failGet": "ticket not loaded"})
    assert sidebar.state() == "error"
    assert "ticket not loaded" in sidebar.text("#status")
    assert_clean(sidebar)


# --- the parser, run in the same browser ------------------------------------------------------


@pytest.fixture(scope="module")
def parser_page(browser, base_url):
    context = browser.new_context()
    context.route(
        "**/*",
        lambda r: r.continue_() if urlparse(r.request.url).hostname == "127.0.0.1" else r.abort(),
    )
    page = context.new_page()
    page.goto(base_url + "/assets/triage.js")  # any same-origin page will do
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(ROOT / "assets" / "triage.js"))
    yield page
    context.close()


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_note(parser_page, text, expected):
    got = parser_page.evaluate("t => ZBTriage.parseNote(t)", text)
    if expected is None:
        assert got is None
        return
    for key, value in expected.items():
        assert got[key] == value, key


def test_html_to_text(parser_page):
    html = (
        '<div class="zd-comment"><p dir="auto">A &amp; B&nbsp;&lt;tag&gt;</p>\n'
        "<p>line 1<br>line 2<br/>line&#160;3 &#x2014; &hellip;</p><ul><li>x</li><li>y</li></ul></div>"
    )
    got = parser_page.evaluate("h => ZBTriage.htmlToText(h)", html)
    assert got == "A & B <tag>\n\nline 1\nline 2\nline 3 \u2014 \u2026\n\nx\ny"


def test_tags_parse_with_prefix(parser_page):
    got = parser_page.evaluate(
        "t => ZBTriage.parseTags(t, 'AI_')",
        ["AI_Triaged", "ai_priority_p2", "ai_priority_p1", "ai_lang_pt", "ai_draft_used", "other"],
    )
    assert got["prefix"] == "ai_"
    assert got["triaged"] is True
    assert got["priorities"] == ["P1", "P2"]
    assert got["languages"] == ["pt"]
    assert got["draftUsed"] is True and got["draftRejected"] is False
