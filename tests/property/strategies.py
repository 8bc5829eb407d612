"""Hostile text for the property tests: markup, entities, encodings and invisible characters mixed."""

from __future__ import annotations

from hypothesis import strategies as st

FRAGMENTS = (
    "<", ">", "&", ";", "#", "x", "lt", "gt", "amp", "60", "3c", "/", "!", "?", "=", '"', "'", " ", "\n", "\t",
    "\r", "\x00", "\x07", "\xa0", "\u200b", "\u202e", "\u2028", "\ufeff", "\U000e0041", "\ud800", "\udc00",
    "\u212a", "opf;", "\u0301", "e", "K", "<a ", "<a href='https://evil.example'>", "</a>", "<script>",
    "</script>", "<style>", "<!--", "-->", "<br>", "<p>", "</p>", "<li>", "<td>", "<b", "<!DOCTYPE", "<?xml",
    "&lt;", "&gt;", "&amp;", "&#60;", "&#x3c;", "&ltx", "&#x200b;", "&#x212a;", "john@example.com", "ticket",
    "</ticket>", "<ticket>", "[agent]", "[customer]", "Enter", "<o:p>", "mailto:", "https://",
)

hostile_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=40).map("".join),
)
