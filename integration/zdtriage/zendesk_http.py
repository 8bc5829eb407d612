"""How the service reaches Zendesk: the errors every call can end in, the requests session (retries on reads,
429/401/403 turned into exceptions, the account-limit gate), the zenpy client built from the settings, and
:func:`raw`, the one caller of zenpy's private request methods. Network only: no database here.

Rate limits never block the caller: a 429 raises :class:`ZendeskRateLimited` with the ``Retry-After``
seconds, and the stage that called us ends and resumes from its saved cursor at its next run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

# zenpy and requests are imported where a client is made or used: commands that never call Zendesk
# (status, report, estimate, retry) do not pay for them (docs/benchmarks.md, start-up)
if TYPE_CHECKING:
    import requests
    from zenpy import Zenpy

from . import jsonfast
from .config import ZendeskConfig
from .zendesk_limit import Gate, install_gate

TIMEOUT = 30.0


class ZendeskError(Exception):
    """A Zendesk call failed; ``str()`` is one line, no secrets."""


class ZendeskRateLimited(ZendeskError):
    def __init__(self, retry_after: float, url: str) -> None:
        super().__init__(f"rate limited by Zendesk on {urlsplit(url).path}; retry after {retry_after:.0f}s")
        self.retry_after = retry_after


class ZendeskPaced(ZendeskRateLimited):
    """Not sent: our share of the account's API limit for this minute is spent, or what the account has left
    is its reserve (the gate of :func:`make_session` refused before the request). Handled as a 429 is."""

    def __init__(self, retry_after: float, why: str) -> None:
        ZendeskError.__init__(self, f"pacing on the account's shared Zendesk API limit ({why}); "
                                    f"next call in {retry_after:.0f}s")
        self.retry_after = retry_after


class ZendeskNotFound(ZendeskError):
    """404: the ticket was deleted (or never existed)."""


class ZendeskAuthError(ZendeskError):
    """401/403: the token is wrong, revoked, or lacks the rights (admin needed for exports)."""


class ZendeskUnavailable(ZendeskError):
    """5xx after retries, or the connection failed."""


class ZendeskTooRecent(ZendeskError):
    """422 InvalidValue: an export ``start_time`` inside Zendesk's last-minute window; nothing new yet."""


def _raise_for_limits(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    # runs inside requests for every response: zenpy would otherwise sleep through Retry-After
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("retry-after", "60"))
        except ValueError:
            retry_after = 60.0
        raise ZendeskRateLimited(max(retry_after, 1.0), response.url)
    if response.status_code == 403 and "/incremental/" in urlsplit(response.url).path:
        raise ZendeskAuthError(
            f"Zendesk refused the incremental export (403 on {urlsplit(response.url).path}): exports are for admins "
            "only; make the token's user (zendesk.email) an admin"
        )
    if response.status_code in (401, 403):
        raise ZendeskAuthError(
            f"Zendesk refused the credentials ({response.status_code} on {urlsplit(response.url).path}): "
            "check zendesk.email, the API token, and that the user is an admin"
        )
    return response


def make_session(on_call: Callable[[str, str, int], None] | None = None, gate: Gate | None = None) -> requests.Session:
    """A requests session: reads retried on 5xx with backoff, 429/401 turned into exceptions.

    ``on_call(method, url, status)`` (metrics) hears of every response, 429s included; the retries of a 5xx
    inside the session are not seen one by one. ``gate`` is asked before every request (it may refuse with
    :class:`ZendeskPaced`) and told the account's limit headers of every response."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    # only idempotent reads are retried here; a write that may have landed is checked by the pipeline
    retry = Retry(
        total=3,
        connect=2,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        # never sleep through a 429's Retry-After here: the hook raises ZendeskRateLimited and the stage
        # resumes from its cursor at its next run (urllib3 would otherwise wait inside this call)
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if on_call is not None:
        # before the hook that raises on a 429; a hook that returns None leaves the response as it is
        session.hooks["response"].append(lambda r, *args, **kwargs:
                                         on_call(str(r.request.method), r.url, r.status_code))
    if gate is not None:
        install_gate(session, gate)
    session.hooks["response"].append(_raise_for_limits)
    return session


def make_client(cfg: ZendeskConfig, on_call: Callable[[str, str, int], None] | None = None,
                gate: Gate | None = None) -> Zenpy:
    """Build the zenpy client from the settings (the one place that knows how to reach Zendesk);
    ``on_call`` and ``gate`` as for :func:`make_session`."""
    from zenpy import Zenpy

    session = make_session(on_call, gate)
    if cfg.url:
        # zenpy has no base-URL argument: only `domain=` (still https://<subdomain>.<domain>) and the
        # process-wide ZENPY_FORCE_SCHEME/NETLOC variables. This client's session sends its account's
        # URLs to zendesk.url instead, and leaves every other process and client alone
        rebase(session, f"https://{cfg.subdomain}.zendesk.com", cfg.url)
    # zenpy sends an oauth_token as "Authorization: Bearer", an API token as "<email>/token" basic auth
    credentials = {"oauth_token": cfg.token} if cfg.auth == "oauth" else {"email": cfg.email, "token": cfg.token}
    return Zenpy(
        subdomain=cfg.subdomain,
        **credentials,
        session=session,
        timeout=TIMEOUT,
        disable_cache=True,  # zenpy caches tickets for 30 s otherwise: we need fresh tags
    )


def rebase(session: requests.Session, origin: str, base: str) -> None:
    """Send ``session``'s requests for ``origin`` (``https://acme.zendesk.com``) to ``base`` (a simulator, a
    proxy) instead, path and query kept, and show every response as if ``origin`` had answered: zenpy only
    reads a response whose URL holds its account's host, and follows the ``next_page`` links ``base`` writes
    (absolute, with ``base``'s host) through the same adapter. The session's retry policy is kept."""
    origin, base = origin.rstrip("/"), base.rstrip("/")
    inner = session.get_adapter("https://")

    class Rebased(type(inner)):  # type: ignore[misc]  # an HTTPAdapter subclass made at run time
        def send(self, request: Any, **kwargs: Any) -> Any:
            shown = origin + request.url[len(base):] if request.url.startswith(base + "/") else request.url
            real = request.copy()
            real.url = base + shown[len(origin):]
            response = super().send(real, **kwargs)
            request.url = shown
            response.request, response.url = request, shown
            return response

    adapter = Rebased(max_retries=inner.max_retries, pool_maxsize=4)  # type: ignore[attr-defined]  # an HTTPAdapter
    session.mount(origin + "/", adapter)
    session.mount(base + "/", adapter)


def raw(client: Zenpy, method: str, target: Any, *, api: Any = None, payload: dict[str, Any] | None = None
        ) -> requests.Response:
    """One request through zenpy's URL building, session and error checks, answered as the plain response.

    The one place that calls zenpy's private ``_build_url``/``_get``/``_call_api``. zenpy's public calls turn
    every ticket, event and job of a page into API objects (each constructor a JSON round trip: about 0.25 s
    of CPU per 1,000-ticket page, bench/README.md figure 2) and have no call for some endpoints we need
    (a trigger PUT with conditions and actions, the article export's raw pages). ``target`` is a zenpy
    endpoint, or an absolute URL (a ``next_page``), or a path below ``/api/v2/``; ``api`` the zenpy API
    object whose endpoint it is (default: tickets). Zendesk's errors become :class:`ZendeskError`.
    """
    api = api or client.tickets
    if isinstance(target, str):
        url = target if "://" in target else f"https://{api.base_url}/api/v2/{target.lstrip('/')}"
    else:
        url = api._build_url(target)
    if method == "GET":
        return cast("requests.Response", _call(api._get, url, raw_response=True))  # zenpy is untyped
    send = {"PUT": api.session.put, "POST": api.session.post}[method]
    return cast("requests.Response", _call(api._call_api, send, url, json=payload, timeout=api.timeout))


def _connection_reason(exc: BaseException) -> str:
    """`` at <host>: <DNS or TLS reason>`` for a failed request (issue 20: a wrong subdomain must say which host)."""
    from .netreason import connection_reason

    request = getattr(exc, "request", None)
    host = urlsplit(str(getattr(request, "url", "") or "")).hostname
    return f"{f' at {host}' if host else ''}: {connection_reason(exc)}"


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import requests
    from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

    def _path(exc: Exception) -> str:
        # the path only: a query string can hold a hundred ids, useless in a one-line error
        url = getattr(getattr(exc, "response", None), "url", None)
        return urlsplit(str(url)).path if url else "a Zendesk URL"

    try:
        return fn(*args, **kwargs)
    except ZendeskError:
        raise
    except RecordNotFoundException as exc:
        # zenpy raises this for any 404 RecordNotFound (a deleted ticket, an expired job status, a user):
        # the caller decides what a missing record means, but it never sees a zenpy exception (issue 23 item 4)
        raise ZendeskNotFound(f"Zendesk answered 404 on {_path(exc)}: record not found") from None
    except requests.exceptions.RetryError as exc:
        reason = getattr(exc.args[0], "reason", exc) if exc.args else exc  # urllib3's MaxRetryError knows why
        raise ZendeskUnavailable(f"Zendesk kept failing: {reason}") from None
    except requests.exceptions.RequestException as exc:
        raise ZendeskUnavailable(f"cannot reach Zendesk{_connection_reason(exc)}") from None
    except APIException as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", "?")
        if status == 422 and "too recent" in str(exc).lower():
            raise ZendeskTooRecent("export start_time is too recent") from None
        if isinstance(status, int) and status >= 500:
            raise ZendeskUnavailable(f"Zendesk answered {status}") from None
        if status == 404:
            raise ZendeskNotFound(f"Zendesk answered 404 on {_path(exc)}: not found") from None
        raise ZendeskError(f"Zendesk answered {status}: {str(exc)[:300]}") from None
    except ZenpyException as exc:
        raise ZendeskError(f"zenpy: {str(exc)[:300]}") from None


def _get_page(client: Zenpy, endpoint: Any, api: Any = None) -> dict[str, Any]:
    """GET one page as plain JSON, through zenpy's URL building, session and error checks.

    zenpy would turn every ticket and event of the page into API objects (each constructor does a
    JSON round trip), about 0.25 s of CPU per 1,000-ticket page; the exports need only plain fields,
    so the body is read as it is (about a tenth of the CPU; bench/README.md, figure 2).
    """
    return json_body(raw(client, "GET", endpoint, api=api))


def json_body(response: requests.Response) -> dict[str, Any]:
    """A response's JSON object, or a one-line :class:`ZendeskError` for a body that is not one."""
    try:  # what orjson refuses is read by requests as before (its charset rules included)
        body = jsonfast.loads(response.content, response.json)
    except ValueError:
        raise ZendeskError(f"Zendesk answered {response.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise ZendeskError(f"Zendesk answered {response.status_code} with an unexpected body")
    return body
