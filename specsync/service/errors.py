"""The client's exceptions, and the wording of what went wrong.

Text that came from an exception or the server is made printable and cut short here; the
client redacts secrets from server text before it gets this far.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import urllib3.exceptions

from specsync.errors import UserError

_SERVER_TEXT_LIMIT = 300


class AuthError(UserError):
    """The API refused the credentials (401/403), or there are none: stop the whole run."""


class ConfigError(UserError):
    """The settings cannot work: a bad SPECSYNC_API_BASE, missing or unusable credentials."""


class MissingCredentialsError(ConfigError, AuthError):
    """No usable credentials: a configuration problem that also stops the run like an AuthError."""


class ClientError(Exception):
    """A request failed for another reason; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RenderRefused(ClientError):
    """The service answered a progress request with `success: false`.

    Not evidence that the render failed (docs/vendor.md): status polls again."""

    refused = True


# -- wording -------------------------------------------------------------------------------


def _status_text(status: int, text: str, code: str | None) -> str:
    """ "HTTP 400: invalid model (code 1002)"; no code part when it only repeats the status."""
    shown_code = f" (code {code})" if code and code != str(status) else ""
    return f"HTTP {status}: {text}{shown_code}"


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else " " for char in text).strip()


def _short(error: BaseException) -> str:
    return _printable(f"{type(error).__name__}")


def _tls_problem(error: BaseException) -> str:
    """What the TLS layer said (innermost ssl error), with the usual remedy."""
    reason = next(
        (str(cause) for cause in _causes(error) if isinstance(cause, ssl.SSLError)),
        _short(error),
    )
    return (
        f"TLS error: {_printable(reason)[:_SERVER_TEXT_LIMIT]} (behind a proxy or private CA, "
        "set REQUESTS_CA_BUNDLE to its certificate bundle)"
    )


def _never_connected(error: BaseException) -> str | None:
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
