"""integration/zdtriage/text.py: storage-safe values from any JSON, and plain text from any markup."""

from __future__ import annotations

import re

import pytest

from zdtriage.text import MAX_TEXT_CHARS, plain_text, sanitize, sanitize_tags

MARKUP = re.compile(r"<[A-Za-z/!?]")


@pytest.mark.parametrize("value, expected", [
    (None, ""),
    (True, ""),
    ({"a": 1}, ""),
    (["x"], ""),
    (12, "12"),
    (1.5, "1.5"),
    (b"caf\xe9", "caf\ufffd"),
    ("lone \ud800 and \udfff", "lone \ufffd and \ufffd"),
    ("pair \ud83d\ude00", "pair 😀"),
    ("a\x00b\x01c\x1fd\x7f", "abcd\x7f"),  # C0 goes; DEL and C1 are left to plain_text
    ("tab\tnew\nline\r\nold\rmac", "tab\tnew\nline\nold\nmac"),
    ("<b>kept</b> &amp;", "<b>kept</b> &amp;"),  # storage keeps the text as written
])
def test_sanitize(value, expected):
    assert sanitize(value) == expected
    sanitize(value).encode("utf-8")


def test_sanitize_tags():
    assert sanitize_tags(["vip", " vip ", "", None, "x\ud800", 7]) == ["vip", "x\ufffd", "7"]
    assert sanitize_tags("vip") == [] and sanitize_tags(None) == []


def test_unclosed_script_and_comment_run_to_the_end():
    assert plain_text("before<script>alert(1) and everything after") == "before"
    assert plain_text("before<!-- a comment that never ends") == "before"
    assert plain_text("a<!---->b<!-->c<!--- x --->d") == "abcd"
    assert plain_text("a<SCRIPT type=x>1</SCRIPT >b<style>p{}</style\n>c") == "abc"


def test_declarations_and_processing_instructions_go():
    assert plain_text("<!DOCTYPE html><?xml version='1.0'?><![CDATA[x]]>text") == "text"  # bogus comments to ">"
    assert plain_text("Word paste<o:p></o:p> done") == "Word paste done"


def test_invisible_characters_go():
    # bidi override, zero-width space, soft hyphen, and Unicode tag characters that spell "hi"
    assert plain_text("pay\u202e \u200bnow\u00ad \U000e0068\U000e0069") == "pay now"
    # removing the zero-width space must not leave a live tag behind
    assert plain_text("<\u200bscript>x()</script>y") == "y"


def test_entities_that_make_invisible_or_markup_characters_are_handled():
    assert plain_text("a&#x202e;b&#8203;c") == "abc"
    assert plain_text("&#60;&#x200b;script&#62;x()&lt;/script>y") == "y"


def test_text_is_capped_before_anything_else():
    out = plain_text("a" * (MAX_TEXT_CHARS + 10_000))
    assert len(out) == MAX_TEXT_CHARS
    assert len(plain_text("<a " * MAX_TEXT_CHARS)) <= MAX_TEXT_CHARS


@pytest.mark.parametrize("text", ["x<y", "<a", "</", "<!", "<?", "&lt;b", "< b>"])
def test_what_could_open_markup_is_defanged(text):
    out = plain_text(text)
    assert not MARKUP.search(out) and out.replace(" ", "").startswith(text.replace("&lt;", "<").replace(" ", "")[:1])
