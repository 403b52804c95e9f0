"""Why a request got no answer, in words: the transport errors that are an outcome."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import urllib3.exceptions

from specsync.service.errors import SERVER_TEXT_LIMIT, printable, short_name


def tls_problem(error: BaseException) -> str:
    """What the TLS layer said (innermost ssl error), with the usual remedy."""
    reason = next(
        (str(cause) for cause in _causes(error) if isinstance(cause, ssl.SSLError)),
        short_name(error),
    )
    return (
        f"TLS error: {printable(reason)[:SERVER_TEXT_LIMIT]} (behind a proxy or private CA, "
        "set REQUESTS_CA_BUNDLE to its certificate bundle)"
    )


def never_connected(error: BaseException) -> str | None:
    """Why the connection never opened (so nothing was sent), or None if it may have."""
    for cause in _causes(error):
        if isinstance(
            cause, (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError)
        ):
            return None
    causes = list(_causes(error))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return "host name not found"
    for cause in causes:
        if isinstance(
            cause, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        ):
            return "could not connect"
    return None


def _causes(error: BaseException) -> Iterable[BaseException]:
    """The error, what it wraps (args, reason, cause, context), depth first, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(item for item in linked if isinstance(item, BaseException))
