"""Pure triage logic: ticket → batch request ``params``; validated answer → tags and note (the answer itself
is defined in ``answer``).

No client, no database: everything here is a function of its arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Mapping, Sequence

from .config import TriageConfig
from .pricing import cache_minimum
from .redact import redact
from .text import plain_text

CHARS_PER_TOKEN = 4.0  # rough for English; the cost issue calibrates it from real usage
NOTE_FOOTER = "— Draft by zendesk-batch-triage"
NOTE_HEADER = "AI triage — "
MAX_SUBJECT_CHARS = 500
# the requester, someone else on the customer's side (a CC'd colleague), and staff (DESIGN §7 "Comment authors")
AUTHORS = ("customer", "end-user", "agent")
# "< /ticket >" is not markup, but a model could still read it as the end of our data block
_BLOCK_TAG = re.compile(r"<\s*/?\s*ticket\s*>", re.IGNORECASE)
# a line that looks like one of our author labels would let a customer fake an agent's message
_AUTHOR_LINE = re.compile(r"^[ \t]*\[(customer|end-user|agent)\][ \t]*$", re.IGNORECASE | re.MULTILINE)
_FOOTER = re.compile(re.escape(NOTE_FOOTER) + r" \(triage-id zbt-(\d{1,30})-(\d{1,6})\)\. Review before sending\.")


@lru_cache(maxsize=1)
def _system_template() -> str:
    return files("zdtriage").joinpath("prompts/system.txt").read_text(encoding="utf-8")


def clean_text(text: Any) -> str:
    """Customer text (or the model's draft) → plain text safe to send and to write: never raises.

    :func:`zdtriage.text.plain_text` (at most 64 K characters read, entities decoded and markup
    stripped until stable, no markup left, linear time), then ``<ticket>``-like sequences become
    ``[ticket]``. Idempotent: ``clean_text(clean_text(x)) == clean_text(x)``.
    """
    return _BLOCK_TAG.sub("[ticket]", plain_text(text))


def estimate_tokens(chars: int) -> int:
    return int(chars / CHARS_PER_TOKEN) + 1


@dataclass(frozen=True)
class Message:
    author: str  # "customer" (the requester), "end-user" (another end user) or "agent"
    body: str


STAFF_ROLES = ("agent", "admin")


def author_label(author_id: Any, requester_id: Any, role: str | None) -> str:
    """How a message is labelled, from its author's Zendesk role: the requester is the customer, an agent or
    admin is staff, and anyone else (another end user, or a role we do not know) is on the customer's side:
    a customer is never presented as staff."""
    if author_id is not None and author_id == requester_id:
        return "customer"
    return "agent" if role in STAFF_ROLES else "end-user"


def _label(author: Any) -> str:
    return author if author in AUTHORS else "customer"  # unknown provenance is never presented as staff


def build_conversation(subject: str, messages: Sequence[Message], max_input_tokens: int,
                       redact_kinds: Sequence[str] = ()) -> str:
    """The user turn: subject and messages, oldest first, inside ``<ticket>…</ticket>``.

    Never longer than ``int(max_input_tokens * CHARS_PER_TOKEN)`` characters (for the configured
    minimum of 200 tokens and up): older messages are left out first; the newest one is always there,
    cut to its start when it alone is too long. Text is cleaned (:func:`clean_text`) and, when
    configured, personal data redacted before anything is measured; the block cannot be closed from
    inside (``</ticket>`` occurs once, at the end) and a line cannot pose as an author label.
    """
    limit = int(max_input_tokens * CHARS_PER_TOKEN)
    opening, closing = "<ticket>\n", "</ticket>"
    title = " ".join(redact(clean_text(subject), redact_kinds).split())[:MAX_SUBJECT_CHARS]
    head = f"Subject: {title}\n"
    cut = "\n[… message cut …]\n"
    # room for the "omitted" line is kept whether it is needed or not: its length is known up front
    budget = limit - len(opening) - len(closing) - len(head) - len(f"[{len(messages)} earlier message(s) omitted]\n")
    parts: list[str] = []
    omitted = 0
    for index, message in enumerate(reversed(messages)):
        body = _AUTHOR_LINE.sub(r"(\1)", redact(clean_text(message.body), redact_kinds))
        label = f"\n[{_label(message.author)}]\n"
        block = f"{label}{body}\n"
        if len(block) <= budget:
            parts.append(block)
            budget -= len(block)
            continue
        kept = index
        if index == 0 and budget > len(label) + len(cut):
            # the newest message alone is too long: keep its start, which carries the request
            parts.append(f"{label}{body[:budget - len(label) - len(cut)]}{cut}")
            kept = 1
        omitted = len(messages) - kept
        break
    parts.reverse()
    note = f"[{omitted} earlier message(s) omitted]\n" if omitted else ""
    return opening + head + note + "".join(parts) + closing


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
    from . import answer as answers  # pydantic: 0.1-0.3 CPU-s of start-up that status and report never use

    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": system_blocks(triage, model),
        "messages": [{"role": "user", "content": build_conversation(ticket_subject, messages, triage.max_input_tokens,
                                                                        redact_kinds)}],
        "output_config": {"format": {"type": "json_schema", "schema": answers.answer_schema(triage)}},
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


def note_footer(ticket_id: int, triage_n: int) -> str:
    """The last line of our note: names this tool and the triage (``zbt-<ticket>-<n>``)."""
    return f"{NOTE_FOOTER} (triage-id {triage_id(ticket_id, triage_n)}). Review before sending."


def note_body(answer: Mapping[str, Any], ticket_id: int, triage_n: int) -> str:
    """The internal note, plain text: header, draft, and the footer as its last line (what the app and
    our idempotency check read). The draft is cleaned again here, whoever validated it."""
    from .answer import MAX_DRAFT_CHARS

    header = (
        f"{NOTE_HEADER}priority {answer['priority']} · category {answer['category']} · "
        f"sentiment {answer['sentiment']} · confidence {answer['confidence']:.2f}"
    )
    draft = clean_text(answer["draft"])[:MAX_DRAFT_CHARS]
    return f"{header}\n\n{draft}\n\n{note_footer(ticket_id, triage_n)}"


def is_our_note(body: str, *, public: bool, author_id: int | None, bot_user_id: int | None, ticket_id: int,
                triage_n: int | None = None) -> bool:
    """Whether a comment is our note for ``ticket_id`` (and for that triage, when ``triage_n`` is given).

    Only an internal comment (``public`` false) written by the service's own user (``bot_user_id``,
    from ``users/me``; ``None`` → nothing is ours) whose last non-empty line is our footer. A customer
    can write the footer, but only in a public comment: that is conversation. Trailing whitespace and
    blank lines are allowed (the recorded comments return ``body``/``plain_body`` exactly as sent; a
    rendering may add a trailing newline); nothing else is.
    """
    if bot_user_id is None or not isinstance(body, str) or not (public is False or public == 0):
        return False
    if isinstance(author_id, bool) or not isinstance(author_id, int) or author_id != bot_user_id:
        return False
    lines = [line for line in body.strip().splitlines() if line.strip()]
    m = _FOOTER.fullmatch(lines[-1].strip()) if lines else None
    if m is None or int(m.group(1)) != ticket_id:
        return False
    return triage_n is None or int(m.group(2)) == triage_n
