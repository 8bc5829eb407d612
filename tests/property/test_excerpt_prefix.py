"""An article's excerpt is cut from a collapsed start of its body (``retrieval._collapsed``, issue 22): it must be
the excerpt the whole body would give, whatever the body's words and whitespace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zdtriage import retrieval
from zdtriage.prompt import Message

WORDS = st.text(alphabet=st.sampled_from("ab é漢"), min_size=1, max_size=40)
SPACE = st.sampled_from(" \n\t\r\u3000\u2028")
# a gap is a few characters, or a long run (a pasted table, blank lines) that outlasts the collapsed start
GAPS = st.one_of(st.text(alphabet=SPACE, min_size=1, max_size=5),
                 st.integers(min_value=100, max_value=4000).map(lambda n: " " * n))


@st.composite
def bodies(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(WORDS, GAPS), max_size=120))
    return draw(GAPS) + "".join(w + g for w, g in parts)


@settings(max_examples=400, deadline=None)
@given(body=bodies(), room=st.integers(min_value=1, max_value=900))
def test_the_start_gives_the_excerpt_of_the_whole_body(body: str, room: int) -> None:
    whole = " ".join(body.split())
    start = retrieval._collapsed(body, room)
    assert start[:room] == whole[:room]
    assert (len(start) > room) == (len(whole) > room)


@settings(max_examples=100, deadline=None)
@given(body=bodies(), tokens=st.integers(min_value=60, max_value=400))
def test_select_sends_what_the_whole_body_gives(body: str, tokens: int) -> None:
    row = {"id": 1, "locale": "en-us", "title": "Reset", "html_url": "https://x.test/a/1", "body": body}
    got = retrieval.select(lambda text, **kw: [row], "reset", [Message("customer", "reset")], count=1, tokens=tokens)
    room = int(tokens * retrieval.CHARS_PER_TOKEN) - len("Reset")
    whole = " ".join(body.split())
    if room < retrieval.MIN_EXCERPT_CHARS:
        assert got == []
        return
    want = whole if len(whole) <= room else whole[:room].rsplit(" ", 1)[0] + " …"
    assert got[0]["text"] == want
