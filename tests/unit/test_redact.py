"""Redaction finds well-formed personal data and leaves ordinary numbers alone."""

import pytest

from zdtriage.redact import redact

ALL = ("email", "phone", "card", "iban")


@pytest.mark.parametrize("text, expected", [
    ("write to jane.doe+vip@example.co.uk please", "write to [email] please"),
    ("call +49 30 1234 5678 today", "call [phone] today"),
    ("call (415) 555-0132 ext", "call [phone] ext"),
    ("card 4111 1111 1111 1111 expired", "card [card] expired"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban] thanks"),
    ("IBAN GB82WEST12345698765432", "IBAN [iban]"),
])
def test_each_kind_is_replaced(text, expected):
    assert redact(text, ALL) == expected


@pytest.mark.parametrize("text", [
    "order 12345 shipped",                 # short numbers stay
    "card 4111 1111 1111 1112 expired",    # fails Luhn: not a card (but long enough to look like a phone)
    "IBAN DE00 3704 0044 0532 0130 00",    # fails mod-97
    "version 2.10.3 on 2026-11-25",
])
def test_ordinary_text_is_not_mistaken_for_a_card_or_iban(text):
    out = redact(text, ("card", "iban", "email"))
    assert "[card]" not in out and "[iban]" not in out


def test_only_configured_kinds_are_redacted():
    text = "mail a@b.co or call +1 415 555 0132"
    assert redact(text, ("email",)) == "mail [email] or call +1 415 555 0132"
    assert redact(text, ()) == text


def test_redaction_applies_to_the_request_sent():
    from zdtriage import prompt
    from zdtriage.config import TriageConfig

    params = prompt.request_params(
        "Contact me at bob@corp.example",
        [prompt.Message("customer", "my IBAN is GB82WEST12345698765432")],
        model="claude-haiku-4-5",
        max_tokens=512,
        triage=TriageConfig(),
        redact_kinds=ALL,
    )
    content = params["messages"][0]["content"]
    assert "bob@corp.example" not in content and "GB82WEST" not in content
    assert "[email]" in content and "[iban]" in content


def test_addresses_kept_readable_by_cleaning_are_still_redacted():
    from zdtriage import prompt

    for text in (
        "From: John <john@example.com>",
        "mail john&#64;example.com",
        "<a href='mailto:x'>john@example.com</a>",
    ):
        out = prompt.build_conversation("s", [prompt.Message("customer", text)], 1000, redact_kinds=ALL)
        assert "john@example.com" not in out and "[email]" in out, text


@pytest.mark.parametrize("unit", ["1 ", "4111 ", "DE89 ", "a@b.", "+(1"])
def test_redaction_time_grows_linearly(unit):
    import time

    def once(text: str) -> float:
        start = time.process_time()
        redact(text, ALL)
        return time.process_time() - start

    small = (unit * (16_384 // len(unit) + 1))[:16_384]
    large = (unit * (65_536 // len(unit) + 1))[:65_536]
    # the two sizes measured in turns, the best of five each: a slow moment of a shared machine (CI, other
    # tests) falls on both instead of one; 4x the text may cost 8x (quadratic would be 16x)
    best = {small: float("inf"), large: float("inf")}
    for _ in range(5):
        for text in (small, large):
            best[text] = min(best[text], once(text))
    assert best[large] <= 8 * best[small] + 0.001
