"""Errors that name the cause, the way an admin meets them (issue 20 item 4): a state folder the service
user cannot write, a wrong Zendesk host, an untrusted TLS certificate, Anthropic unreachable, `--config`
after the command, the untouched placeholders of `config init`."""

from __future__ import annotations

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from zdtriage import batches
from zdtriage import config as config_mod
from zdtriage import zendesk as zd
from zdtriage.cli import cli

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
ZDTRIAGE = Path(sys.executable).with_name("zdtriage")


def invoke(*args, env=ENV):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def no_forced_netloc(monkeypatch):
    yield
    for name in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(name, raising=False)


def test_a_state_folder_the_service_user_cannot_write_names_the_path_and_the_user():
    # before: "metrics on 127.0.0.1:0: Permission denied" with metrics off (the lock file's OSError)
    top = Path(tempfile.mkdtemp(prefix="zdtriage-perm-"))
    try:
        top.chmod(0o755)
        state = top / "state"
        state.mkdir(mode=0o755)  # root's (or ours, read-only below): not the service user's
        config = top / "zdtriage.toml"
        config.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\nurl = "http://127.0.0.1:9"\n'
                          f'[state]\npath = "{state / "zdtriage.db"}"\n')
        config.chmod(0o644)
        if os.geteuid() == 0:  # as root nothing is refused: run as another user, as a service would
            prefix, user = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"], "uid 65534"
        else:
            state.chmod(0o555)
            prefix, user = [], f"uid {os.geteuid()}"
        env = {"PATH": os.environ["PATH"], "HOME": str(top), **ENV}
        result = subprocess.run([*prefix, str(ZDTRIAGE), "--config", str(config), "run", "--once"], cwd=top, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert str(state / "zdtriage.db") in line and user in line and "Permission denied" in line, line
        assert "metrics" not in result.stderr and "Traceback" not in result.stderr
    finally:
        state.chmod(0o755)
        shutil.rmtree(top)


def test_a_wrong_zendesk_host_names_the_host_and_the_dns_reason(tmp_path):
    config = tmp_path / "zdtriage.toml"
    config.write_text('[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\nurl = "https://acme-typo.invalid"\n'
                      f'[state]\npath = "{tmp_path / "s.db"}"\n')
    result = invoke("--config", config, "backfill", "--since", "2026-01-01")
    assert result.exit_code == 1
    assert "cannot reach Zendesk at acme-typo.invalid: DNS lookup failed" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.fixture
def untrusted_https(tmp_path):
    """An HTTPS server with a self-signed certificate (a TLS-intercepting proxy, a wrong base URL)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(zendesk_url, anthropic_url):
    return config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com", "url": zendesk_url},
                             "anthropic": {"base_url": anthropic_url}}, ENV)


def test_an_untrusted_certificate_is_named_as_such(untrusted_https):
    cfg = _config(untrusted_https, untrusted_https)
    with pytest.raises(zd.ZendeskUnavailable, match=r"^cannot reach Zendesk at localhost: TLS certificate not trusted "
                                                    r"\(self.signed certificate\)$"):
        zd.fetch_me(zd.make_client(cfg.zendesk))
    client = batches.make_client(cfg.anthropic).with_options(max_retries=0)
    with pytest.raises(batches.BatchError, match=r"^cannot reach Anthropic at localhost: TLS certificate not trusted"):
        batches.retrieve_batch(client, "msgbatch_01")


def test_anthropic_unreachable_names_the_host_and_the_reason():
    cfg = _config("http://127.0.0.1:9", "https://api.anthropic-typo.invalid")
    client = batches.make_client(cfg.anthropic).with_options(max_retries=0)
    with pytest.raises(batches.BatchError, match=r"^cannot reach Anthropic at api.anthropic-typo.invalid: "
                                                 r"DNS lookup failed") as caught:
        batches.retrieve_batch(client, "msgbatch_01")
    assert caught.value.retryable and "sim-key" not in str(caught.value)
    with pytest.raises(zd.ZendeskUnavailable, match=r"^cannot reach Zendesk at 127.0.0.1: connection refused"):
        zd.fetch_me(zd.make_client(cfg.zendesk))


@pytest.mark.parametrize("args, command", [
    (["run", "--once", "--config", "F.toml"], "run"),
    (["status", "--config=F.toml"], "status"),
    (["config", "check", "--config", "F.toml"], "config check"),
])
def test_config_after_the_command_says_to_put_it_before(args, command):
    result = invoke(*args)
    assert result.exit_code == 2
    assert f"put --config before the command: zdtriage --config F {command}" in result.output, result.output


def test_an_unknown_option_after_the_command_keeps_clicks_message():
    result = invoke("status", "--bogus")
    assert result.exit_code == 2 and "No such option '--bogus'" in result.output and "global" not in result.output


def test_config_init_placeholders_are_refused_until_replaced(tmp_path):
    target = tmp_path / "zdtriage.toml"
    assert invoke("config", "init", "--path", target).exit_code == 0
    check = invoke("--config", target, "config", "check")
    assert check.exit_code == 2
    assert check.output.strip() == ("Error: config: zendesk.subdomain: still holds the placeholder 'CHANGE-ME' written "
                                    "by `zdtriage config init`: replace it with your account's value")
    target.write_text(target.read_text().replace('subdomain = "CHANGE-ME"', 'subdomain = "acme"'))
    check = invoke("--config", target, "config", "check")
    assert check.exit_code == 2 and "zendesk.email: still holds the placeholder 'CHANGE-ME@example.com'" in check.output
    env = {**ENV, "ZDTRIAGE_ZENDESK__EMAIL": "bot@acme.com"}  # the environment may replace it too
    assert invoke("--config", target, "config", "check", env=env).exit_code == 0
