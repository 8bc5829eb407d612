"""The answer is defined once (integration/zdtriage/answer.py): the schema sent to the model and the validator of what
comes back are the same pydantic model, so they cannot drift."""

import json

import pytest

from zdtriage import prompt
from zdtriage.answer import MAX_DRAFT_CHARS, answer_schema, validate_answer
from zdtriage.config import TriageConfig

TRIAGE = TriageConfig()
VALID = {"priority": "P2", "category": "billing", "sentiment": "negative", "language": "de",
         "confidence": 0.82, "draft": "Hallo, danke für Ihre Nachricht."}


def test_valid_answer_passes_and_keeps_configured_spelling():
    answer, reason = validate_answer(json.dumps({**VALID, "priority": "p2", "category": "BILLING"}), TRIAGE)
    assert reason is None
    assert answer["priority"] == "P2" and answer["category"] == "billing"


@pytest.mark.parametrize("change, why", [
    ({"priority": "P0"}, "priority"),
    ({"category": "vip"}, "category"),
    ({"sentiment": None}, "sentiment"),
    ({"confidence": 1.5}, "confidence"),
    ({"confidence": "high"}, "confidence"),
    ({"confidence": True}, "confidence"),
    ({"draft": "  "}, "draft"),
])
def test_out_of_list_values_are_refused(change, why):
    answer, reason = validate_answer(json.dumps({**VALID, **change}), TRIAGE)
    assert answer is None and why in reason


@pytest.mark.parametrize("text", ["not json", "[1,2]", "", '{"priority": "P1"'])
def test_non_objects_are_refused(text):
    answer, reason = validate_answer(text, TRIAGE)
    assert answer is None and reason


def test_truncated_answer_is_refused():
    assert validate_answer(json.dumps(VALID), TRIAGE, stop_reason="max_tokens") == (None, "answer cut at max_tokens")


def test_bad_language_drops_the_language_tag_only():
    answer, _ = validate_answer(json.dumps({**VALID, "language": "German"}), TRIAGE)
    assert answer["language"] is None
    assert not any(t.startswith("ai_lang_") for t in prompt.triage_tags(answer, TRIAGE))


def test_tags_follow_design():
    answer, _ = validate_answer(json.dumps({**VALID, "confidence": 0.3, "category": "feature-request"}), TRIAGE)
    assert prompt.triage_tags(answer, TRIAGE) == [
        "ai_priority_p2", "ai_category_feature-request", "ai_sentiment_negative", "ai_lang_de",
        "ai_confidence_low", "ai_triaged"]


def test_refusal_is_not_an_answer():
    assert validate_answer(json.dumps(VALID), TRIAGE, stop_reason="refusal")[0] is None


def test_the_schema_sent_is_generated_from_the_configured_lists():
    triage = TriageConfig(priorities=("urgent", "later"), categories=("a", "b"), sentiments=("ok",))
    schema = answer_schema(triage)
    assert schema["properties"]["priority"] == {"type": "string", "enum": ["urgent", "later"]}
    assert schema["properties"]["category"]["enum"] == ["a", "b"]
    assert schema["additionalProperties"] is False and schema["type"] == "object"
    assert schema["required"] == ["priority", "category", "sentiment", "language", "confidence", "draft", "sources"]
    # only the keywords the structured-output API takes (DESIGN §7): no title, default, anyOf, minimum
    text = json.dumps(schema)
    for keyword in ("title", "default", "anyOf", "minimum", "maximum"):
        assert f'"{keyword}"' not in text
    assert prompt.request_params("s", [prompt.Message("customer", "m")], model="claude-haiku-4-5", max_tokens=64,
                                 triage=triage)["output_config"]["format"]["schema"] == schema


def test_every_value_the_schema_allows_validates_and_nothing_else_does():
    schema = answer_schema(TRIAGE)
    for field in ("priority", "category", "sentiment"):
        for value in schema["properties"][field]["enum"]:
            assert validate_answer(json.dumps({**VALID, field: value}), TRIAGE)[0][field] == value
        assert validate_answer(json.dumps({**VALID, field: "zz-not-listed"}), TRIAGE)[0] is None


def test_the_draft_is_cleaned_and_capped():
    got, _ = validate_answer(json.dumps({**VALID, "draft": "<b>Hi</b> " + "x" * 20000}), TRIAGE)
    assert got["draft"].startswith("Hi x") and len(got["draft"]) == MAX_DRAFT_CHARS


def test_extra_keys_are_dropped_never_written():
    got, _ = validate_answer(json.dumps({**VALID, "tags": ["vip"]}), TRIAGE)
    assert "tags" not in got and set(got) == set(answer_schema(TRIAGE)["required"])


def test_deep_nesting_is_refused_not_raised():
    assert validate_answer("[" * 100_000 + "]" * 100_000, TRIAGE)[0] is None
    assert validate_answer(json.dumps({**VALID, "draft": {"a": 1}}), TRIAGE)[0] is None
