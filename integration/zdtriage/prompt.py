"""Pure triage logic: ticket → batch request ``params``; validated answer → tags and note (the answer itself
is defined in ``answer``).

No client, no database: everything here is a function of its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .config import TriageConfig
from .pricing import cache_minimum
from .redact import redact
from .text import clean_text  # prompt.clean_text: what tests and the answer model know it as

CHARS_PER_TOKEN = 4.0  # rough for English; the cost issue calibrates it from real usage
NOTE_FOOTER = "— Draft by zendesk-batch-triage"
NOTE_HEADER = "AI triage — "
MAX_SUBJECT_CHARS = 500
# the requester, someone else on the customer's side (a CC'd colleague), and staff (DESIGN §7 "Comment authors")
AUTHORS = ("customer", "end-user", "agent")
# a line that looks like one of our author labels would let a customer fake an agent's message
_AUTHOR_LINE = re.compile(r"^[ \t]*\[(customer|end-user|agent)\][ \t]*$", re.IGNORECASE | re.MULTILINE)
_FOOTER = re.compile(re.escape(NOTE_FOOTER) + r" \(triage-id zbt-(\d{1,30})-(\d{1,6})\)\. Review before sending\.")


@lru_cache(maxsize=1)
def _system_template() -> str:
    from importlib.resources import files  # here: it costs start-up CPU to commands that never build a prompt

    return files("zdtriage").joinpath("prompts/system.txt").read_text(encoding="utf-8")


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


EXAMPLE_LINES = 3  # of the first message, per example
EXAMPLE_CHARS = 300


def examples_text(examples: Sequence[Mapping[str, Any]], redact_kinds: Sequence[str] = ()) -> str:
    """Agents' corrections (``store.examples.corrections``) as a short block for the shared prefix: subject,
    the first lines of the first message and the agents' values, cleaned and redacted like every request."""
    if not examples:
        return ""
    parts = ["\nHow this account's agents triaged recent tickets where they corrected an earlier answer "
             "(follow their judgement on similar tickets):\n<examples>\n"]
    for e in examples:
        subject = " ".join(redact(clean_text(e["subject"]), redact_kinds).split())[:120]
        lines = [ln.strip() for ln in redact(clean_text(e["description"]), redact_kinds).splitlines() if ln.strip()]
        start = " / ".join(lines[:EXAMPLE_LINES])[:EXAMPLE_CHARS]
        parts.append(f"- Subject: {subject} | {start} → priority {e['priority']}, category {e['category']}\n")
    return "".join(parts) + "</examples>\n"


def system_prompt(triage: TriageConfig, examples: str = "") -> str:
    """Instructions, taxonomy, the optional knowledge text and the agents' examples (:func:`examples_text`,
    rebuilt at most once a day): the prefix every request shares."""
    text = _system_template().format(
        priorities=", ".join(triage.priorities),
        categories=", ".join(triage.categories),
        sentiments=", ".join(triage.sentiments),
    )
    if triage.knowledge:
        text += ("\nWhat our help center says (use it for the draft; never promise more than it does):\n"
                 f"<knowledge>\n{triage.knowledge}\n</knowledge>\n")
    return text + examples


@lru_cache(maxsize=8)
def system_blocks(triage: TriageConfig, model: str, examples: str = "") -> list[dict[str, Any]]:
    """The shared prefix, marked for a 1-hour cache only when it reaches the model's cacheable minimum.

    Batches run for minutes to hours, so the 5-minute cache would mostly expire between requests;
    below the minimum a marker is silently ignored, so we leave it out rather than pretend. One list for
    every request of a config (they are encoded, never changed: issue 22).
    """
    text = system_prompt(triage, examples)
    block: dict[str, Any] = {"type": "text", "text": text}
    if estimate_tokens(len(text)) >= cache_minimum(model):
        block["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    return [block]


_ARTICLE_TAG = re.compile(r"<\s*/?\s*articles?\b[^>]*>", re.IGNORECASE)
ARTICLES_INTRO = (
    "Help Center articles of this account that may answer the ticket. If one fits, base the draft on it and put "
    "its id in \"sources\"; never promise more than an article says, never invent a policy, price or link, and "
    "write no URLs in the draft (the note adds the links of the articles in \"sources\")."
)


def articles_block(articles: Sequence[Mapping[str, Any]]) -> str:
    """The articles a ticket's request holds (``{id, locale, title, text}``), as a block placed before the
    ticket in the user turn: after the shared cached prefix, which stays byte-identical. Empty for none."""
    if not articles:
        return ""
    parts = [f"<articles>\n{ARTICLES_INTRO}\n"]
    for a in articles:
        title = " ".join(_ARTICLE_TAG.sub("[article]", clean_text(a["title"])).split())
        text = " ".join(_ARTICLE_TAG.sub("[article]", clean_text(a["text"])).split())
        locale = re.sub(r"[^A-Za-z0-9-]", "", str(a.get("locale") or ""))
        # one line per field, each with its label: no line of an article can pose as the ticket's "Subject:"
        parts.append(f'<article id="{int(a["id"])}" locale="{locale}">\nTitle: {title}\nText: {text}\n</article>\n')
    return "".join(parts) + "</articles>\n\n"


_MACRO_TAG = re.compile(r"<\s*/?\s*macros?\b[^>]*>", re.IGNORECASE)
MACROS_INTRO = ("Macros (saved replies) agents of this account can apply. If one fits the ticket, put its id in "
                "\"macro_id\", else 0.")


def macros_block(macros: Sequence[Mapping[str, Any]]) -> str:
    """The macros offered for a ticket (``{id, title, text}``), placed like :func:`articles_block`."""
    if not macros:
        return ""
    parts = [f"<macros>\n{MACROS_INTRO}\n"]
    for m in macros:
        title = " ".join(_MACRO_TAG.sub("[macro]", _ARTICLE_TAG.sub("[article]", clean_text(m["title"]))).split())
        text = " ".join(_MACRO_TAG.sub("[macro]", _ARTICLE_TAG.sub("[article]", clean_text(m["text"]))).split())
        parts.append(f'<macro id="{int(m["id"])}">\nTitle: {title}\nText: {text}\n</macro>\n')
    return "".join(parts) + "</macros>\n\n"


def request_params(ticket_subject: str, messages: Sequence[Message], *, model: str, max_tokens: int,
                   triage: TriageConfig, redact_kinds: Sequence[str] = (),
                   articles: Sequence[Mapping[str, Any]] = (), macros: Sequence[Mapping[str, Any]] = (),
                   examples: str = "") -> dict[str, Any]:
    """The ``params`` of one Message Batches request; ``articles`` (``retrieval.select``) and ``macros`` go into
    the user turn, before the ticket; ``examples`` (:func:`examples_text`) into the shared prefix."""
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": system_blocks(triage, model, examples),
        "messages": [{"role": "user", "content": articles_block(articles) + macros_block(macros) + build_conversation(
            ticket_subject, messages, triage.max_input_tokens, redact_kinds)}],
        "output_config": _output_config(triage),
    }


@lru_cache(maxsize=8)
def _output_config(triage: TriageConfig) -> dict[str, Any]:
    """The ``output_config`` every request of one triage config holds: one dict, shared by the requests of a run
    (they are encoded, never changed), instead of the schema parsed again per ticket (issue 22)."""
    from . import answer as answers  # pydantic: 0.1-0.3 CPU-s of start-up that status and report never use

    return {"format": {"type": "json_schema", "schema": answers.answer_schema(triage)}}


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


# what Zendesk turns into a link in a comment: a scheme, or a bare www. host
_LINK = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)[^\s<>\"]+", re.IGNORECASE)
LINK_REMOVED = "[link removed]"


def _trim_link(link: str) -> tuple[str, str]:
    tail = ""
    while link and link[-1] in ".,;:!?)]}'’”":
        link, tail = link[:-1], link[-1] + tail
    return link, tail


def links_in(text: str) -> list[str]:
    """Every link in ``text`` as :func:`strip_links` sees it."""
    return [_trim_link(m.group(0))[0] for m in _LINK.finditer(text or "")]


def strip_links(text: str, allowed: Sequence[str] = ()) -> str:
    """``text`` with every link that is not exactly one of ``allowed`` replaced by :data:`LINK_REMOVED`
    (trailing punctuation is kept outside the link)."""
    keep = set(allowed)

    def one(m: re.Match[str]) -> str:
        link, tail = _trim_link(m.group(0))
        return (link if link in keep else LINK_REMOVED) + tail

    return _LINK.sub(one, text)


def note_body(answer: Mapping[str, Any], ticket_id: int, triage_n: int, *,
              articles: Sequence[Mapping[str, Any]] = (), allowed_links: Sequence[str] = (),
              macro: str | None = None) -> str:
    """The internal note, plain text: header, draft, the cited articles, and the footer as its last line (what
    the app and our idempotency check read). The draft is cleaned again here, whoever validated it.

    ``articles`` (``{title, html_url}``, the provided ones the answer cites) are listed as the sidebar expects
    (NOTE_FORMAT: "Help Center articles:", one "- title <url>" line each). No link in the note comes from
    anywhere else: a link in the draft that is not one of those URLs or of ``allowed_links`` is removed.
    ``macro``: the title of the suggested macro ("Suggested macro: <title>", after the articles).
    """
    from .answer import MAX_DRAFT_CHARS

    header = (
        f"{NOTE_HEADER}priority {answer['priority']} · category {answer['category']} · "
        f"sentiment {answer['sentiment']} · confidence {answer['confidence']:.2f}"
    )
    urls = [str(a["html_url"]) for a in articles]
    draft = strip_links(clean_text(answer["draft"])[:MAX_DRAFT_CHARS], [*urls, *allowed_links])
    lines = []
    if articles:
        lines = ["Help Center articles:"] + [
            f"- {' '.join(strip_links(clean_text(a['title'])).split())} <{a['html_url']}>" for a in articles
        ]
    if macro:
        lines.append(f"Suggested macro: {' '.join(strip_links(clean_text(macro)).split())}")
    cited = "\n".join(lines) + "\n\n" if lines else ""
    return f"{header}\n\n{draft}\n\n{cited}{note_footer(ticket_id, triage_n)}"


def is_our_note(body: str, *, public: bool | int, author_id: int | None, bot_user_id: int | None, ticket_id: int,
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
