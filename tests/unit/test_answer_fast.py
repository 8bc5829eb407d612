"""validate_answer reads a valid answer straight from its text with pydantic's parser (issue 22: json.loads and
then model_validate were a fifth of poll's CPU); every text that parser refuses or reads differently goes the
old way, json.loads first, so the answer and the reason given are the same as before."""

import json
from dataclasses import replace

import pytest

from zdtriage import answer as answers
from zdtriage.config import TriageConfig

TRIAGE = TriageConfig()
MACROS = replace(TRIAGE, suggest_macros=True)
VALID = {"priority": "P2", "category": "billing", "sentiment": "negative", "language": "de",
         "confidence": 0.82, "draft": "Hallo, danke für Ihre Nachricht.", "sources": [7, 9]}
BODY = json.dumps(VALID)[1:-1]

TEXTS = [
    json.dumps(VALID),
    json.dumps({**VALID, "priority": " p2 ", "category": "BILLING", "language": "DE "}),
    "\ufeff" + json.dumps(VALID),  # a BOM: json.loads refuses it
    "{" + BODY + ', "draft": "\\ud800 lone"}',  # a lone surrogate: json.loads reads it, pydantic's parser does not
    "{" + BODY + ', "confidence": NaN}',
    "{" + BODY + ', "confidence": 1e400}',
    "{" + BODY + ', "confidence": 1}',
    "{" + BODY + ', "confidence": true}',
    "{" + BODY + ', "extra": ' + "[" * 300 + "]" * 300 + "}",  # deeper than pydantic's parser goes, in an extra key
    "{" + BODY + ', "priority": "P9"}',  # the last of two keys wins
    "{" + BODY + ', "draft": "a\tb"}',  # a raw tab in a string: not JSON
    json.dumps(VALID) + ' {"a": 1}',  # trailing data
    " \n" + json.dumps(VALID) + "\n ",
    json.dumps([VALID]),
    "null", "", "not json", "{", '"text"',
    json.dumps({**VALID, "sources": [7, 7, 1.0, True, 12345678901234567890123, "9", 9]}),
    json.dumps({**VALID, "sources": "7"}),
    json.dumps({**VALID, "language": None}),
    json.dumps({k: v for k, v in VALID.items() if k != "language"}),
    json.dumps({k: v for k, v in VALID.items() if k != "draft"}),
    json.dumps({**VALID, "draft": "<b>Hallo</b> &amp; <script>x</script> </ticket>"}),
    json.dumps({**VALID, "draft": "   "}),
    json.dumps({**VALID, "macro_id": 5}), json.dumps({**VALID, "macro_id": 5.0}), json.dumps({**VALID, "macro_id": -1}),
    json.dumps({**VALID, "macro_id": "5"}),
]


@pytest.mark.parametrize("triage", [TRIAGE, MACROS], ids=["plain", "macros"])
@pytest.mark.parametrize("text", TEXTS)
def test_the_fast_read_gives_what_json_loads_gave(text, triage, monkeypatch):
    fast = answers.validate_answer(text, triage, provided=[7, 9], macros=[5])
    monkeypatch.setattr(answers, "_valid_json", lambda model, text: None)  # the code before: json.loads first
    assert fast == answers.validate_answer(text, triage, provided=[7, 9], macros=[5])


def test_a_valid_answer_is_parsed_once(monkeypatch):
    def loads(*args, **kwargs):
        raise AssertionError("json.loads called for a valid answer")

    monkeypatch.setattr(answers.json, "loads", loads)
    answer, reason = answers.validate_answer(json.dumps(VALID), TRIAGE, provided=[7])
    assert reason is None and answer is not None and answer["sources"] == [7]
