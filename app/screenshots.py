"""Make the listing screenshots assets/screenshot-0..2.png (1024x768) from the real sidebar.

    .venv/bin/python app/screenshots.py

Zendesk reads at most three assets/screenshot-<n>.png of exactly 1024x768 (zendesk_apps_support
validations/screenshots.rb). Each shot loads app/screenshot_frame.html, a stand-in for the ticket
page, whose iframe is the real assets/iframe.html in Debian's Chromium; the ZAF SDK URL is
answered by tests/app/fake_zaf.js with the ticket below, exactly as in tests/app/test_sidebar.py.
Nothing leaves the machine: every request that is not to the loopback server is aborted.
"""
from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import urlencode, urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
FAKE_ZAF = (ROOT / "tests" / "app" / "fake_zaf.js").read_text(encoding="utf-8")
STATUS_URL = "https://triage.example.com/healthz"
BOT = {"id": 9, "name": "Triage Bot", "email": "triage-bot@example.com", "role": "admin"}
FOOTER = "\u2014 Draft by zendesk-batch-triage (triage-id zbt-{ticket}-{n}). Review before sending."


def _html(lines: list[str]) -> str:
    def p(text: str) -> str:
        return "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>") + "</p>"

    return '<div class="zd-comment">' + "".join(p(x) for x in lines) + "</div>"


def ticket(n: int, priority: str, category: str, sentiment: str, confidence: str, draft: list[str],
           tags: list[str], locale: str, scheme: str, cited: list[str] | None = None) -> dict:
    head = (f"AI triage \u2014 priority {priority} \u00b7 category {category} \u00b7 "
            f"sentiment {sentiment} \u00b7 confidence {confidence}")
    return {
        "ticketId": n,
        "locale": locale,
        "colorScheme": scheme,
        "settings": {"tag_prefix": "ai_", "service_user": BOT["email"], "status_url": STATUS_URL},
        "tags": ["ai_triaged", *tags],
        "comments": [
            {"id": 1, "isPublic": True, "author": {"id": 7, "name": "Customer"}, "value": "<p>…</p>"},
            {"id": 2, "isPublic": False, "author": BOT,
             "value": _html([head, *draft, *(cited or []), FOOTER.format(ticket=n, n=1)])},
        ],
        "requests": {STATUS_URL: {"status": 200, "body": {
            "healthy": True, "reason": "", "checked_at": "2026-12-01T10:03:00Z",
            "last_writeback_success": "2026-12-01T10:00:40Z", "stages": {}}}},
    }


SHOTS = [
    {
        "subject": "Charged twice for my subscription",
        "thread": [("Dana Miller", "Hi, my card was charged twice for the December invoice. "
                                   "Please refund one of the payments.", False)],
        "fixture": ticket(42, "P2", "billing", "negative", "0.86",
                          ["Hi Dana,\nthanks for reaching out about the double charge.",
                           "We refunded the second payment today; it shows on your card within 5 business days."
                           "\nBest regards,\nSupport"],
                          ["ai_priority_p2", "ai_category_billing", "ai_sentiment_negative", "ai_lang_en"], "en-US",
                          "light",
                          # NOTE_FORMAT.md: cited articles and the suggested macro after the draft
                          ["Help Center articles:\n"
                           "- Refunds and double charges <https://example.zendesk.com/hc/en-us/articles/360001>\n"
                           "- When will I see my refund? <https://example.zendesk.com/hc/en-us/articles/360002>\n"
                           "Suggested macro: Refund issued"]),
    },
    {
        "subject": "Anmeldung schlägt fehl",
        "thread": [("Jonas Weber", "Seit dem Update kann ich mich nicht mehr anmelden, das Passwort wird abgelehnt.",
                    False)],
        "fixture": ticket(57, "P1", "account", "angry", "0.48",
                          ["Hallo Jonas,\ndanke für Ihre Nachricht. Wir haben Ihr Konto entsperrt; bitte setzen Sie "
                           "Ihr Passwort über den Link in der Anmeldeseite zurück.",
                           "Viele Grüße\nSupport"],
                          ["ai_priority_p1", "ai_category_account", "ai_sentiment_angry", "ai_lang_de",
                           "ai_confidence_low"], "de", "light"),
    },
    {
        "subject": "Export to CSV times out",
        "thread": [("Priya Nair", "Exporting last month's report to CSV spins for a minute and then fails.", False)],
        "fixture": ticket(63, "P3", "technical", "neutral", "0.91",
                          ["Hi Priya,\nlarge exports now run in the background: choose \"Email me the file\" "
                           "and the CSV arrives within minutes.",
                           "Kind regards,\nSupport"],
                          ["ai_priority_p3", "ai_category_technical", "ai_sentiment_neutral", "ai_lang_en"], "en-US",
                          "dark"),
    },
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _router(sdk_body: str):
    def route(r, request):
        if request.url == SDK_URL:
            r.fulfill(status=200, content_type="application/javascript", body=sdk_body)
        elif urlparse(request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            r.abort()

    return route


def main() -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            for index, shot in enumerate(SHOTS):
                context = browser.new_context(viewport={"width": 1024, "height": 768})
                body = "window.__ZAF_FIXTURE = " + json.dumps(shot["fixture"]) + ";\n" + FAKE_ZAF

                context.route("**/*", _router(body))
                page = context.new_page()
                page.goto(base + "/app/screenshot_frame.html")
                scheme = shot["fixture"]["colorScheme"]
                page.evaluate(
                    """([shot, src, dark]) => {
                        document.body.classList.toggle('dark', dark);
                        document.getElementById('subject').textContent = shot.subject;
                        document.getElementById('sub').textContent = '#' + shot.fixture.ticketId;
                        const thread = document.getElementById('thread');
                        for (const [who, text, internal] of shot.thread) {
                            const box = document.createElement('div');
                            box.className = 'msg' + (internal ? ' internal' : '');
                            const name = document.createElement('span');
                            name.className = 'who';
                            name.textContent = who;
                            box.append(name, text);
                            thread.append(box);
                        }
                        document.getElementById('sidebar').src = src;
                    }""",
                    [shot, "/assets/iframe.html?" + urlencode({"colorScheme": scheme}), scheme == "dark"],
                )
                frame = page.frame_locator("#sidebar")
                frame.locator("#health:not([data-health='checking'])").wait_for(timeout=10000)
                out = ROOT / "assets" / f"screenshot-{index}.png"
                page.screenshot(path=str(out), full_page=False)
                print(f"wrote {out.relative_to(ROOT)}")
                context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
