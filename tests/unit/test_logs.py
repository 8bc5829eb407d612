"""Log lines: text or JSON with the stable `action` key and the caller's figures; SDK loggers held at WARNING;
ANTHROPIC_LOG cannot take our logging over or put request bodies in the log (issue 12 item 11, issue 14 item 5)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zdtriage import logs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sdk = {name: logging.getLogger(name).level for name in logs.SDK_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in sdk.items():
        logging.getLogger(name).setLevel(old)
    logs._secrets.clear()


def test_json_lines_carry_action_and_figures(capsys):
    logs.setup("json", "INFO")
    logging.getLogger("zdtriage").warning("ticket %s held", 42, extra={"action": "budget_hold",
                                                                       "figures": {"ticket": 42, "usd": 0.5}})
    logging.getLogger("zdtriage").debug("not shown at INFO")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "WARNING" and line["logger"] == "zdtriage" and line["message"] == "ticket 42 held"
    assert line["action"] == "budget_hold" and line["figures"] == {"ticket": 42, "usd": 0.5}
    assert line["ts"].endswith("Z") and line["ts"][10] == "T"


def test_json_keeps_the_fixed_keys_and_puts_a_traceback_in_one_line(capsys):
    logs.setup("json", "INFO")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("zdtriage").exception("crashed", extra={"action": "ingest_crash", "level_hint": 1})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["action"] == "ingest_crash" and "RuntimeError: boom" in line["exc"] and line["level"] == "ERROR"


def test_a_record_without_action_still_has_the_key(capsys):
    logs.setup("json", "INFO")
    logging.getLogger("other").warning("plain")
    assert json.loads(capsys.readouterr().err)["action"] is None


def test_text_lines_end_with_the_figures(capsys):
    logs.setup("text", "INFO")
    logging.getLogger("zdtriage").info("ingest done", extra={"action": "ingest", "figures": {"tickets": 3, "pages": 1}})
    err = capsys.readouterr().err.strip()
    assert err.endswith("INFO ingest done tickets=3 pages=1")
    assert "action" not in err


def test_level_is_honoured_and_a_second_setup_replaces_the_first(capsys):
    logs.setup("json", "WARNING")
    logs.setup("text", "DEBUG")
    logging.getLogger("zdtriage").debug("detail")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("DEBUG detail")  # one handler, text, DEBUG


def test_sdk_loggers_stay_at_warning_even_at_debug(capsys):
    logs.setup("json", "DEBUG")
    for name in (
        "anthropic",
        "anthropic._base_client",
        "httpx2",
        "httpcore2.http11",
        "urllib3.connectionpool",
        "zenpy",
    ):
        logging.getLogger(name).setLevel(logging.DEBUG)  # as ANTHROPIC_LOG=debug does at import
        logging.getLogger(name).debug("Request options: {'json_data': 'ticket text'}")
    logging.getLogger("anthropic").warning("retrying")
    out = capsys.readouterr().err
    assert "ticket text" not in out and "retrying" in out
    assert logging.getLogger("anthropic").level == logging.DEBUG  # what the filter is for
    logs.setup("json", "DEBUG")
    assert logging.getLogger("anthropic").level == logging.WARNING


def test_known_secrets_are_masked_in_every_line(capsys):
    logs.setup("json", "INFO")
    logs.mask("zd-secret-0123456789", "short")
    logging.getLogger("zdtriage").warning(
        "token zd-secret-0123456789 refused", extra={"figures": {"t": "zd-secret-0123456789"}}
    )
    err = capsys.readouterr().err
    assert "zd-secret" not in err and err.count("****") == 2


def test_bad_format_or_level_is_refused():
    with pytest.raises(ValueError):
        logs.setup("xml", "INFO")
    with pytest.raises(ValueError):
        logs.setup("text", "LOUD")


SCRIPT = """
import logging, sys
sys.path.insert(0, {root!r})
if {ours}:
    from zdtriage import logs
    logs.setup("json", "DEBUG")
import anthropic
from zdtriage.sim.anthropic import AnthropicSim
sim = AnthropicSim(api_key="sk-ant-sim-key-777", processing_seconds=0.0)
url = sim.start()
client = anthropic.Anthropic(api_key="sk-ant-sim-key-777", base_url=url, max_retries=0)
client.messages.batches.create(requests=[{{"custom_id": "t-1", "params": {{"model": "claude-haiku-4-5",
    "max_tokens": 64, "messages": [{{"role": "user", "content": "My invoice INV-SECRET-TEXT is wrong"}}]}}}}])
logging.getLogger("zdtriage").info("stage done", extra={{"action": "submit"}})
sim.stop()
"""


def run_script(ours: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANTHROPIC_LOG": "debug"}
    return subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT), ours=ours)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_anthropic_log_debug_leaks_request_bodies_without_our_setup():
    # the threat, shown: the SDK configures itself from ANTHROPIC_LOG at import and logs the request body
    result = run_script(ours=False)
    assert result.returncode == 0, result.stderr
    assert "INV-SECRET-TEXT" in result.stderr and "Request options" in result.stderr


def test_anthropic_log_debug_cannot_take_our_logging_over():
    result = run_script(ours=True)
    assert result.returncode == 0, result.stderr
    assert "INV-SECRET-TEXT" not in result.stderr and "Request options" not in result.stderr
    assert "HTTP Response" not in result.stderr and "sk-ant-sim-key" not in result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is ours: JSON
    assert [line["action"] for line in lines] == ["submit"]
