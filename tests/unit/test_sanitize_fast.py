"""``sanitize`` returns a clean ``str`` as it is after one scan (issue 22: every field of every ticket read is
sanitised): the result is exactly what the full path gives, which a ``str`` subclass still takes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zdtriage.text import sanitize, sanitize_tags


class _Text(str):
    """Not exactly ``str``: takes sanitize's full path."""


TRICKY = st.text(alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\r", "\x00", "\x0b", "\x1f", "\x7f", "\x85",
                                           "\xa0", "\u2028", "\ud800", "\udc00", "\U0001f600", "<"]), max_size=12)


@given(st.one_of(TRICKY, st.text()))
def test_the_fast_path_gives_what_the_full_path_gives(text):
    assert sanitize(text) == sanitize(_Text(text))
    sanitize(text).encode("utf-8")


@given(st.lists(st.one_of(TRICKY, st.text(), st.none(), st.integers()), max_size=6))
def test_tags_fast_path_gives_what_the_full_path_gives(tags):
    slow = [_Text(t) if isinstance(t, str) else t for t in tags]
    assert sanitize_tags(tags) == sanitize_tags(slow)


def test_clean_text_is_returned_as_it_is():
    text = "Hello,\n\tcharged twice"
    assert sanitize(text) is text
    assert sanitize("a\r\nb\x00c\ud800") == "a\nbc\ufffd"
