"""Where the client connects and with what: the API base URL and the credentials.

Both come from the environment and are checked before any request: plain http only to a
loopback address (anywhere else the key would travel unencrypted), and only credentials
that can be sent in an HTTP header, refused without being shown.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from specsync.service.errors import ConfigError, MissingCredentialsError

DEFAULT_API_BASE = "https://app.aistudios.com"

API_KEY_ENV = "AISTUDIOS_API_KEY"
APP_ID_ENV = "AISTUDIOS_APP_ID"
USER_KEY_ENV = "AISTUDIOS_USER_KEY"
API_BASE_ENV = "SPECSYNC_API_BASE"


@dataclass(frozen=True)
class Credentials:
    """Either an API key, or an app id and user key that are exchanged for a token."""

    api_key: str | None = None
    app_id: str | None = None
    user_key: str | None = None

    def __repr__(self) -> str:
        def shown(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"Credentials(api_key={shown(self.api_key)}, app_id={shown(self.app_id)}, "
            f"user_key={shown(self.user_key)})"
        )

    @property
    def uses_token(self) -> bool:
        return not self.api_key and bool(self.app_id and self.user_key)


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    """AISTUDIOS_API_KEY, else AISTUDIOS_APP_ID + AISTUDIOS_USER_KEY; ConfigError when neither."""
    api_key = (env.get(API_KEY_ENV) or "").strip()
    app_id = (env.get(APP_ID_ENV) or "").strip()
    user_key = (env.get(USER_KEY_ENV) or "").strip()
    if api_key:
        credentials = Credentials(api_key=api_key)
    elif app_id and user_key:
        credentials = Credentials(app_id=app_id, user_key=user_key)
    elif app_id or user_key:
        missing = USER_KEY_ENV if app_id else APP_ID_ENV
        present = APP_ID_ENV if app_id else USER_KEY_ENV
        raise MissingCredentialsError(
            f"{present} is set but {missing} is not: set both, or set {API_KEY_ENV}"
        )
    else:
        raise MissingCredentialsError(
            f"no API credentials: set {API_KEY_ENV}, or {APP_ID_ENV} and {USER_KEY_ENV}, "
            "in the environment. No account yet? `specsync apply --emulator` tries the whole "
            "job on the built-in emulator; `specsync doctor` checks the rest of the setup"
        )
    check_credentials(credentials)
    return credentials


def api_base_from_env(env: Mapping[str, str]) -> str:
    """SPECSYNC_API_BASE (checked) or the real service's address."""
    value = (env.get(API_BASE_ENV) or "").strip()
    return checked_api_base(value, source=API_BASE_ENV) if value else DEFAULT_API_BASE


def checked_api_base(url: str, *, source: str = "the API base URL") -> str:
    """The URL without a trailing slash; ConfigError unless https, or http to loopback."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise ConfigError(f"{source} is not a valid URL: {_shown_url(url)} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{source} must be an http(s) URL such as {DEFAULT_API_BASE}: {_shown_url(url)}"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{source} must not hold a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"{source} must not have a query or fragment: {_shown_url(url)}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{source} uses plain http to {parts.hostname}, which would send the API key "
            "unencrypted: use https (plain http is allowed only for loopback addresses)"
        )
    return url.rstrip("/")


def _shown_url(url: str) -> str:
    """The URL for an error message, without user info, query or fragment: a key pasted
    into SPECSYNC_API_BASE must not be printed back."""
    text = url.split("#", 1)[0].split("?", 1)[0]
    scheme, separator, rest = text.partition("://")
    if separator:
        authority, slash, path = rest.partition("/")
        text = f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
    else:
        text = text.rpartition("@")[2]
    return repr("".join(char if char.isprintable() else "?" for char in text))


def is_loopback_host(host: str) -> bool:
    """True when `host` is a loopback address, or a `localhost` name that resolves to
    loopback addresses only.

    Decided by address, not by name: a resolver may answer `x.localhost` with a public
    address, and the key would then travel in clear. Other names are never looked up
    (and never count as loopback), so checking a remote URL makes no network request.
    """
    name = host.strip("[]").lower().rstrip(".")
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        pass
    return bool(loopback_addresses(name))


def is_localhost_name(host: str) -> bool:
    """`localhost` or a name under it (not an address literal)."""
    name = host.strip("[]").lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def pinned_addresses(base_url: str) -> list[str]:
    """The checked addresses to connect to for the base's host ([] when it is not a
    `localhost` name); ConfigError when such a name no longer resolves to loopback only."""
    host = urlsplit(base_url).hostname or ""
    if not is_localhost_name(host):
        return []
    addresses = loopback_addresses(host)
    if not addresses:
        raise ConfigError(
            f"{host} does not resolve to loopback addresses only: refusing to send the key to it"
        )
    return addresses


def loopback_addresses(host: str) -> list[str]:
    """The addresses a `localhost` name resolves to, when all are loopback; else [].

    An address literal or any other name gives [] (nothing to pin). The client connects
    to these for the whole run: a name resolved again per request could answer with
    another address once checked (DNS rebinding).
    """
    name = host.strip("[]").lower().rstrip(".")
    if not is_localhost_name(name):
        return []
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        addresses = sorted({str(info[4][0]).split("%", 1)[0] for info in infos})
        loopback = all(ipaddress.ip_address(address).is_loopback for address in addresses)
    except (OSError, UnicodeError, ValueError):
        return []
    return addresses if addresses and loopback else []


def check_credentials(credentials: Credentials) -> None:
    if not credentials.api_key and not (credentials.app_id and credentials.user_key):
        raise MissingCredentialsError(
            f"no API credentials: set {API_KEY_ENV}, or {APP_ID_ENV} and {USER_KEY_ENV}, "
            "in the environment. No account yet? `specsync apply --emulator` tries the whole "
            "job on the built-in emulator; `specsync doctor` checks the rest of the setup"
        )
    for name, value in (
        (API_KEY_ENV, credentials.api_key),
        (APP_ID_ENV, credentials.app_id),
        (USER_KEY_ENV, credentials.user_key),
    ):
        # A line break or non-ASCII character makes requests fail with the value in the
        # message; refuse it here, without showing it.
        if value and not all(" " < char < "\x7f" for char in value):
            raise ConfigError(
                f"{name} holds a space, line break or non-ASCII character, which cannot "
                "be sent in an HTTP header: check the value"
            )
