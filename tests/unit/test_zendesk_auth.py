"""zendesk.make_client sends the credential the config names: email/token basic auth, or an OAuth Bearer."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zdtriage import zendesk
from zdtriage.config import parse


@pytest.fixture
def server(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            body = json.dumps({"user": {"id": 1, "name": "Triage bot", "role": "admin"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def test_oauth_token_goes_as_a_bearer_header(server):
    url, seen = server
    cfg = parse({"zendesk": {"subdomain": "acme", "auth": "oauth", "url": url}},
                {"ZENDESK_API_TOKEN": "oauth-access-token-1", "ANTHROPIC_API_KEY": "k" * 10})
    zendesk.make_client(cfg.zendesk).users.me()
    assert seen[-1]["authorization"] == "Bearer oauth-access-token-1"


def test_api_token_goes_as_email_slash_token_basic_auth(server):
    url, seen = server
    cfg = parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com", "url": url}},
                {"ZENDESK_API_TOKEN": "api-token-2", "ANTHROPIC_API_KEY": "k" * 10})
    zendesk.make_client(cfg.zendesk).users.me()
    scheme, _, encoded = seen[-1]["authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == "bot@acme.com/token:api-token-2"
