"""Pure triage logic: ticket → batch request ``params``; validated answer → tags and note (the answer itself
is defined in ``answer``).

No client, no database: everything here is a function of its arguments.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Mapping, Sequence

from . import answer
from .config import TriageConfig
from .pricing import cache_minimum
from .redact import redact

CHARS_PER_TOKEN = 4.0  # rough for English; the cost issue calibrates it from real usage
NOTE_FOOTER = "— Draft by zendesk-batch-triage"
NOTE_HEADER = "AI triage — "
_TAG_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_HTML_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{0,2000}>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")
_BLANKS = re.compile(r"\n{3,}")


@lru_cache(maxsize=1)
def _system_template() -> str:
    return files("integration").joinpath("prompts/system.txt").read_text(encoding="utf-8")


def clean_text(text: Any) -> str:
    """Make customer text safe to send: decode bytes, drop HTML and control characters, normalise."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = str(text)
    # lone surrogates (bad encodings that survived JSON) cannot be encoded: replace them
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    if "<" in text and ">" in text:
        text = _BREAKS.sub("\n", text)
        text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TAG_CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANKS.sub("\n\n", text)
    # the customer must not be able to close our data block
    text = re.sub(r"</?\s*ticket\s*>", "[ticket]", text, flags=re.IGNORECASE)
    return text.strip()


def estimate_tokens(chars: int) -> int:
    return int(chars / CHARS_PER_TOKEN) + 1


@dataclass(frozen=True)
class Message:
    author: str  # "customer" or "agent"
    body: str


def build_conversation(subject: str, messages: Sequence[Message], max_input_tokens: int,
                       redact_kinds: Sequence[str] = ()) -> str:
    """The user turn: subject and messages, oldest first, cut to ``max_input_tokens`` keeping the newest.

    Text is cleaned (HTML, control characters, bad encodings) and, when configured, personal data
    is redacted before anything is measured or sent.
    """
    budget = int(max_input_tokens * CHARS_PER_TOKEN)
    head = f"Subject: {redact(clean_text(subject), redact_kinds)[:500]}\n"
    budget -= len(head) + 40
    parts: list[str] = []
    omitted = 0
    for index, message in enumerate(reversed(messages)):
        body = redact(clean_text(message.body), redact_kinds)
        block = f"\n[{message.author}]\n{body}\n"
        if len(block) <= budget:
            parts.append(block)
            budget -= len(block)
            continue
        if index == 0:
            # the newest message alone is too long: keep its start, which carries the request
            keep = max(budget - 40, 0)
            parts.append(f"\n[{message.author}]\n{body[:keep]}\n[… message cut …]\n")
            budget = 0
        omitted = len(messages) - index
        break
    parts.reverse()
    note = f"[{omitted} earlier message(s) omitted]\n" if omitted else ""
    return "<ticket>\n" + head + note + "".join(parts) + "</ticket>"


def system_prompt(triage: TriageConfig) -> str:
    """Instructions, taxonomy and the optional knowledge text: the prefix every request shares."""
    text = _system_template().format(
        priorities=", ".join(triage.priorities),
        categories=", ".join(triage.categories),
        sentiments=", ".join(triage.sentiments),
    )
    if triage.knowledge:
        text += ("\nWhat our help center says (use it for the draft; never promise more than it does):\n"
                 f"<knowledge>\n{triage.knowledge}\n</knowledge>\n")
    return text


def system_blocks(triage: TriageConfig, model: str) -> list[dict[str, Any]]:
    """The shared prefix, marked for a 1-hour cache only when it reaches the model's cacheable minimum.

    Batches run for minutes to hours, so the 5-minute cache would mostly expire between requests;
    below the minimum a marker is silently ignored, so we leave it out rather than pretend.
    """
    text = system_prompt(triage)
    block: dict[str, Any] = {"type": "text", "text": text}
    if estimate_tokens(len(text)) >= cache_minimum(model):
        block["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    return [block]


def request_params(ticket_subject: str, messages: Sequence[Message], *, model: str, max_tokens: int,
                   triage: TriageConfig, redact_kinds: Sequence[str] = ()) -> dict[str, Any]:
    """The ``params`` of one Message Batches request."""
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": system_blocks(triage, model),
        "messages": [{"role": "user", "content": build_conversation(ticket_subject, messages, triage.max_input_tokens,
                                                                        redact_kinds)}],
        "output_config": {"format": {"type": "json_schema", "schema": answer.answer_schema(triage)}},
    }


def custom_id(ticket_id: int, triage_n: int) -> str:
    """``zt-<ticket>-<n>``: ≤ 64 chars of ``[A-Za-z0-9_-]`` for any Zendesk id."""
    return f"zt-{ticket_id}-{triage_n}"


def parse_custom_id(value: str) -> tuple[int, int] | None:
    """``(ticket_id, triage_n)`` of one of our custom_ids; None for anything else (an id no SQLite row can have
    included: a result line is outside input)."""
    m = re.fullmatch(r"zt-(\d{1,19})-(\d{1,6})", value or "") if isinstance(value, str) else None
    if not m or int(m.group(1)) > 2**63 - 1:
        return None
    return int(m.group(1)), int(m.group(2))


def tag_for(prefix: str, kind: str, value: str) -> str:
    return f"{prefix}{kind}_{value}".lower().replace(" ", "-")


def triage_tags(answer: Mapping[str, Any], triage: TriageConfig) -> list[str]:
    """Tags to add for a validated answer (DESIGN §5), marker last."""
    p = triage.tag_prefix
    tags = [
        tag_for(p, "priority", answer["priority"]),
        tag_for(p, "category", answer["category"]),
        tag_for(p, "sentiment", answer["sentiment"]),
    ]
    if answer.get("language"):
        tags.append(tag_for(p, "lang", answer["language"]))
    if answer["confidence"] < triage.low_confidence:
        tags.append(f"{p}confidence_low")
    tags.append(marker_tag(triage))
    return tags


def stale_tags(current: Sequence[str], new: Sequence[str], triage: TriageConfig) -> list[str]:
    """Value tags of an earlier triage (and the failed tag) on the ticket that ``new`` does not repeat.

    Only tags that this service writes are candidates: the configured priorities, categories and
    sentiments, language and low-confidence tags, and the failed tag, all under ``tag_prefix``.
    """
    p = triage.tag_prefix
    ours = {tag_for(p, kind, v) for kind, values in (("priority", triage.priorities), ("category", triage.categories),
                                                      ("sentiment", triage.sentiments)) for v in values}
    ours |= {f"{p}confidence_low", failed_tag(triage)}
    keep = set(new)
    return sorted(t for t in current
                  if t not in keep and (t in ours or re.fullmatch(rf"{re.escape(p)}lang_[a-z]{{2}}", t)))


def marker_tag(triage: TriageConfig) -> str:
    return f"{triage.tag_prefix}triaged"


def failed_tag(triage: TriageConfig) -> str:
    return f"{triage.tag_prefix}failed"


NATIVE_PRIORITY = ("urgent", "high", "normal", "low")


def native_priority(answer: Mapping[str, Any], triage: TriageConfig) -> str | None:
    """P1→urgent … P4→low when ``native_priority`` is on."""
    if not triage.native_priority:
        return None
    return NATIVE_PRIORITY[list(triage.priorities).index(answer["priority"])]


def triage_id(ticket_id: int, triage_n: int) -> str:
    return f"zbt-{ticket_id}-{triage_n}"


def note_body(answer: Mapping[str, Any], ticket_id: int, triage_n: int) -> str:
    """The internal note: header, draft, footer with the triage id (what the app and our idempotency check read)."""
    header = (
        f"{NOTE_HEADER}priority {answer['priority']} · category {answer['category']} · "
        f"sentiment {answer['sentiment']} · confidence {answer['confidence']:.2f}"
    )
    footer = f"{NOTE_FOOTER} (triage-id {triage_id(ticket_id, triage_n)}). Review before sending."
    return f"{header}\n\n{answer['draft']}\n\n{footer}"


def is_our_note(body: str, ticket_id: int, triage_n: int | None = None) -> bool:
    """Whether a comment body is our note (for this triage, when ``triage_n`` is given)."""
    if NOTE_FOOTER not in (body or ""):
        return False
    if triage_n is None:
        return True
    return f"(triage-id {triage_id(ticket_id, triage_n)})" in body
