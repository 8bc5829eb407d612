"""Why a connection failed, in a few words an admin can act on (the DNS or TLS reason, a refusal, a timeout).

requests and httpx both wrap the socket's own error two or three levels deep (requests → urllib3
MaxRetryError → NameResolutionError → socket.gaierror; anthropic → httpx.ConnectError → httpcore →
ssl.SSLCertVerificationError); their outer messages say only "ConnectionError" or "Connection error.".
Network only: imported by zendesk.py and batches.py, never by the store.
"""

from __future__ import annotations

import socket
import ssl


def _causes(exc: BaseException) -> list[BaseException]:
    # breadth first through __cause__, __context__, urllib3's .reason and exceptions passed as arguments
    seen: set[int] = set()
    found: list[BaseException] = []
    queue: list[object] = [exc]
    while queue:
        item = queue.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        queue += [getattr(item, "reason", None), item.__cause__, item.__context__, *getattr(item, "args", ())]
    return found


def connection_reason(exc: BaseException) -> str:
    """The cause of a failed connection as a short phrase, e.g. ``DNS lookup failed (Name or service not
    known)`` or ``TLS certificate not trusted (self-signed certificate)``; the exception's type name when
    nothing more precise is found. Never includes a URL's credentials or a header."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message or cause.reason})"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or type(cause).__name__})"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed ({cause.strerror or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens on that port)"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the other end"
    for cause in causes:
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
            return "timed out"
    for cause in causes:  # urllib3 2 and httpcore name some causes only in their text
        text = str(cause)
        if (
            "Name or service not known" in text
            or "nodename nor servname" in text
            or "Temporary failure in name" in text
        ):
            return f"DNS lookup failed ({text.rpartition('] ')[2][:120]})"
    return type(causes[-1]).__name__
