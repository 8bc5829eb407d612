"""assets/triage.js under Node (module.exports): the same parser the sidebar runs in the browser.
Skipped when node is not installed."""
from __future__ import annotations

import json
import shutil
import subprocess

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
    for (text, expected), got in zip(PARSE_CASES, results):
        if expected is None:
            assert got is None, text
            continue
        for key, value in expected.items():
            assert got[key] == value, (key, text)


def test_build_model_under_node():
    note = (
        "AI triage \u2014 priority P2 \u00b7 category billing \u00b7 sentiment negative \u00b7 confidence 0.82\n\n"
        "Hello!\n\n\u2014 Draft by zendesk-batch-triage (triage-id zbt-5-1). Review before sending."
    )
    untriaged, triaged = run_node(
        [
            {"fn": "buildModel", "args": [["vip"], [{"id": 1, "value": "<p>Hi</p>"}], "ai_"]},
            {
                "fn": "buildModel",
                "args": [
                    ["ai_triaged", "ai_confidence_low", "ai_draft_rejected"],
                    [{"id": 2, "value": note, "isPublic": False}],
                    None,
                ],
            },
        ]
    )
    assert untriaged["triaged"] is False and untriaged["hasNote"] is False
    assert triaged["triaged"] is True and triaged["draft"] == "Hello!"
    assert (triaged["priority"], triaged["category"], triaged["confidence"]) == ("P2", "billing", 0.82)
    assert triaged["confidenceLow"] is True
    assert triaged["feedback"] == "rejected"
    assert triaged["tags"] == {"used": "ai_draft_used", "rejected": "ai_draft_rejected"}
