"""Hostile text made harmless (pure): poison pills out when a response is parsed, markup out before the model.

``sanitize`` is what every text field of a parsed Zendesk response goes through: whatever the JSON held,
the result is a ``str`` that SQLite and ``json.dumps(...).encode()`` accept. ``plain_text`` turns
customer text (which may carry HTML, entities, scripts) into plain text with no markup left, in time
linear in its (capped) length. Neither raises on any input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

MAX_TEXT_CHARS = 64 * 1024  # per message: everything past it is dropped before any regex runs
MAX_PASSES = 4  # decode/strip rounds; deeper nesting is defanged instead (keeps the work linear)

_SURROGATE = re.compile(r"[\ud800-\udfff]")
# anything sanitize changes: a C0 control but tab and newline (\r included), a surrogate
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")
_C0 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # \t and \n stay; \r becomes \n first
# C1 controls, zero-width and bidi overrides, BOM, and the invisible Unicode "tag" characters used to
# smuggle instructions past a human reader
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\U000e0000-\U000e007f]"
)
_LINE_SEPARATORS = re.compile("[\u2028\u2029\x85]")

# Every markup construct a browser would read, each bounded by the next "<" (a quoted attribute value
# may hold ">", not "<"): a failed match scans only up to the next "<", and the possessive "*+" never
# backtracks, so the whole substitution is linear (a lazy ".*?" to a close that never comes is not).
_RAW_OPEN = re.compile(r"<(script|style)(?=[\s/>])[^<>]*>|<!--", re.IGNORECASE)
_RAW_CLOSE = {
    "script": re.compile(r"</script(?=[\s/>]|$)[^<>]*>?", re.IGNORECASE),
    "style": re.compile(r"</style(?=[\s/>]|$)[^<>]*>?", re.IGNORECASE),
}
_COMMENT_CLOSE = re.compile(r"--!?>")
_MARKUP = re.compile(
    r"<(?P<mail>(?:mailto:)?[A-Za-z][^\s<>@]*@[^\s<>@]+)>"  # John <john@example.com>
    r"|<(?P<url>(?:https?|ftp)://[^\s<>]+)>"  # <https://example.com/x>
    r"|<(?P<close>/?)(?P<name>[A-Za-z][^\s/<>]*+)(?P<rest>(?:=\s*+\"[^\"<]*+\"|=\s*+'[^'<]*+'|[^<>])*+)>"  # tag
    r"|<[!?][^<>]*>"  # doctype, CDATA, processing instruction, bogus comment
    r"|</[^A-Za-z<>][^<>]*>"  # "</>" and "</ x>": dropped by browsers too
)
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")  # what still starts markup after the rounds: defanged
_CHARREF = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")  # html.unescape's
# runs of spaces become one space, and a space beside a line break goes; each pattern matches only what changes
# (a lone " ", a lone "\n"), not every word gap and line as "[...]+" and " ?\n ?" did (issue 22: the same text,
# tests/property/test_clean_props.py holds them to those)
_SPACE_CHARS = "\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACES = re.compile(f"[ {_SPACE_CHARS}]{{2,}}|[{_SPACE_CHARS}]")
_ODD_SPACE = re.compile(f"[{_SPACE_CHARS}]")
_EDGE_SPACES = re.compile(r" \n ?|\n ")
_BLANKS = re.compile(r"\n{3,}")

_BLOCKS = frozenset(  # a line break where they open and where they close
    [
        "address", "article", "aside", "blockquote", "div", "dl", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "ul"
    ]
)
_ITEMS = frozenset(["br", "dd", "dt", "li", "tr"])  # a line break where they open
_CELLS = frozenset({"td", "th"})
# HTML (and SVG/MathML roots) element names: dropped. Any other <word> is prose ("press <Enter>",
# "<your domain>") and stays readable inside ‹ ›, which no browser or model reads as a tag.
_ELEMENTS = _BLOCKS | _ITEMS | _CELLS | frozenset(
    [
        "a", "abbr", "acronym", "applet", "area", "audio", "b", "base", "basefont", "bdi", "bdo", "big", "blink",
        "body", "button", "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data", "datalist", "del",
        "details", "dfn", "dialog", "dir", "em", "embed", "fieldset", "font", "frame", "frameset", "head", "hgroup",
        "html", "i", "iframe", "image", "img", "input", "ins", "isindex", "kbd", "keygen", "label", "legend", "link",
        "listing", "map", "mark", "marquee", "math", "menu", "menuitem", "meta", "meter", "nobr", "noembed", "noframes",
        "noscript", "object", "optgroup", "option", "output", "param", "picture", "plaintext", "progress", "q", "rb",
        "rp", "rt", "rtc", "ruby", "s", "samp", "script", "search", "select", "slot", "small", "source", "spacer",
        "span", "strike", "strong", "style", "sub", "sup", "svg", "template", "textarea", "time", "title", "track",
        "tt", "u", "var", "video", "wbr", "xmp", "path", "g", "circle", "rect", "line", "polyline", "polygon",
        "ellipse", "defs", "use", "symbol", "text", "tspan", "foreignobject", "animate", "set", "lineargradient",
        "radialgradient", "stop", "mi", "mo", "mn", "ms", "mtext", "mrow", "annotation"
    ]
)


def sanitize(value: Any) -> str:
    """Any parsed JSON value → a ``str`` safe to store and encode.

    ``None``, booleans, lists and objects become ``""``; numbers their decimal text; bytes are decoded
    as UTF-8 with replacement. In text, a lone surrogate becomes U+FFFD (a split pair is joined),
    ``\\r\\n`` and ``\\r`` become ``\\n``, and NUL and the other C0 controls except ``\\t``/``\\n`` are dropped.
    Nothing else changes: this is for storage, not for the model (see :func:`plain_text`).
    """
    if type(value) is str and (value.isprintable() or not _UNSAFE.search(value)):
        return value  # the common case, in one scan (issue 22: every field of every ticket read)
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return ""
    text = str(value)
    if _SURROGATE.search(text):
        # UTF-16 with surrogatepass keeps a split pair as a pair; decoding joins it and replaces lone halves
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _C0.sub("", text)


def sanitize_tags(value: Any) -> list[str]:
    """A parsed ``tags`` value → distinct, non-empty sanitised strings (anything but a list is no tags)."""
    if not isinstance(value, (list, tuple)):
        return []
    out: dict[str, None] = {}  # ordered and distinct in linear time, for a ticket with thousands of tags
    for item in value:
        tag = (item if type(item) is str and item.isprintable() else sanitize(item)).strip()
        if tag:
            out[tag] = None
    return list(out)


def _characters(text: str) -> str:
    text = unicodedata.normalize("NFC", _LINE_SEPARATORS.sub("\n", sanitize(text)))
    return _INVISIBLE.sub("", text)


def _drop_raw_text(text: str) -> str:
    """Remove comments and ``<script>``/``<style>`` elements with their content; an unclosed one runs
    to the end of the text, as in a browser. Each search starts where the last one ended: linear."""
    if "<" not in text:
        return text
    parts: list[str] = []
    pos = 0
    while True:
        m = _RAW_OPEN.search(text, pos)
        if m is None:
            parts.append(text[pos:])
            break
        parts.append(text[pos:m.start()])
        if m.group(1):
            end = _RAW_CLOSE[m.group(1).lower()].search(text, m.end())
        else:
            end = _COMMENT_CLOSE.search(text, m.start() + 2)  # "<!-->" and "<!--->" close at once
        if end is None:
            break
        pos = end.end()
    return "".join(parts)


def _tag(m: re.Match[str]) -> str:
    if m.group("mail") or m.group("url"):
        return f"‹{m.group('mail') or m.group('url')}›"
    name = m.group("name")
    if name is None:
        return ""
    lowered = name.lower()
    if lowered in _ELEMENTS or ":" in name:  # o:p, v:shape from Office pastes are markup too
        if lowered in _BLOCKS or (lowered in _ITEMS and (not m.group("close") or lowered == "br")):
            return "\n"
        return " " if lowered in _CELLS else ""
    return f"‹{m.group('close')}{name}{m.group('rest')}›"


def _strip_markup(text: str) -> str:
    text = _drop_raw_text(text)
    return _MARKUP.sub(_tag, text) if "<" in text else text


def _round(text: str) -> str:
    return _strip_markup(_characters(html.unescape(text) if "&" in text else text))


def _defang_ref(m: re.Match[str]) -> str:
    ref = m.group(0)
    return "＆" + ref[1:] if html.unescape(ref) != ref else ref


def plain_text(value: Any) -> str:
    """Customer text (or the model's draft) → plain text with no markup, in linear time.

    At most :data:`MAX_TEXT_CHARS` characters are read. Entities are decoded, then markup is stripped,
    round after round until nothing changes (``&lt;a href=…&gt;`` is a tag, so it goes). ``<br>`` and
    block ends become line breaks, ``<script>``/``<style>`` content and comments are dropped, an address
    in angle brackets stays readable (``John ‹john@example.com›``), and so does any ``<word>`` that is
    not an HTML element. Whatever could still open markup — an unclosed ``<a href`` or entities nested
    deeper than :data:`MAX_PASSES` — is defanged (``< a``, ``＆lt;``). Invisible and control characters are
    removed, spaces collapsed. ``plain_text(plain_text(x)) == plain_text(x)``.
    """
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: MAX_TEXT_CHARS * 4]).decode("utf-8", errors="replace")
    text = (value if isinstance(value, str) else sanitize(value))[:MAX_TEXT_CHARS]
    text = _characters(text)
    # plain text (nothing to decode or strip, still NFC after the invisible characters went) is its own next
    # round: the loop would only run _characters again to find that out (issue 22: four cleanings a ticket)
    if "<" in text or "&" in text or not unicodedata.is_normalized("NFC", text):
        text = _rounds(text)
    text = _TAG_OPEN.sub("< ", text) if "<" in text else text
    # most text has nothing to collapse: a substring test or one search decides, without a pass of substitution
    if "  " in text or _ODD_SPACE.search(text):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _EDGE_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text[:MAX_TEXT_CHARS].strip()


def _rounds(text: str) -> str:
    """Decode and strip round after round until nothing changes (at most :data:`MAX_PASSES`)."""
    for _ in range(MAX_PASSES):
        again = _round(text)
        if again == text:
            return text
        text = again
    # still changing: what is left is written out, never read as markup
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    return _CHARREF.sub(_defang_ref, text) if "&" in text else text


# "< /ticket >" is not markup, but a model could still read it as the end of our data block
_BLOCK_TAG = re.compile(r"<\s*/?\s*ticket\s*>", re.IGNORECASE)


def clean_text(text: Any) -> str:
    """Customer text (or the model's draft) → plain text safe to send and to write: never raises.

    :func:`zdtriage.text.plain_text` (at most 64 K characters read, entities decoded and markup
    stripped until stable, no markup left, linear time), then ``<ticket>``-like sequences become
    ``[ticket]``. Idempotent: ``clean_text(clean_text(x)) == clean_text(x)``.
    """
    return _BLOCK_TAG.sub("[ticket]", plain_text(text))
