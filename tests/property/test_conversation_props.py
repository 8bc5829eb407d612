"""Properties of prompt.build_conversation: within its character budget, newest kept, block never closable."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from strategies import hostile_text

from zdtriage import prompt
from zdtriage.redact import KINDS

LABEL = re.compile(r"^\[(customer|agent)\]$", re.MULTILINE)
OMITTED = re.compile(r"^\[(\d+) earlier message\(s\) omitted\]$", re.MULTILINE)

bodies = st.one_of(hostile_text, st.tuples(hostile_text, st.integers(1, 200)).map(lambda t: t[0] * t[1]))
messages = st.lists(st.builds(prompt.Message, st.sampled_from(["customer", "agent", "[agent]", "x"]), bodies),
                    max_size=8)
budgets = st.integers(200, 3000)  # config allows 200 … 150,000 tokens
redaction = st.sampled_from([(), KINDS])


@given(hostile_text, messages, budgets, redaction)
def test_never_over_budget_and_the_block_cannot_be_closed(subject, msgs, tokens, kinds):
    text = prompt.build_conversation(subject, msgs, tokens, kinds)
    assert len(text) <= int(tokens * prompt.CHARS_PER_TOKEN)
    assert text.startswith("<ticket>\n") and text.endswith("</ticket>")
    assert text.count("</ticket>") == 1 and text.count("<ticket>") == 1
    assert not re.search(r"<[A-Za-z/!?]", text[len("<ticket>"):-len("</ticket>")])


@given(hostile_text, messages, budgets)
def test_the_newest_messages_are_kept_in_order(subject, msgs, tokens):
    text = prompt.build_conversation(subject, msgs, tokens)
    labels = LABEL.findall(text)  # a body cannot hold a label line: these are exactly the kept messages
    kept = len(labels)
    assert labels == [m.author if m.author in prompt.AUTHORS else "customer" for m in msgs[len(msgs) - kept:]]
    omitted = OMITTED.findall(text)
    assert omitted == ([str(len(msgs) - kept)] if kept < len(msgs) else [])
    if msgs:
        assert kept >= 1  # the newest message is always there
        newest = prompt.clean_text(msgs[-1].body)
        if "[" not in newest:
            after = text[list(LABEL.finditer(text))[-1].end() + 1:]
            assert after.startswith(newest[:100])
