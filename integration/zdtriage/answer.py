"""The model's answer, defined once: a pydantic model built from the configured lists (pure).

Its JSON schema is what goes into ``output_config`` (structured output), and the same model validates the
answer that comes back, with the rules the schema cannot say: values matched case-insensitively onto the
configured spelling, ``language`` an ISO 639-1 code (else dropped), ``confidence`` a number from 0 to 1
(the API's structured output does not support ``minimum``/``maximum``, DESIGN §7), ``draft`` cleaned and cut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, field_validator

from .config import TriageConfig
from .text import clean_text

MAX_DRAFT_CHARS = 8000
_LANG = re.compile(r"^[a-z]{2}$")
_FIELDS = ("priority", "category", "sentiment", "language", "confidence", "draft", "sources")
MAX_SOURCES = 10


class _Answer(BaseModel):
    """Shared rules; the enumerated fields are added per configuration by :func:`answer_model`."""

    # extra keys are dropped, never written; the schema still forbids them, so the API never sends one
    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False})
    lists: ClassVar[dict[str, tuple[str, ...]]] = {}

    language: str | None = Field(default=None, description="ISO 639-1 code of the customer's language")
    confidence: float = Field(description="0 to 1")
    draft: str
    sources: list[int] = Field(default_factory=list,
                               description="ids of the provided Help Center articles the draft relies on; [] if none")

    @field_validator("priority", "category", "sentiment", mode="before", check_fields=False)
    @classmethod
    def _configured_spelling(cls, value: Any, info: Any) -> Any:
        # "p2 " or "Billing" is the configured value; anything else fails the Literal check below
        if isinstance(value, str):
            for option in cls.lists[info.field_name]:
                if value.strip().lower() == option.lower():
                    return option
        return value

    @field_validator("language", mode="before")
    @classmethod
    def _iso_639_1(cls, value: Any) -> str | None:
        if isinstance(value, str) and _LANG.match(value.strip().lower()):
            return value.strip().lower()
        return None  # a language we cannot name is left out, not a reason to refuse the answer

    @field_validator("confidence", mode="before")
    @classmethod
    def _unit_interval(cls, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError("confidence is not a number from 0 to 1")
        return float(value)

    @field_validator("sources", mode="before")
    @classmethod
    def _article_ids(cls, value: Any) -> list[int]:
        # a bad id is dropped, never a reason to refuse the answer: the validator keeps only provided ids anyway
        if not isinstance(value, list):
            return []
        ids = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        return list(dict.fromkeys(ids))[:MAX_SOURCES]

    @field_validator("draft", mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("draft is empty")
        draft = clean_text(value)[:MAX_DRAFT_CHARS]
        if not draft:
            raise ValueError("draft is empty once cleaned")
        return draft


def _macro_id(value: Any) -> int:
    # 0 (no macro) for anything that is not a whole number: a bad suggestion never refuses the answer
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@lru_cache(maxsize=16)
def _model_for(priorities: tuple[str, ...], categories: tuple[str, ...], sentiments: tuple[str, ...],
               macros: bool = False) -> type[_Answer]:
    lists = {"priority": priorities, "category": categories, "sentiment": sentiments}
    fields: dict[str, Any] = {name: (Literal[values], ...) for name, values in lists.items()}
    if macros:  # triage.suggest_macros
        fields["macro_id"] = (Annotated[int, BeforeValidator(_macro_id)],
                              Field(default=0, description="id of the provided macro an agent could apply; 0 if none"))
    model = create_model("TriageAnswer", __base__=_Answer, **fields)
    model.lists = lists
    return model


def answer_model(triage: TriageConfig) -> type[_Answer]:
    """The answer model for the configured priorities, categories and sentiments (cached)."""
    return _model_for(tuple(triage.priorities), tuple(triage.categories), tuple(triage.sentiments),
                      triage.suggest_macros)


def _api_subset(node: Any) -> Any:
    # pydantic adds "title" to every node and a "default"/"anyOf" for optional fields; the structured
    # output API takes a small subset of JSON schema (DESIGN §7), so keep the schema to that subset
    if isinstance(node, dict):
        if "anyOf" in node:  # str | None → a string (None is what validation makes of a bad code)
            kinds = [n for n in node["anyOf"] if n.get("type") != "null"]
            node = {**kinds[0], **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
        return {k: _api_subset(v) for k, v in node.items() if k not in ("title", "default")}
    if isinstance(node, list):
        return [_api_subset(v) for v in node]
    return node


@lru_cache(maxsize=16)
def _schema_for(model: type[_Answer]) -> str:
    schema = _api_subset(model.model_json_schema())
    names = _fields(model)
    schema["properties"] = {name: schema["properties"][name] for name in names}
    schema["required"] = list(names)
    return json.dumps(schema)


def _fields(model: type[_Answer]) -> tuple[str, ...]:
    return (*_FIELDS, "macro_id") if "macro_id" in model.model_fields else _FIELDS


def answer_schema(triage: TriageConfig) -> dict[str, Any]:
    """The JSON schema for ``output_config`` (DESIGN §5), generated from :func:`answer_model`."""
    schema: dict[str, Any] = json.loads(_schema_for(answer_model(triage)))
    return schema


def validate_answer(
    text: str,
    triage: TriageConfig,
    *,
    stop_reason: str | None = None,
    provided: Collection[int] = (),
    macros: Collection[int] = (),
) -> tuple[dict[str, Any] | None, str | None]:
    """Answer text → ``(answer, None)`` if valid, else ``(None, reason)``. Never raises.

    ``sources`` keeps only the ids of ``provided`` (the articles the request held): an id the model made up,
    or one of another ticket, is dropped and never reaches a note. Likewise ``macro_id`` (with
    ``triage.suggest_macros``) becomes 0 unless it is one of ``macros``."""
    if stop_reason == "max_tokens":
        return None, "answer cut at max_tokens"
    if stop_reason == "refusal":
        return None, "the model refused to answer"
    model = answer_model(triage)
    valid = _valid_json(model, text)
    if valid is None:  # refused (or read differently) by pydantic's own parser: the reasons come from json.loads
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            return None, "answer is not JSON"
        if not isinstance(data, dict):
            return None, "answer is not a JSON object"
        try:
            valid = model.model_validate(data).model_dump()
        except ValidationError as exc:
            return None, _reason(exc, data)
        except RecursionError:
            return None, "answer is nested too deeply"
    answer = {name: valid[name] for name in _fields(model)}
    answer["sources"] = [i for i in answer["sources"] if i in set(provided)]
    if "macro_id" in answer and answer["macro_id"] not in set(macros):
        answer["macro_id"] = 0
    return answer, None


def _valid_json(model: type[_Answer], text: Any) -> dict[str, Any] | None:
    """The answer validated straight from its text (issue 22: json.loads and then model_validate were a fifth
    of poll's CPU), or None for anything pydantic's parser refuses. What it accepts, json.loads reads the same
    way; what it refuses (a BOM, a lone surrogate, NaN where a number is checked, deep nesting, a bad field)
    goes through json.loads again, so the reason given is unchanged."""
    if not isinstance(text, str):
        return None
    try:
        return model.model_validate_json(text).model_dump()
    except (ValidationError, ValueError, RecursionError):
        return None


def _shown(value: Any) -> str:
    """A short, safe rendering of a refused value (hostile text, a huge number, a deep structure)."""
    if isinstance(value, str):
        return json.dumps(clean_text(value)[:30], ensure_ascii=True)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"


def _reason(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line naming the first bad field, with the value shown short (it may be hostile text)."""
    errors = exc.errors(include_url=False)
    error = min(errors, key=lambda e: _FIELDS.index(e["loc"][0]) if e["loc"] and e["loc"][0] in _FIELDS else 99)
    field = str(error["loc"][0]) if error["loc"] else "answer"
    if error["type"] == "literal_error":
        return f"{field} {_shown(data.get(field))} is not one of the configured values"
    if error["type"] == "missing":
        return f"{field} is missing"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return message if field in message else f"{field}: {message}"
