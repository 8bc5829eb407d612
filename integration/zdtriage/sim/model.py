"""A deterministic stand-in for Claude, used by the Anthropic simulator.

It does what the triage prompt needs from a model, and nothing more:

* :func:`read_prompt` measures a Messages API ``params`` object the way billing does (about four
  characters per token) and lists its ``cache_control`` breakpoints;
* :func:`analyse` reads the customer's text once (keywords, language, subject, prompt injection)
  into a small :class:`Analysis`, so a 100,000-request batch keeps no text in memory;
* :func:`answer_text` turns an analysis and the request's JSON schema
  (``params.output_config.format.schema``) into the compact JSON text a model would return.

Which text is analysed: the ``user`` messages only (a system prompt full of category names would
otherwise decide every answer), starting at the first ``Subject:`` / ``Betreff:`` / ``Objet:`` /
``Asunto:`` line (or ``<subject>`` tag, or ``"subject":`` key) when there is one, so that
instructions placed before the ticket do not count either; blocks under an ``[agent]`` line (agent
replies in a thread) are skipped up to the next ``[customer]`` line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from zdtriage.sim.model_words import (
    ANGRY,
    CALM,
    CANONICAL_CATEGORIES,
    CATEGORY_KEYS,
    CATEGORY_WORDS,
    DRAFTS,
    NEGATIVE,
    POSITIVE,
    STOPWORDS,
    URGENT,
    Words,
)

CHARS_PER_TOKEN = 4
REQUEST_OVERHEAD_TOKENS = 8  # role markers etc.; real usage for "Hello" is ~10 input tokens
# A json_schema output format costs a hidden system prompt: messages-structured-output.json shows 196
# input tokens for a 20-character question and a ~200-character schema.
STRUCTURED_OUTPUT_OVERHEAD_TOKENS = 150

CACHE_TTL_SECONDS = {"5m": 300, "1h": 3600}


def count_tokens(text: str) -> int:
    """Tokens of ``text`` at about four characters per token (never 0 for non-empty text)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


# -- models ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str  # what a result's message.model says (dated where the API dates it)
    cache_minimum: int  # minimum cacheable prefix, tokens
    max_output: int  # largest accepted max_tokens


# Minimum cacheable prompt lengths: platform.claude.com prompt-caching docs as quoted in
# anthropics/anthropic-sdk-python#1194 (4,096 Opus 4.5/4.6 and Haiku 4.5; 1,024 Sonnet 4.x, Opus 4/4.1;
# 2,048 Haiku 3/3.5); Opus 4.8 lowered it to 1,024 (platform.claude.com "What's new in Claude Opus 4.8");
# Opus 4.7 2,048 (dev.to/creeta "Claude's prompt cache fails silently", unconfirmed by Anthropic).
# Max output: the errored line in batch-result-errored-line.json ("> 64000 ... claude-haiku-4-5-20251001").
_MODELS: dict[str, ModelInfo] = {
    "claude-haiku-4-5": ModelInfo("claude-haiku-4-5-20251001", 4096, 64000),
    "claude-sonnet-4-5": ModelInfo("claude-sonnet-4-5-20250929", 1024, 64000),
    "claude-sonnet-4-6": ModelInfo("claude-sonnet-4-6", 1024, 64000),
    "claude-sonnet-4-0": ModelInfo("claude-sonnet-4-20250514", 1024, 64000),
    "claude-sonnet-4": ModelInfo("claude-sonnet-4-20250514", 1024, 64000),
    "claude-opus-4-0": ModelInfo("claude-opus-4-20250514", 1024, 32000),
    "claude-opus-4": ModelInfo("claude-opus-4-20250514", 1024, 32000),
    "claude-opus-4-1": ModelInfo("claude-opus-4-1-20250805", 1024, 32000),
    "claude-opus-4-5": ModelInfo("claude-opus-4-5-20251101", 4096, 64000),
    "claude-opus-4-6": ModelInfo("claude-opus-4-6", 4096, 128000),
    "claude-opus-4-7": ModelInfo("claude-opus-4-7", 2048, 128000),
    "claude-opus-4-8": ModelInfo("claude-opus-4-8", 1024, 128000),
    "claude-3-5-haiku": ModelInfo("claude-3-5-haiku-20241022", 2048, 8192),
    "claude-3-haiku": ModelInfo("claude-3-haiku-20240307", 2048, 4096),
}
_DATED = {info.model_id: info for info in _MODELS.values()}


def resolve_model(name: str) -> ModelInfo | None:
    """The model behind an alias or dated id, or None when the API would answer ``model: <name>`` 404."""
    if name in _MODELS:
        return _MODELS[name]
    if name in _DATED:
        return _DATED[name]
    base = re.sub(r"-\d{8}$", "", name)
    info = _MODELS.get(base)
    if info is not None and base != name:
        return ModelInfo(name, info.cache_minimum, info.max_output)
    return None


# -- prompt measurement ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Breakpoint:
    digest: bytes  # hash of the model and of the prompt prefix up to and including the marked block
    tokens: int  # tokens of that prefix
    ttl: int  # seconds


@dataclass(frozen=True, slots=True)
class PromptInfo:
    input_tokens: int  # everything the model reads, cached or not, except an output schema
    breakpoints: tuple[Breakpoint, ...]
    user_text: str


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            return block["text"]
        if block.get("type") == "tool_result":
            content = block.get("content")
            if isinstance(content, list):
                return "\n".join(_block_text(b) for b in content)
            if isinstance(content, str):
                return content
        return json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)
    return json.dumps(block, sort_keys=True)


def _blocks(content: Any) -> list[Any]:
    if isinstance(content, list):
        return content
    return [content] if content is not None else []


def _ttl(cache_control: Any) -> int | None:
    if not isinstance(cache_control, dict) or cache_control.get("type") != "ephemeral":
        return None
    return CACHE_TTL_SECONDS.get(cache_control.get("ttl", "5m"), 300)


def read_prompt(params: dict[str, Any], model_id: str) -> PromptInfo:
    """Token count, cache breakpoints and user text of one request's ``params``.

    An output schema's tokens are not included (see :func:`schema_tokens`; a batch shares one schema).

    The prompt prefix runs tools → system → messages, as in the prompt-caching docs; a top-level
    ``cache_control`` (automatic caching) marks the last block.
    """
    segments: list[tuple[str, int | None]] = []  # (text, ttl of a breakpoint on this block)
    for tool in params.get("tools") or []:
        if isinstance(tool, dict):
            segments.append((_block_text(tool), _ttl(tool.get("cache_control"))))
    system = params.get("system")
    for block in _blocks(system):
        segments.append((_block_text(block), _ttl(block.get("cache_control")) if isinstance(block, dict) else None))
    user_parts: list[str] = []
    for message in params.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", "user"))
        for block in _blocks(message.get("content")):
            text = _block_text(block)
            segments.append((f"{role}:{text}", _ttl(block.get("cache_control")) if isinstance(block, dict) else None))
            if role == "user":
                user_parts.append(text)
    automatic = _ttl(params.get("cache_control"))
    if automatic is not None and segments and segments[-1][1] is None:
        segments[-1] = (segments[-1][0], automatic)

    hasher = hashlib.blake2b(model_id.encode(), digest_size=12)
    tokens = 0
    breakpoints: list[Breakpoint] = []
    for text, ttl in segments:
        hasher.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        tokens += count_tokens(text)
        if ttl is not None:
            breakpoints.append(Breakpoint(hasher.copy().digest(), tokens, ttl))
    return PromptInfo(tokens + REQUEST_OVERHEAD_TOKENS, tuple(breakpoints), "\n".join(user_parts))


def schema_tokens(schema: dict[str, Any]) -> int:
    """Input tokens a json_schema output format adds (the schema and the hidden instructions)."""
    return count_tokens(json.dumps(schema, separators=(",", ":"))) + STRUCTURED_OUTPUT_OVERHEAD_TOKENS


def output_schema(params: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of ``output_config.format`` (GA) or ``output_format`` (the earlier beta name)."""
    for holder in (params.get("output_config"), params):
        if not isinstance(holder, dict):
            continue
        fmt = holder.get("format") if holder is not params else holder.get("output_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
            return fmt["schema"]
    return None


# -- reading the ticket --------------------------------------------------------------------------


_TOKEN = re.compile(r"\w[\w'’-]*")
_INJECTION = re.compile(
    r"ignore\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above|earlier)\s+instructions"
    r"|disregard\s+(?:all\s+)?(?:previous|prior|above)\s+instructions"
    r"|ignoriere\s+alle|ignorez\s+toutes|ignora\s+todas",
    re.IGNORECASE,
)
# One table for every keyword list, so a ticket's tokens are looked up once (100,000 tickets a create).
_LISTS = (*CATEGORY_WORDS, URGENT, CALM, ANGRY, NEGATIVE, POSITIVE, *(Words(*w) for w in STOPWORDS.values()))
_URGENT_I, _CALM_I, _ANGRY_I, _NEGATIVE_I, _POSITIVE_I = range(4, 9)
_LANGUAGE_INDEX = {lang: 9 + i for i, lang in enumerate(STOPWORDS)}
_TABLE: dict[str, tuple[int, ...]] = {}
for _index, _list in enumerate(_LISTS):
    for _word in _list.words:
        _TABLE[_word] = (*_TABLE.get(_word, ()), _index)
_PHRASES = tuple((phrase, index) for index, lst in enumerate(_LISTS) for phrase in lst.phrases)


def _count(tokens: list[str], lowered: str) -> list[int]:
    hits = [0] * len(_LISTS)
    for token, n in Counter(tokens).items():
        for index in _TABLE.get(token, ()):
            hits[index] += n
    for phrase, index in _PHRASES:
        if phrase in lowered:
            hits[index] += lowered.count(phrase)
    return hits


_SUBJECT = re.compile(
    r"^[ \t]*(?:subject|betreff|objet|sujet|asunto)[ \t]*:[ \t]*(?P<a>[^\n]+)"
    r"|<subject>(?P<b>.*?)</subject>"
    r"|\"subject\"\s*:\s*\"(?P<c>(?:[^\"\\]|\\.)*)\"",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


# an agent block ends where the customer's side speaks again: the requester or another end user (a CC)
_AGENT_BLOCK = re.compile(r"^\[agent\][^\n]*\n.*?(?=^\[customer\]|^\[end-user\]|^</ticket>|\Z)",
                          re.MULTILINE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the stand-in retains of one ticket (a few dozen bytes)."""

    subject: str
    language: str  # ISO 639-1
    category_scores: tuple[int, int, int, int]  # hits per CATEGORY_KEYS entry
    urgency: int  # 1 (outage) … 4 (thanks / question)
    sentiment: str  # positive | neutral | negative | angry
    injection: bool
    article: int | None = None  # the provided Help Center article that fits the ticket, cited in "sources"
    article_title: str = ""
    macro: int | None = None  # the offered macro that fits, named in "macro_id"


_NOT_UPPER = re.compile(r"[^A-ZÀ-ÖØ-Þ]+")
_NOT_LETTER = re.compile(r"[\W\d_]+")


def _shouting(raw_tokens: list[str], text: str) -> bool:
    if sum(1 for t in raw_tokens if len(t) >= 4 and t.isupper()) >= 3:
        return True
    letters = len(_NOT_LETTER.sub("", text))
    return letters >= 20 and len(_NOT_UPPER.sub("", text)) / letters > 0.5


def detect_language(text: str) -> str:
    """``de`` / ``fr`` / ``es`` / ``en`` by counting common words (``en`` on a tie)."""
    return _language(_count([t.lower() for t in _TOKEN.findall(text)], text.lower()))


def _language(hits: list[int]) -> str:
    counts = {lang: hits[index] for lang, index in _LANGUAGE_INDEX.items()}
    best = max(counts.values())
    if best == 0 or counts["en"] == best:
        return "en"
    return max(counts, key=lambda lang: counts[lang])


# the block zdtriage's prompt.articles_block puts before the ticket (issue 21)
_ARTICLE = re.compile(r'<article id="(\d{1,19})"[^>]*>\nTitle: ([^\n]*)\nText: ([^\n]*)\n</article>')
_MACRO = re.compile(r'<macro id="(\d{1,19})">\nTitle: ([^\n]*)\nText: ([^\n]*)\n</macro>')
ARTICLE_MIN_OVERLAP = 3  # distinct words of 4+ letters shared by the ticket and an article for it to "fit"
_ARTICLE_LINE = {
    "en": "You will find the details in our article “{title}”.",
    "de": "Die Einzelheiten finden Sie in unserem Artikel „{title}“.",
    "fr": "Vous trouverez les détails dans notre article « {title} ».",
    "es": "Encontrará los detalles en nuestro artículo «{title}».",
}


def _words(text: str) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(text) if len(t) >= 4 and not t.isdigit()}


def fitting_article(before_ticket: str, ticket_words: set[str], pattern: re.Pattern[str] = _ARTICLE,
                    ) -> tuple[int, str] | None:
    """The provided article (or macro, with ``pattern=_MACRO``) sharing the most words with the ticket, if it
    shares at least :data:`ARTICLE_MIN_OVERLAP` (a model uses an article that fits, and none that does not)."""
    best: tuple[int, int, str] | None = None
    for m in pattern.finditer(before_ticket):
        overlap = len(ticket_words & _words(f"{m.group(2)} {m.group(3)}"))
        if overlap >= ARTICLE_MIN_OVERLAP and (best is None or overlap > best[0]):
            best = (overlap, int(m.group(1)), m.group(2))
    return (best[1], best[2]) if best else None


def analyse(user_text: str) -> Analysis:
    """Read the ticket in ``user_text`` (see the module docstring for which part counts); Help Center articles
    given before it (``<article id=…>`` blocks) are read only to pick the one that fits."""
    match = _SUBJECT.search(user_text)
    if match:
        subject = next(g for g in match.group("a", "b", "c") if g is not None)
        text = user_text[match.start():]
    else:
        subject = next((line for line in user_text.splitlines() if line.strip()), "")
        text = user_text
    # Agent replies quoted in a thread ("[agent]" blocks) are not the customer's words.
    if "[agent]" in text:
        text = _AGENT_BLOCK.sub("", text)
    subject = " ".join(subject.split())
    if len(subject) > 80:
        subject = subject[:77].rsplit(" ", 1)[0] + "…"
    raw_tokens = _TOKEN.findall(text)
    lowered = text.lower()
    tokens = [t.lower() for t in raw_tokens]
    hits = _count(tokens, lowered)
    scores = (hits[0], hits[1], hits[2], hits[3])
    shouting = _shouting(raw_tokens, text)
    angry = hits[_ANGRY_I] > 0 or shouting or "!!!" in text
    negative = hits[_NEGATIVE_I] > 0 or scores[1] > 0
    if angry:
        sentiment = "angry"
    elif negative:
        sentiment = "negative"
    elif hits[_POSITIVE_I]:
        sentiment = "positive"
    else:
        sentiment = "neutral"
    if hits[_URGENT_I] or (angry and shouting):
        urgency = 1
    elif sentiment in ("negative", "angry") and (scores[0] or scores[1] or scores[2]):
        urgency = 2
    elif hits[_CALM_I] or "?" in text or (scores[3] and scores[3] >= max(scores)):
        urgency = 4
    else:
        urgency = 3
    fit = fitting_article(user_text[:match.start()], _words(text)) if match and "<article " in user_text else None
    macro = (
        fitting_article(user_text[: match.start()], _words(text), _MACRO) if match and "<macro " in user_text else None
    )
    return Analysis(
        subject=subject,
        language=_language(hits),
        category_scores=scores,
        urgency=urgency,
        sentiment=sentiment,
        injection=bool(_INJECTION.search(user_text)),
        article=fit[0] if fit else None,
        article_title=fit[1][:120] if fit else "",
        macro=macro[0] if macro else None,
    )


# -- answering ---------------------------------------------------------------------------------


def unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from ``parts`` (seeded choices, fault draws)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _category_key(analysis: Analysis) -> str:
    best = max(analysis.category_scores)
    if best == 0:
        return "other"
    return CATEGORY_KEYS[analysis.category_scores.index(best)]


def draft_reply(analysis: Analysis, key: str) -> str:
    """A short reply in the ticket's language that names its subject."""
    greetings, thanks, bodies, closing = DRAFTS.get(analysis.language, DRAFTS["en"])
    greeting = greetings[int(unit(key, "greeting") * len(greetings))]
    subject = analysis.subject or "your request"
    cited = ""
    if analysis.article is not None:
        cited = " " + _ARTICLE_LINE.get(analysis.language, _ARTICLE_LINE["en"]).format(title=analysis.article_title)
    return f"{greeting}\n\n{thanks.format(subject=subject)} {bodies[_category_key(analysis)]}{cited}\n\n{closing}"


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        node: Any = root
        if isinstance(ref, str) and ref.startswith("#/"):
            for part in ref[2:].split("/"):
                node = node.get(part, {}) if isinstance(node, dict) else {}
        schema, seen = node, seen + 1
    if isinstance(schema, dict):
        for combiner in ("anyOf", "oneOf", "allOf"):
            options = schema.get(combiner)
            if isinstance(options, list) and options:
                non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return _resolve((non_null or options)[0], root)
    return schema


def _pick_category(enum: list[Any], analysis: Analysis) -> Any:
    scores = dict(zip(CATEGORY_KEYS, analysis.category_scores, strict=True))
    best, best_score = None, 0
    for value in enum:
        key = CANONICAL_CATEGORIES.get(str(value).lower().replace("_", "-").replace(" ", "-"))
        if key is not None and scores[key] > best_score:
            best, best_score = value, scores[key]
    if best is not None:
        return best
    for value in enum:
        if str(value).lower() == "other":
            return value
    return enum[-1]


def _pick_level(enum: list[Any], level: int) -> Any:
    return enum[round((level - 1) * (len(enum) - 1) / 3)]


def _pick_sentiment(enum: list[Any], sentiment: str) -> Any:
    lowered = {str(v).lower(): v for v in enum}
    for label in {"angry": ("angry", "negative"), "positive": ("positive", "neutral")}.get(sentiment, (sentiment,)):
        if label in lowered:
            return lowered[label]
    return enum[0]


def _value(name: str, schema: Any, root: dict[str, Any], analysis: Analysis, key: str) -> Any:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return None
    lname = name.lower()
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        if "priorit" in lname or "urgen" in lname:
            return _pick_level(enum, analysis.urgency)
        if "categor" in lname or "topic" in lname:
            return _pick_category(enum, analysis)
        if "sentiment" in lname or "mood" in lname or "tone" in lname:
            return _pick_sentiment(enum, analysis.sentiment)
        if "lang" in lname and analysis.language in enum:
            return analysis.language
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return build_object(schema, root, analysis, key)
    if kind == "array":
        if "source" in lname and analysis.article is not None:
            return [analysis.article]  # the article the draft relies on, by the id it was given
        return []
    if kind == "boolean":
        return False
    if kind in ("number", "integer"):
        low = float(schema.get("minimum", 0))
        high = float(schema.get("maximum", 1 if "confiden" in lname else max(low, 0) + 100))
        if "confiden" in lname:
            sure = max(analysis.category_scores) > 0 and not analysis.injection
            share = 0.70 + 0.27 * unit(key, "confidence") if sure else 0.35 + 0.20 * unit(key, "confidence")
            value = low + (high - low) * share
            return round(value, 2) if kind == "number" else int(value)
        if "macro" in lname:
            return analysis.macro or 0
        return int(low) if kind == "integer" else low
    if kind == "string" or kind is None:
        if "lang" in lname:
            return analysis.language
        if any(word in lname for word in ("draft", "reply", "response", "answer", "message", "body")):
            return draft_reply(analysis, key)
        return analysis.subject or "n/a"
    return None


def build_object(schema: dict[str, Any], root: dict[str, Any], analysis: Analysis, key: str) -> dict[str, Any]:
    """An object with every property of ``schema`` (required or not), in schema order."""
    properties = schema.get("properties") or {}
    result = {name: _value(name, sub, root, analysis, key) for name, sub in properties.items()}
    for name in schema.get("required") or []:
        result.setdefault(name, None)
    return result


def _enum_properties(schema: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    found = []
    for name, sub in (schema.get("properties") or {}).items():
        sub = _resolve(sub, schema)
        if isinstance(sub, dict) and isinstance(sub.get("enum"), list) and sub["enum"]:
            found.append((name, sub["enum"]))
    return found


def _outside(enum: list[Any], candidates: list[Any]) -> Any:
    return next(c for c in candidates if c not in enum)


def answer_object(schema: dict[str, Any], analysis: Analysis, key: str, bad_enum: bool = False) -> dict[str, Any]:
    """The object the model returns for ``schema``.

    A prompt injection in the ticket is partly obeyed (priority ``P0`` or category ``vip``, values no
    configured list holds); ``bad_enum`` puts a near miss (wrong case, ``unknown``) in one enum field.
    """
    obj = build_object(schema, schema, analysis, key)
    enums = _enum_properties(schema)
    if analysis.injection and enums:
        by_name = {name.lower(): (name, enum) for name, enum in enums}
        target = next((by_name[n] for n in by_name if "priorit" in n), None)
        if target is not None:
            obj[target[0]] = _outside(target[1], ["P0", "P-1", "critical-vip"])
        else:
            target = next((by_name[n] for n in by_name if "categor" in n), enums[0])
            obj[target[0]] = _outside(target[1], ["vip", "VIP", "vip-customer"])
    if bad_enum and enums:
        name, enum = enums[int(unit(key, "bad_enum") * len(enums))]
        current = obj.get(name, enum[0])
        text = str(current)
        obj[name] = _outside(enum, [text.capitalize(), text.upper(), text.lower(), text + "s", "unknown", "unknown-2"])
    return obj


def answer_text(params_schema: dict[str, Any] | None, analysis: Analysis, key: str, fault: str | None = None,
                min_chars: int = 0) -> str:
    """The text of the single content block: compact JSON when a schema was given, else a draft.

    ``fault`` is ``"not_json"`` (fenced, prefixed or cut-off JSON), ``"bad_enum"``, or ``"long"``: the
    longest text field goes on and on, to at least ``min_chars`` characters of answer (a model that
    writes past ``max_tokens``).
    """
    if params_schema is None:
        return draft_reply(analysis, key) * (1 + min_chars // 40 if fault == "long" else 1)
    obj = answer_object(params_schema, analysis, key, bad_enum=fault == "bad_enum")
    if fault == "long":
        longest = max((k for k, v in obj.items() if isinstance(v, str)), key=lambda k: len(obj[k]), default=None)
        if longest is not None:
            value = obj[longest] or "..."
            obj[longest] = "\n\n".join([value] * (2 + min_chars // max(1, len(value))))
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if fault == "not_json":
        variant = int(unit(key, "not_json") * 3)
        if variant == 0:
            return f"```json\n{text}\n```"
        if variant == 1:
            return f"Here is the triage result:\n{text}"
        return text[: max(1, len(text) // 2)]
    return text
