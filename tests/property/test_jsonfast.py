"""``jsonfast.loads`` (orjson, then ``json`` for what orjson refuses) reads every body ``json`` reads, to the same
value, and refuses what ``json`` refuses (issue 22: the export pages are parsed by orjson now)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from zdtriage import jsonfast, zendesk_http
from zdtriage.zendesk_http import ZendeskError

# text with lone surrogates (hostile tickets hold them; orjson refuses their escapes), NaN and infinities (``json``
# writes and reads them; orjson refuses them), every 64-bit integer; deep nesting and wider integers below
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(st.characters(codec=None)))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(st.characters(codec=None), max_size=5), inner, max_size=4),
                      max_leaves=20)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same types (1 is not 1.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(VALUES, st.booleans(), st.booleans())
def test_reads_what_json_reads_to_the_same_value(value: Any, ascii_only: bool, as_bytes: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    data: bytes | str = text.encode("utf-8", "surrogatepass") if as_bytes and ascii_only else text
    assert _same(jsonfast.loads(data), json.loads(data))


@pytest.mark.parametrize("data", [b'["\\ud800"]', b"[NaN, -Infinity]",
                                  b"[" * 2000 + b"]" * 2000, b'\xef\xbb\xbf{"bom": 1}', b'{"a": 1, "a": 2}'])
def test_what_orjson_refuses_goes_to_json(data: bytes) -> None:
    try:
        expected = json.loads(data)
    except RecursionError:
        with pytest.raises(RecursionError):
            jsonfast.loads(data)
        return
    assert _same(jsonfast.loads(data), expected)


def test_an_integer_past_64_bits_becomes_the_nearest_float() -> None:
    # the one difference from ``json`` (module docstring): Zendesk's ids are signed 64-bit
    assert jsonfast.loads(b"[18446744073709551616]") == [float(2**64)]
    assert jsonfast.loads(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b'{"a": }', b"\xff\xfe"])
def test_what_json_refuses_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(data)
    with pytest.raises(ValueError):
        jsonfast.loads(data)


def _response(body: bytes, content_type: str = "application/json; charset=utf-8") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


def test_a_page_is_parsed_by_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: Any, **__: Any) -> Any:
        raise AssertionError("the standard library parsed a plain page")

    monkeypatch.setattr(json, "loads", refused)
    monkeypatch.setattr(requests.Response, "json", refused)
    page = zendesk_http.json_body(_response('{"tickets": [{"subject": "Grüße 🚀"}], "end_of_stream": true}'
                                            .encode()))
    assert page == {"tickets": [{"subject": "Grüße 🚀"}], "end_of_stream": True}


def test_a_page_orjson_refuses_is_read_by_requests_as_before() -> None:
    body = b'{"tickets": [{"subject": "half a pair \\ud83d"}]}'
    assert zendesk_http.json_body(_response(body)) == {"tickets": [{"subject": "half a pair \ud83d"}]}
    with pytest.raises(ZendeskError, match="not JSON"):
        zendesk_http.json_body(_response(b"<html>maintenance</html>", "text/html"))
    with pytest.raises(ZendeskError, match="unexpected body"):
        zendesk_http.json_body(_response(b"[1, 2]"))
