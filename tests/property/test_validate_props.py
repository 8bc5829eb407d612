"""Properties of answer.validate_answer: never raises, never lets a value outside the configured lists through."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st
from strategies import hostile_text

from zdtriage import prompt
from zdtriage.answer import MAX_DRAFT_CHARS, validate_answer
from zdtriage.config import TriageConfig

DEFAULT = TriageConfig()
CUSTOM = TriageConfig(priorities=("urgent", "later"), categories=("Billing", "tech support"), sentiments=("ok", "bad"))
triages = st.sampled_from([DEFAULT, CUSTOM])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def near(values: tuple[str, ...]) -> st.SearchStrategy[object]:
    """A configured value, a variant of one (case, spaces, a suffix), or anything at all."""
    return st.one_of(
        st.sampled_from(values),
        st.sampled_from(values).map(str.upper),
        st.sampled_from(values).map(lambda v: f"  {v}\n"),
        st.sampled_from(values).map(lambda v: v + "x"),
        st.sampled_from(["P0", "vip", "", "P1 P2", "billing,technical"]),
        json_values,
    )


def answers(triage: TriageConfig) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "priority": near(triage.priorities + DEFAULT.priorities),
            "category": near(triage.categories + DEFAULT.categories),
            "sentiment": near(triage.sentiments + DEFAULT.sentiments),
            "language": st.one_of(st.sampled_from(["de", "EN", " fr ", "German", "xx1"]), json_values),
            "confidence": st.one_of(st.floats(), st.integers(-2, 2), st.booleans(), json_values),
            "draft": st.one_of(hostile_text, json_values),
            "extra": json_values,
        },
    )


def check(result: tuple[dict | None, str | None], triage: TriageConfig) -> None:
    answer, reason = result
    assert (answer is None) != (reason is None)
    if answer is None:
        assert isinstance(reason, str) and reason and "\n" not in reason
        return
    assert answer["priority"] in triage.priorities
    assert answer["category"] in triage.categories
    assert answer["sentiment"] in triage.sentiments
    assert answer["language"] is None or re.fullmatch(r"[a-z]{2}", answer["language"])
    assert 0 <= answer["confidence"] <= 1
    assert answer["draft"] and len(answer["draft"]) <= MAX_DRAFT_CHARS
    assert not re.search(r"<[A-Za-z/!?]", answer["draft"])
    allowed = {prompt.tag_for(triage.tag_prefix, kind, v) for kind, values in
               (("priority", triage.priorities), ("category", triage.categories), ("sentiment", triage.sentiments))
               for v in values}
    for tag in prompt.triage_tags(answer, triage):
        assert tag in allowed or tag in (prompt.marker_tag(triage), f"{triage.tag_prefix}confidence_low") \
            or re.fullmatch(re.escape(triage.tag_prefix) + r"lang_[a-z]{2}", tag), tag


@given(
    st.one_of(hostile_text, st.binary(max_size=50), st.none()),
    triages,
    st.sampled_from([None, "end_turn", "max_tokens"]),
)
def test_arbitrary_text_never_raises(text, triage, stop_reason):
    check(validate_answer(text, triage, stop_reason=stop_reason), triage)


@given(st.data(), triages)
def test_arbitrary_json_never_passes_a_value_outside_the_lists(data, triage):
    value = data.draw(st.one_of(answers(triage), json_values))
    check(validate_answer(json.dumps(value), triage), triage)
