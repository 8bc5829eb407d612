"""The ticket sidebar in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The app is served from the repository over a loopback HTTP server. The ZAF SDK URL is routed to
tests/app/fake_zaf.js, which answers client.get / client.metadata from a fixture and records every
call; every other non-loopback request is aborted and reported.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .helpers import ROOT
from .parse_cases import PARSE_CASES

CHROMIUM = Path("/usr/bin/chromium")
SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
FAKE_ZAF = (Path(__file__).parent / "fake_zaf.js").read_text(encoding="utf-8")
NOT_LOOPBACK = re.compile(r"^(?!http://127\.0\.0\.1[:/])")
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
TICKET = 42
BOT = {"id": 9, "name": "Triage Bot", "email": "triage-bot@example.com", "role": "admin"}
AGENT = {"id": 5, "name": "Alex Agent", "email": "alex@example.com", "role": "agent"}
CUSTOMER = {"id": 7, "name": "Dana Customer", "email": "dana@example.net", "role": "end-user"}
SETTINGS = {"tag_prefix": "ai_", "service_user": "triage-bot@example.com"}


def header(priority="P2", category="billing", sentiment="negative", confidence="0.82"):
    return (
        f"AI triage \u2014 priority {priority} \u00b7 category {category} "
        f"\u00b7 sentiment {sentiment} \u00b7 confidence {confidence}"
    )


def note_html(head: str, paragraphs: list[str], ticket: int, n: int, after: str | None = None) -> str:
    """An internal note as ZAF hands it to apps: the plain-text body rendered to HTML."""

    def p(text: str) -> str:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return '<p dir="auto">' + escaped.replace("\n", "<br>") + "</p>"

    body = [head, *paragraphs, FOOTER.format(ticket=ticket, n=n)]
    if after is not None:
        body.append(after)
    return '<div class="zd-comment" dir="auto">' + "".join(p(x) for x in body) + "</div>"


def customer(comment_id: int, text: str) -> dict:
    return {
        "id": comment_id,
        "value": f'<div class="zd-comment"><p>{text}</p></div>',
        "author": CUSTOMER,
        "isPublic": True,
    }


def note(comment_id: int, value: str, author: dict = BOT, **extra) -> dict:
    """A comment by the service user, internal unless extra says otherwise."""
    comment = {"id": comment_id, "value": value, "author": author, "isPublic": False}
    comment.update(extra)
    return comment


def triage_note(comment_id: int, n: int, draft: list[str], ticket: int = TICKET, **kw) -> dict:
    head = header(**{k: kw.pop(k) for k in list(kw) if k in ("priority", "category", "sentiment", "confidence")})
    after = kw.pop("after", None)
    return note(comment_id, note_html(head, draft, ticket, n, after=after), **kw)


def fixture(**overrides) -> dict:
    base = {"ticketId": TICKET, "settings": dict(SETTINGS), "tags": [], "comments": []}
    base.update(overrides)
    return base


DRAFT = ("Hi Dana,\nthanks for reaching out about the double charge.\n\nWe refunded the second payment today."
         "\nBest regards,\nSupport")
TRIAGED = fixture(
    tags=["vip", "ai_triaged", "ai_priority_p2", "ai_category_billing", "ai_sentiment_negative", "ai_lang_en"],
    comments=[
        customer(100, "I was charged twice!"),
        triage_note(
            101, 1,
            ["Hi Dana,\nthanks for reaching out about the double charge.",
             "We refunded the second payment today.\nBest regards,\nSupport"],
        ),
    ],
)
STATUS_URL = "https://triage.example.com/healthz"


def health_body(**overrides) -> dict:
    """The service's health JSON (the lead's /healthz contract in the app brief)."""
    stage = {"last_start": "2026-12-01T10:00:00Z", "last_success": "2026-12-01T10:00:00Z", "last_error": None}
    body = {
        "healthy": True,
        "reason": "",
        "checked_at": "2026-12-01T10:03:20Z",
        "last_writeback_success": "2026-12-01T10:00:00Z",
        "stages": {name: dict(stage) for name in ("ingest", "submit", "poll", "writeback")},
    }
    body.update(overrides)
    return body


# --- plumbing ----------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
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

    def open_(fixture: dict, query: str = "") -> Sidebar:
        # UTC, so the failed state's time reads the same on every machine.
        context = browser.new_context(timezone_id="UTC")
        context.set_default_timeout(5000)
        contexts.append(context)
        blocked: list[str] = []
        sdk_hits: list[str] = []
        body = "window.__ZAF_FIXTURE = " + json.dumps(fixture) + ";\n" + FAKE_ZAF

        def serve_sdk(r):
            sdk_hits.append(r.request.url)
            r.fulfill(status=200, content_type="application/javascript", body=body)

        def block(r):
            blocked.append(r.request.url)
            r.abort()

        # Matched by Playwright's driver, so the loopback requests never detour through Python.
        context.route(NOT_LOOPBACK, block)
        context.route(SDK_URL, serve_sdk)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base_url + "/assets/iframe.html" + query)
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


# --- behaviour -------------------------------------------------------------------------------

def luminance(css_colour: str) -> float:
    """Relative brightness 0..1 of a computed rgb()/rgba() colour."""
    nums = [float(x) for x in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3]]
    r, g, b = (n / 255 for n in nums)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def computed(sidebar: Sidebar, selector: str, prop: str) -> str:
    return sidebar.page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


def classes(sidebar: Sidebar, selector: str) -> list[str]:
    return sidebar.page.eval_on_selector(selector, "e => Array.from(e.classList)")


def test_triaged_ticket_shows_badges_and_draft(open_sidebar):
    sidebar = open_sidebar(TRIAGED)
    assert sidebar.state() == "triaged"
    assert sidebar.badges() == {
        "priority": "P2",
        "category": "Billing",
        "sentiment": "Negative",
        "confidence": "Confidence 82%",
        "language": "English",
    }
    assert sidebar.page.inner_text("#draft") == DRAFT
    assert sidebar.text("#insert-draft") == "Insert draft into reply"
    assert "c-btn--primary" in classes(sidebar, "#insert-draft")
    assert "c-tag--red" not in classes(sidebar, "[data-badge=priority]")
    assert "c-tag--yellow" in classes(sidebar, "[data-badge=priority]")  # P2
    assert sidebar.page.query_selector("#low-confidence") is None
    assert sidebar.page.query_selector("#ignored") is None
    assert sidebar.text("#details") == "Triage ID zbt-42-1"
    gets = sidebar.calls("get")
    assert gets and {"ticket.id", "ticket.tags", "ticket.comments", "currentUser.locale", "colorScheme"} <= set(
        gets[0]["paths"]
    )
    assert sidebar.calls("metadata"), "the settings were never read"
    assert sidebar.calls("request") == [], "no status_url set, yet the service was called"
    assert sidebar.page.query_selector("#health") is None
    assert sidebar.invoked("ticket.editor.insert") == []
    assert sidebar.invoked("ticket.tags.add") == []
    assert_resized(sidebar)
    assert_clean(sidebar)


def test_insert_escapes_the_draft_and_keeps_line_breaks(open_sidebar):
    draft = ['Click <a href="https://evil">x</a> &lt;script&gt;alert(1)&lt;/script&gt;\nsecond line', "Bye & thanks"]
    sidebar = open_sidebar(fixture(tags=["ai_triaged"], comments=[triage_note(1, 1, draft)]))
    shown = 'Click <a href="https://evil">x</a> &lt;script&gt;alert(1)&lt;/script&gt;\nsecond line\n\nBye & thanks'
    assert sidebar.page.inner_text("#draft") == shown
    sidebar.page.click("#insert-draft")
    sidebar.wait_for_invoke("ticket.editor.insert")
    assert sidebar.invoked("ticket.editor.insert") == [[
        "Click &lt;a href=&quot;https://evil&quot;&gt;x&lt;/a&gt; &amp;lt;script&amp;gt;alert(1)"
        "&amp;lt;/script&amp;gt;<br>second line<br><br>Bye &amp; thanks"
    ]]
    editor = sidebar.page.evaluate(
        """() => ({
            elements: Array.from(window.__editorDoc.body.querySelectorAll('*')).map(e => e.tagName),
            text: window.__editorDoc.body.textContent,
        })"""
    )
    assert editor["elements"] == ["BR", "BR", "BR"], "only the line breaks may become markup"
    assert editor["text"] == shown.replace("\n", "")
    sidebar.page.wait_for_selector("#notice")
    assert sidebar.text("#notice") == "Draft inserted into the reply. Review it before sending."
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
    fx = json.loads(json.dumps(TRIAGED))
    fx["tags"] += ["ai_draft_used", "ai_draft_rejected"]
    sidebar = open_sidebar(fx)
    assert sidebar.page.get_attribute("#thumb-up", "aria-pressed") == "true"
    sidebar.page.click("#thumb-up")
    sidebar.wait_for_invoke("ticket.tags.remove")
    assert sidebar.invoked("ticket.tags.add") == [["ai_draft_used"]]
    assert sidebar.invoked("ticket.tags.remove") == [["ai_draft_rejected"]]
    assert_clean(sidebar)


def test_untriaged_ticket_says_so(open_sidebar):
    sidebar = open_sidebar(
        fixture(
            tags=["vip", "billing"],
            comments=[
                customer(100, "I was charged twice!"),
                note(101, "<p>Internal: looking into it.</p>", author=AGENT),
            ],
        )
    )
    assert sidebar.state() == "untriaged"
    assert sidebar.text("#status") == "Not triaged yet"
    assert "has not triaged this ticket yet" in sidebar.page.inner_text("body")
    assert sidebar.badges() == {}
    for absent in ("#insert-draft", "#thumb-up", "#failed", "#ignored"):
        assert sidebar.page.query_selector(absent) is None, absent
    assert_resized(sidebar)
    assert_clean(sidebar)


AUDITS_URL = "/api/v2/tickets/42/audits.json"


def tags_audit(audit_id: int, at: str, before: list[str], after: list[str], author: int = BOT["id"]) -> dict:
    """An audit as GET tickets/{id}/audits.json lists it (fixtures/real/zendesk/ticket-audits-notifications.json
    for the list, ticket-update-put.json for a Change event) carrying a change of the tags."""
    return {"id": audit_id, "ticket_id": TICKET, "created_at": at, "author_id": author,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "events": [{"id": audit_id + 1, "type": "Change", "field_name": "tags", "value": after,
                        "previous_value": before}]}


def audits_page(audits: list[dict], next_page: str | None = None) -> dict:
    return {"status": 200, "body": {"audits": audits, "next_page": next_page, "previous_page": None,
                                    "count": len(audits)}}


FAILED_AUDITS = {AUDITS_URL: audits_page([
    tags_audit(500, "2026-11-30T08:00:00Z", [], ["vip"], author=AGENT["id"]),
    tags_audit(510, "2026-12-01T09:30:00Z", ["vip"], ["vip", "ai_failed"]),
])}


def failed_text(sidebar: Sidebar) -> str:
    return sidebar.page.inner_text("#failed").replace("\u202f", " ")


def test_failed_triage_says_why_when_and_what_to_do(open_sidebar):
    sidebar = open_sidebar(fixture(tags=["vip", "ai_failed"], comments=[customer(1, "Help")], requests=FAILED_AUDITS))
    sidebar.page.wait_for_selector("#failed-when")
    assert sidebar.state() == "failed"
    assert "c-callout--error" in classes(sidebar, "#failed")
    assert sidebar.text("#status") == "AI triage gave up on this ticket"
    text = failed_text(sidebar)
    assert "could not get a usable answer from the AI" in text
    assert sidebar.text("#failed-when").replace("\u202f", " ") == "Gave up on Dec 1, 2026, 9:30 AM."
    assert sidebar.text("#failed-what") == (
        "Triage it by hand. You don't need to report it: the service already tells your admin."
    )
    for command_like in ("zdtriage", "retry", "--", "`", "run "):
        assert command_like not in text, command_like
    assert sidebar.page.query_selector("#failed code") is None
    requests = sidebar.calls("request")
    assert [r["options"]["url"] for r in requests] == [AUDITS_URL]
    assert requests[0]["options"]["type"] == "GET" and not requests[0]["options"].get("cors")
    assert sidebar.page.query_selector("#insert-draft") is None
    assert_clean(sidebar)


def test_failed_time_is_the_latest_addition_across_audit_pages(open_sidebar):
    second = "https://example.zendesk.com/api/v2/tickets/42/audits.json?page=2"
    requests = {
        AUDITS_URL: audits_page([tags_audit(500, "2026-11-01T10:00:00Z", [], ["ai_failed"])], next_page=second),
        "/api/v2/tickets/42/audits.json?page=2": audits_page([
            tags_audit(600, "2026-11-02T10:00:00Z", ["ai_failed"], []),
            tags_audit(610, "2026-11-03T16:05:00Z", [], ["ai_failed"]),
            tags_audit(620, "2026-11-04T10:00:00Z", ["ai_failed"], ["ai_failed", "vip"]),
        ]),
    }
    sidebar = open_sidebar(fixture(tags=["vip", "ai_failed"], requests=requests))
    sidebar.page.wait_for_selector("#failed-when")
    assert sidebar.text("#failed-when").replace("\u202f", " ") == "Gave up on Nov 3, 2026, 4:05 PM."
    assert len(sidebar.calls("request")) == 2
    assert_clean(sidebar)


def test_failed_time_is_left_out_when_the_audits_go_on_past_the_pages_read(open_sidebar):
    """Audits come oldest first: past the last page read, a later addition of the tag may hide, so an
    older time would be wrong."""
    base = "https://example.zendesk.com"
    requests = {}
    for n in range(1, 12):
        url = AUDITS_URL if n == 1 else f"{AUDITS_URL}?page={n}"
        requests[url] = audits_page([tags_audit(n * 10, f"2026-11-{n:02d}T10:00:00Z", [], ["ai_failed"])],
                                    next_page=f"{base}{AUDITS_URL}?page={n + 1}")
    sidebar = open_sidebar(fixture(tags=["ai_failed"], requests=requests))
    sidebar.page.wait_for_function("window.__zafCalls.filter(c => c.kind === 'request').length >= 10")
    sidebar.wait_for_invoke("resize", count=2)
    assert len(sidebar.calls("request")) == 10
    assert sidebar.page.query_selector("#failed-when") is None
    assert sidebar.text("#failed-what").startswith("Triage it by hand.")
    assert_clean(sidebar)


@pytest.mark.parametrize(
    "answer", [{"status": 403, "body": {"error": "Forbidden"}}, None], ids=["refused", "unreachable"]
)
def test_failed_state_without_the_audits_still_says_what_to_do(open_sidebar, answer):
    requests = {AUDITS_URL: answer} if answer else {}
    sidebar = open_sidebar(fixture(tags=["ai_failed"], requests=requests))
    sidebar.page.wait_for_function("window.__zafCalls.some(c => c.kind === 'request')")
    sidebar.wait_for_invoke("resize", count=2)
    assert sidebar.page.query_selector("#failed-when") is None
    assert sidebar.text("#failed-what").startswith("Triage it by hand.")
    assert_clean(sidebar)


def test_low_confidence_is_flagged(open_sidebar):
    sidebar = open_sidebar(
        fixture(
            tags=["ai_triaged", "ai_confidence_low", "ai_priority_p4"],
            comments=[
                triage_note(5, 1, ["Thanks!"], priority="P4", category="other", sentiment="positive", confidence="0.40")
            ],
        )
    )
    assert sidebar.state() == "triaged"
    assert sidebar.badges()["confidence"] == "Low confidence 40%"
    assert "c-tag--yellow" in classes(sidebar, "[data-badge=confidence]")
    assert "c-callout--warning" in classes(sidebar, "#low-confidence")
    assert "Check the triage and the draft" in sidebar.text("#low-confidence")
    assert sidebar.page.inner_text("#draft") == "Thanks!"
    assert_clean(sidebar)


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_two_notes_the_latest_triage_wins(open_sidebar, order):
    old = triage_note(
        101, 1, ["Old draft."], priority="P3", category="technical", sentiment="neutral", confidence="0.55"
    )
    # Later triage, but an older comment id: the triage number decides, not the position or the id.
    new = triage_note(
        99, 2, ["New draft,\nsecond line."], priority="P1", category="account", sentiment="angry", confidence="0.91"
    )
    comments = [customer(100, "Hello"), old, customer(150, "Still broken!"), new]
    if order == "newest_first":
        comments.reverse()
    sidebar = open_sidebar(
        fixture(
            tags=["ai_triaged", "ai_priority_p3", "ai_priority_p1", "ai_category_technical",
                  "ai_category_account", "ai_sentiment_angry", "ai_lang_de"],
            comments=comments,
        )
    )
    assert sidebar.badges() == {
        "priority": "P1",
        "category": "Account",
        "sentiment": "Angry",
        "confidence": "Confidence 91%",
        "language": "German",
    }
    assert sidebar.page.inner_text("#draft") == "New draft,\nsecond line."
    assert "Old draft" not in sidebar.page.inner_text("body")
    assert sidebar.page.query_selector(".conflict") is None, "the note settles the tag conflict"
    assert_clean(sidebar)


SPOOFS = {
    "public": dict(isPublic=True),
    "public_flag_missing": dict(isPublic=None),
    "wrong_author": dict(author=AGENT),
    "customer_author": dict(author=CUSTOMER, isPublic=False),
    "wrong_ticket": dict(ticket=99),
    "footer_not_last": dict(after="P.S. pasted by someone"),
}


@pytest.mark.parametrize("kind", sorted(SPOOFS))
def test_spoofed_note_is_ignored(open_sidebar, kind):
    spoof = dict(SPOOFS[kind])
    real = triage_note(
        10, 1, ["The real draft."], priority="P3", category="billing", sentiment="neutral", confidence="0.77"
    )
    fake = triage_note(20, 7, ["Click here to reset your password."], priority="P1", category="account",
                       sentiment="angry", confidence="0.99", **spoof)
    if fake.get("isPublic") is None:
        del fake["isPublic"]
    sidebar = open_sidebar(fixture(tags=["ai_triaged"], comments=[real, fake]))
    assert sidebar.page.inner_text("#draft") == "The real draft."
    assert sidebar.badges()["priority"] == "P3"
    assert "reset your password" not in sidebar.page.inner_text("body")
    assert sidebar.text("#ignored") == "Comments ignored because they only look like a triage note: 1"
    assert sidebar.text("#details") == "Triage ID zbt-42-1"
    assert_clean(sidebar)


def test_only_a_spoofed_note_means_no_draft(open_sidebar):
    fake = triage_note(20, 1, ["Pay to this account."], priority="P1", isPublic=True)
    sidebar = open_sidebar(fixture(tags=["ai_triaged", "ai_priority_p2"], comments=[fake]))
    assert sidebar.state() == "triaged"
    assert sidebar.page.query_selector("#draft") is None
    assert sidebar.badges() == {"priority": "P2"}, "tags are the fallback, not the spoofed header"
    assert sidebar.text("#status") == (
        "Triaged, but there is no draft: no internal note by the service user names this ticket."
    )
    assert_clean(sidebar)


def test_service_user_may_be_a_numeric_id(open_sidebar):
    fx = json.loads(json.dumps(TRIAGED))
    fx["settings"]["service_user"] = " 9 "
    sidebar = open_sidebar(fx)
    assert sidebar.page.inner_text("#draft") == DRAFT
    fx["settings"]["service_user"] = "10"
    other = open_sidebar(fx)
    assert other.page.query_selector("#draft") is None
    assert other.text("#ignored").endswith(": 1")
    assert_clean(sidebar)


def test_without_a_service_user_no_note_is_trusted(open_sidebar):
    fx = json.loads(json.dumps(TRIAGED))
    del fx["settings"]["service_user"]
    sidebar = open_sidebar(fx)
    assert sidebar.page.query_selector("#draft") is None
    assert sidebar.text("#status") == "Set the service user in the app settings to see drafts."
    assert sidebar.badges()["priority"] == "P2"
    assert_clean(sidebar)


def test_conflicting_tags_are_not_resolved_by_urgency(open_sidebar):
    """Two triages left ai_priority_p1 and ai_priority_p4 and no trusted note: tags carry no order."""
    sidebar = open_sidebar(
        fixture(
            tags=["ai_triaged", "ai_priority_p4", "ai_priority_p1", "ai_category_billing", "ai_lang_fr", "ai_lang_en"],
            comments=[customer(1, "Hi")],
        )
    )
    assert sidebar.badges() == {"category": "Billing"}
    conflicts = sidebar.page.eval_on_selector_all(
        ".conflict", "els => Object.fromEntries(els.map(e => [e.dataset.conflict, e.textContent]))"
    )
    assert set(conflicts) == {"priority", "language"}
    assert conflicts["priority"].startswith("Priority unknown: the tags hold several values (P1, P4)")
    assert "(English, French)" in conflicts["language"]
    assert_clean(sidebar)


def test_configured_tag_prefix_is_used(open_sidebar):
    sidebar = open_sidebar(
        fixture(
            settings={"tag_prefix": "zbt_", "service_user": "triage-bot@example.com"},
            tags=["ai_triaged", "zbt_triaged", "zbt_confidence_low", "zbt_priority_p4"],
            comments=[
                triage_note(5, 1, ["Thanks!"], priority="P4", category="other", sentiment="positive", confidence="0.40")
            ],
        )
    )
    assert sidebar.badges()["confidence"] == "Low confidence 40%"
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
        value = head + "\n\n" + HOSTILE + "\n\n" + FOOTER.format(ticket=TICKET, n=1)
    else:  # as ZAF hands it over: the text escaped inside <p> elements
        value = note_html(head, [HOSTILE], TICKET, 1)
    sidebar = open_sidebar(fixture(tags=["ai_triaged"], comments=[note(1, value)]))
    assert sidebar.page.evaluate("window.__pwned") is None
    assert sidebar.page.query_selector("#draft *") is None
    assert sidebar.page.query_selector("img, b, script:not([src])") is None
    assert sidebar.page.inner_text("#draft") == HOSTILE
    assert sidebar.badges()["category"] == "Billing"
    assert_clean(sidebar)


def test_read_error_is_reported(open_sidebar):
    sidebar = open_sidebar({"failGet": "ticket not loaded"})
    assert sidebar.state() == "error"
    assert "ticket not loaded" in sidebar.text("#status")
    assert_clean(sidebar)


# --- panel size --------------------------------------------------------------------------------


def last_height(sidebar: Sidebar) -> int:
    height = sidebar.invoked("resize")[-1][0]["height"]
    assert height.endswith("px")
    return int(height[:-2])


def content_height(sidebar: Sidebar) -> float:
    return sidebar.page.evaluate("document.getElementById('app').getBoundingClientRect().bottom")


def show_note(sidebar: Sidebar, n: int, draft: list[str]) -> int:
    """Replace the ticket's note as a new triage would, fire ticket.updated and wait for the resize."""
    count = len(sidebar.invoked("resize"))
    sidebar.page.evaluate("c => { window.__ZAF_FIXTURE.comments = c; window.__zafFire('ticket.updated'); }",
                          [triage_note(100 + n, n, draft)])
    sidebar.wait_for_invoke("resize", count=count + 1)
    sidebar.page.wait_for_function("n => document.getElementById('details').textContent.endsWith('-' + n)", arg=n)
    return last_height(sidebar)


def test_panel_grows_and_shrinks_with_its_content(open_sidebar):
    """ZAF's resize sets the iframe's height; a height taken from scrollHeight never drops below the
    page's own height, so after a long draft a short one left a tall empty panel."""
    sidebar = open_sidebar(fixture(tags=["ai_triaged"], comments=[triage_note(100, 1, ["Short."])]))
    short = last_height(sidebar)
    assert short >= content_height(sidebar) and short < content_height(sidebar) + 40
    long = show_note(sidebar, 2, [f"Paragraph {i}: " + "words " * 30 for i in range(12)])
    assert long > short + 150, (short, long)
    assert long >= content_height(sidebar)
    again = show_note(sidebar, 3, ["Short again."])
    assert again < long - 150, f"the panel did not shrink: {long} -> {again}"
    assert abs(again - short) <= 4, (short, again)
    assert_clean(sidebar)


# --- sentiment, details, cited articles ---------------------------------------------------------


def rgb(css_colour: str) -> tuple[float, float, float]:
    nums = [float(x) for x in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3]]
    return nums[0], nums[1], nums[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two computed colours."""

    def lum(c):
        def ch(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b_ = (ch(v) for v in rgb(c))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


PRIORITY_OF = {"positive": "P4", "neutral": "P3", "negative": "P1", "angry": "P1"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("sentiment", ["negative", "angry", "positive", "neutral"])
def test_sentiment_has_its_own_readable_colours(open_sidebar, sentiment, scheme):
    priority = PRIORITY_OF[sentiment]
    fx = fixture(colorScheme=scheme, tags=["ai_triaged"], comments=[triage_note(
        1, 1, ["Draft."], priority=priority, sentiment=sentiment)])
    sidebar = open_sidebar(fx, query=f"?colorScheme={scheme}")
    sent_bg = computed(sidebar, "[data-badge=sentiment]", "backgroundColor")
    sent_fg = computed(sidebar, "[data-badge=sentiment]", "color")
    prio_bg = computed(sidebar, "[data-badge=priority]", "backgroundColor")
    assert sent_bg != prio_bg, f"{sentiment} painted like {priority}"
    assert max(abs(x - y) for x, y in zip(rgb(sent_bg), rgb(prio_bg), strict=True)) > 60, (sent_bg, prio_bg)
    assert contrast(sent_bg, sent_fg) >= 4.5, (sent_bg, sent_fg)
    assert not any(c.startswith("c-tag--") and c != "c-tag--pill" and c != "c-tag--dark"
                   for c in classes(sidebar, "[data-badge=sentiment]")), "a priority colour class on sentiment"
    assert_clean(sidebar)


def test_negative_and_angry_differ(open_sidebar):
    colours = {}
    for sentiment in ("negative", "angry", "positive"):
        sidebar = open_sidebar(fixture(tags=["ai_triaged"], comments=[triage_note(1, 1, ["D."], sentiment=sentiment)]))
        colours[sentiment] = computed(sidebar, "[data-badge=sentiment]", "backgroundColor")
    assert len(set(colours.values())) == 3, colours


def test_details_line_holds_the_triage_id(open_sidebar):
    sidebar = open_sidebar(TRIAGED)
    assert sidebar.text("#details") == "Triage ID zbt-42-1"
    small = float(computed(sidebar, "#details", "fontSize")[:-2])
    body = float(computed(sidebar, "body", "fontSize")[:-2])
    assert small < body
    assert "zbt-42-1" not in sidebar.page.inner_text("#draft")
    assert_clean(sidebar)


ARTICLES = [
    "Help Center articles:",
    "- Refunds and double charges <https://example.zendesk.com/hc/en-us/articles/360001-Refunds>",
    "- Invoices <https://help.example.com/hc/en-us/articles/360002>",
    "- Click me <javascript:alert(document.domain)>",
    "- Look-alike <https://example.zendesk.com.evil.test/hc/en-us/articles/1>",
    "- Plain http <http://example.zendesk.com/hc/en-us/articles/3>",
    "Suggested macro: Refund issued",
]


def test_cited_articles_are_links_and_unsafe_urls_text(open_sidebar):
    fx = fixture(tags=["ai_triaged"], comments=[triage_note(1, 1, ["Hi Dana,\nwe refunded you.", "\n".join(ARTICLES)])])
    fx["settings"]["help_center_host"] = "help.example.com"
    sidebar = open_sidebar(fx)
    links = sidebar.page.eval_on_selector_all(
        "#articles a", "els => els.map(a => [a.textContent, a.getAttribute('href'), a.target, a.rel])")
    assert links == [
        ["Refunds and double charges", "https://example.zendesk.com/hc/en-us/articles/360001-Refunds",
         "_blank", "noopener noreferrer"],
        ["Invoices", "https://help.example.com/hc/en-us/articles/360002", "_blank", "noopener noreferrer"],
    ]
    unlinked = sidebar.page.eval_on_selector_all("#articles .unlinked", "els => els.map(e => e.textContent)")
    assert unlinked == [
        "Click me <javascript:alert(document.domain)>",
        "Look-alike <https://example.zendesk.com.evil.test/hc/en-us/articles/1>",
        "Plain http <http://example.zendesk.com/hc/en-us/articles/3>",
    ]
    assert sidebar.page.query_selector_all("a[href^='javascript'], a[href*='evil'], a[href^='http:']") == []
    assert sidebar.text("#macro") == "Suggested macro: Refund issued"
    assert sidebar.page.inner_text("#draft") == "Hi Dana,\nwe refunded you."
    sidebar.page.click("#insert-draft")
    sidebar.wait_for_invoke("ticket.editor.insert")
    assert sidebar.invoked("ticket.editor.insert") == [["Hi Dana,<br>we refunded you."]], "articles are not draft"
    assert_clean(sidebar)


def test_without_the_help_center_setting_only_the_account_links(open_sidebar):
    fx = fixture(subdomain="acme", tags=["ai_triaged"], comments=[triage_note(1, 1, ["Hi.", "\n".join([
        "Help Center articles:",
        "- Ours <https://acme.zendesk.com/hc/en-us/articles/1>",
        "- Other account <https://example.zendesk.com/hc/en-us/articles/2>",
        "- Custom host <https://help.example.com/hc/en-us/articles/3>",
    ])])])
    sidebar = open_sidebar(fx)
    hrefs = sidebar.page.eval_on_selector_all("#articles a", "els => els.map(a => a.href)")
    assert hrefs == ["https://acme.zendesk.com/hc/en-us/articles/1"]
    assert len(sidebar.page.query_selector_all("#articles .unlinked")) == 2
    assert sidebar.page.query_selector("#macro") is None
    assert_clean(sidebar)


def test_articles_in_german(open_sidebar):
    fx = fixture(
        locale="de",
        tags=["ai_triaged"],
        comments=[triage_note(1, 1, ["Hallo.", "\n".join(ARTICLES[:2] + ARTICLES[-1:])])],
    )
    sidebar = open_sidebar(fx)
    body = sidebar.page.inner_text("body")
    assert "HELP-CENTER-ARTIKEL" in body.upper()
    assert sidebar.text("#macro") == "Vorgeschlagenes Makro: Refund issued"
    assert sidebar.text("#details") == "Triage-ID zbt-42-1"
    assert_clean(sidebar)


# --- dark mode ---------------------------------------------------------------------------------


def assert_dark(sidebar: Sidebar, dark: bool):
    assert sidebar.page.get_attribute("html", "data-color-scheme") == ("dark" if dark else "light")
    bg = luminance(computed(sidebar, "body", "backgroundColor"))
    fg = luminance(computed(sidebar, "body", "color"))
    if dark:
        assert bg < 0.1 and fg > 0.6, (bg, fg)
    else:
        assert bg > 0.9 and fg < 0.3, (bg, fg)
    assert ("c-tag--dark" in classes(sidebar, "[data-badge=priority]")) is dark
    assert ("c-btn--dark" in classes(sidebar, "#insert-draft")) is dark


def test_dark_mode_from_the_query_parameter(open_sidebar):
    fx = json.loads(json.dumps(TRIAGED))
    fx["colorScheme"] = "dark"
    sidebar = open_sidebar(fx, query="?origin=https%3A%2F%2Fexample.zendesk.com&colorScheme=dark")
    assert_dark(sidebar, True)
    draft_bg = luminance(computed(sidebar, "#draft", "backgroundColor"))
    assert draft_bg < 0.15, "the draft box must not stay light in dark mode"
    assert_clean(sidebar)


def test_dark_mode_from_client_get_when_the_parameter_is_missing(open_sidebar):
    fx = json.loads(json.dumps(TRIAGED))
    fx["colorScheme"] = "dark"
    sidebar = open_sidebar(fx)
    assert_dark(sidebar, True)
    assert_clean(sidebar)


def test_color_scheme_changed_event_switches_live(open_sidebar):
    sidebar = open_sidebar(TRIAGED, query="?colorScheme=light")
    assert_dark(sidebar, False)
    assert "colorScheme.changed" in [c["name"] for c in sidebar.calls("on")]
    sidebar.page.evaluate("window.__zafFire('colorScheme.changed', 'dark')")
    sidebar.page.wait_for_selector("html[data-color-scheme='dark']")
    assert_dark(sidebar, True)
    sidebar.page.evaluate("window.__zafFire('colorScheme.changed', 'light')")
    sidebar.page.wait_for_selector("html[data-color-scheme='light']")
    assert_dark(sidebar, False)
    assert_clean(sidebar)


# --- languages ---------------------------------------------------------------------------------


def english_strings() -> set[str]:
    out: set[str] = set()

    def walk(node):
        for value in node.values():
            if isinstance(value, dict):
                walk(value)
            else:
                out.add(value.split("{{")[0].strip())

    walk(json.loads((ROOT / "translations" / "en.json").read_text(encoding="utf-8"))["sidebar"])
    return {s for s in out if len(s) > 8}


def test_german_ui(open_sidebar):
    fx = json.loads(json.dumps(TRIAGED))
    fx["locale"] = "de"
    fx["tags"] = [t for t in fx["tags"] if t != "ai_lang_en"] + ["ai_lang_de", "ai_confidence_low"]
    sidebar = open_sidebar(fx)
    assert sidebar.page.get_attribute("html", "lang") == "de"
    badges = sidebar.badges()
    assert badges == {
        "priority": "P2",
        "category": "Abrechnung",
        "sentiment": "Negativ",
        "confidence": "Geringe Konfidenz 82\u00a0%",
        "language": "Deutsch",
    }
    assert sidebar.text("#insert-draft") == "Entwurf in die Antwort einfügen"
    assert sidebar.text("#low-confidence .c-callout__title") == "Geringe Konfidenz"
    assert sidebar.page.get_attribute("#thumb-up", "aria-label") == "Entwurf verwendet"
    body = sidebar.page.inner_text("body")
    assert "War dieser Entwurf hilfreich?" in body
    leftovers = [s for s in english_strings() if s in body]
    assert leftovers == [], f"English left in the German UI: {leftovers}"
    sidebar.page.click("#thumb-up")
    sidebar.page.wait_for_selector("#notice")
    assert sidebar.text("#notice").startswith("Als verwendet markiert.")
    assert_clean(sidebar)


@pytest.mark.parametrize(
    ("locale", "insert"),
    [("de-CH", "Entwurf in die Antwort einfügen"), ("fr-CA", "Insérer le brouillon dans la réponse"),
     ("pt-BR", "Insert draft into reply")],
)
def test_locale_falls_back_to_language_then_english(open_sidebar, locale, insert):
    fx = json.loads(json.dumps(TRIAGED))
    fx["locale"] = locale
    sidebar = open_sidebar(fx)
    assert sidebar.text("#insert-draft") == insert
    assert_clean(sidebar)


@pytest.mark.parametrize(
    ("locale", "when", "what"),
    [("de", "Aufgegeben am 01.12.2026, 09:30.", "Triagieren Sie es von Hand."),
     ("fr", "Abandonné le 1 déc. 2026, 09:30.", "Triez-le à la main."),
     ("es", "Se rindió el 1 dic 2026, 9:30.", "Haga el triaje a mano.")],
)
def test_failed_state_in_other_languages(open_sidebar, locale, when, what):
    sidebar = open_sidebar(fixture(locale=locale, tags=["ai_failed"], requests=FAILED_AUDITS))
    sidebar.page.wait_for_selector("#failed-when")
    assert sidebar.text("#failed-when").replace("\u202f", " ") == when
    assert sidebar.text("#failed-what").startswith(what)
    assert "zdtriage" not in failed_text(sidebar)
    assert_clean(sidebar)


# --- service health (status_url) ---------------------------------------------------------------


def with_status(answer: dict, locale: str = "en-US") -> dict:
    fx = json.loads(json.dumps(TRIAGED))
    fx["settings"]["status_url"] = STATUS_URL
    fx["requests"] = {STATUS_URL: answer}
    fx["locale"] = locale
    return fx


def health_line(sidebar: Sidebar) -> tuple[str, str]:
    sidebar.page.wait_for_selector("#health:not([data-health='checking'])")
    return sidebar.page.get_attribute("#health", "data-health"), sidebar.text("#health")


@pytest.mark.parametrize(
    ("answer", "kind", "text"),
    [
        ({"status": 200, "body": health_body()}, "ok", "Service last wrote back 3 min ago"),
        ({"status": 200, "body": health_body(last_writeback_success="2026-11-30T07:00:00Z")}, "ok",
         "Service last wrote back 1 d ago"),
        ({"status": 200, "body": health_body(last_writeback_success=None)}, "never",
         "Service has not written back yet"),
        ({"status": 503, "body": health_body(healthy=False, reason="writeback: 401 Couldn't authenticate you")},
         "unhealthy", "Service unhealthy: writeback: 401 Couldn't authenticate you"),
        ({"status": 503, "body": health_body(healthy=False, reason="")}, "unhealthy", "Service unhealthy"),
        ({"status": 0, "body": None}, "unreachable", "Service unreachable"),
        ({"status": 502, "raw": "<html>Bad gateway</html>"}, "unreachable", "Service unreachable"),
        ({"status": 200, "raw": "OK"}, "unreachable", "Service unreachable"),
    ],
    ids=["minutes", "days", "never", "unhealthy", "unhealthy-no-reason", "down", "bad-gateway", "not-json"],
)
def test_status_url_shows_the_last_writeback(open_sidebar, answer, kind, text):
    sidebar = open_sidebar(with_status(answer))
    assert health_line(sidebar) == (kind, text)
    requests = sidebar.calls("request")
    assert len(requests) == 1
    options = requests[0]["options"]
    assert options["url"] == STATUS_URL and options["type"] == "GET" and options["cors"] is True
    assert sidebar.page.inner_text("#draft") == DRAFT, "the health line never replaces the triage"
    assert_clean(sidebar)


def test_status_line_in_german(open_sidebar):
    sidebar = open_sidebar(with_status({"status": 200, "body": health_body()}, locale="de"))
    assert health_line(sidebar) == ("ok", "Dienst hat zuletzt vor 3 Min. zurückgeschrieben")
    unhealthy = open_sidebar(with_status({"status": 0, "body": None}, locale="de"))
    assert health_line(unhealthy) == ("unreachable", "Dienst nicht erreichbar")
    assert_clean(sidebar)


def test_status_line_on_an_untriaged_ticket(open_sidebar):
    fx = with_status({"status": 200, "body": health_body()})
    fx["tags"], fx["comments"] = [], []
    sidebar = open_sidebar(fx)
    assert sidebar.state() == "untriaged"
    assert health_line(sidebar) == ("ok", "Service last wrote back 3 min ago")
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
    assert got["priority"] == ["P2", "P1"], "tags keep Zendesk's order: nothing is ranked"
    assert got["language"] == ["pt"]
    assert got["draftUsed"] is True and got["draftRejected"] is False
