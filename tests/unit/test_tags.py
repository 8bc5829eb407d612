"""Which tags a write adds and removes: only this service's own value tags are ever removed."""

from zdtriage import prompt
from zdtriage.config import TriageConfig

TRIAGE = TriageConfig()


def test_a_previous_triage_value_tags_are_removed_and_nothing_else():
    current = ["ai_priority_p4", "ai_category_billing", "ai_sentiment_angry", "ai_lang_de", "ai_confidence_low",
               "ai_failed", "ai_triaged", "ai_draft_used", "vip", "ai_priority_p9", "ai_lang_german", "billing"]
    new = ["ai_priority_p1", "ai_category_billing", "ai_sentiment_neutral", "ai_lang_en", "ai_triaged"]
    assert prompt.stale_tags(current, new, TRIAGE) == [
        "ai_confidence_low", "ai_failed", "ai_lang_de", "ai_priority_p4", "ai_sentiment_angry"]


def test_nothing_to_remove_on_a_first_triage():
    assert prompt.stale_tags(["vip", "billing"], ["ai_priority_p2", "ai_triaged"], TRIAGE) == []


def test_the_prefix_is_respected():
    from dataclasses import replace

    triage = replace(TRIAGE, tag_prefix="zbt_")
    assert prompt.stale_tags(["ai_priority_p4", "zbt_priority_p4"], ["zbt_priority_p1"], triage) == ["zbt_priority_p4"]
