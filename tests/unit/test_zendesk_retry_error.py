"""A retry policy that gives up (requests' RetryError) is one clear ZendeskUnavailable naming urllib3's reason.

requests' RetryError has no ``reason`` of its own (it wraps urllib3's MaxRetryError, which does): mypy found
the adapter reading ``exc.reason``, an AttributeError where a one-line error was meant."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import MaxRetryError, ResponseError

from zdtriage import zendesk, zendesk_http


def test_retry_error_becomes_zendesk_unavailable_with_the_reason() -> None:
    def give_up() -> None:
        cause = MaxRetryError(None, "/api/v2/tickets/show_many.json", ResponseError("too many 503 error responses"))
        raise requests.exceptions.RetryError(cause)

    with pytest.raises(zendesk.ZendeskUnavailable, match=r"^Zendesk kept failing: too many 503 error responses$"):
        zendesk_http._call(give_up)


def test_retry_error_without_a_cause_still_says_one_line() -> None:
    def give_up() -> None:
        raise requests.exceptions.RetryError("gave up")

    with pytest.raises(zendesk.ZendeskUnavailable, match=r"^Zendesk kept failing: gave up$"):
        zendesk_http._call(give_up)
