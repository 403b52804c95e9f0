"""The client's exceptions, and the wording of what went wrong.

Text that came from an exception or the server is made printable and cut short here; the
client redacts secrets from server text before it gets this far.
"""

from __future__ import annotations

from specsync.errors import UserError

SERVER_TEXT_LIMIT = 300


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


def status_text(status: int, text: str, code: str | None) -> str:
    """ "HTTP 400: invalid model (code 1002)"; no code part when it only repeats the status."""
    shown_code = f" (code {code})" if code and code != str(status) else ""
    return f"HTTP {status}: {text}{shown_code}"


def printable(text: str) -> str:
    return "".join(char if char.isprintable() else " " for char in text).strip()


def short_name(error: BaseException) -> str:
    return printable(f"{type(error).__name__}")
