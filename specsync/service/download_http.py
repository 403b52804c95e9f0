"""HTTP for downloads: the session, the checked URL, the GET and what its answer promises.

Download URLs are signed, short-lived links on a host that is not the API's, so the
request carries nothing of ours: a session of its own, no Authorization header, no
cookies, no `~/.netrc` (requests would read it for a request without auth), and redirects
are followed by hand, each checked like the first URL (https, or plain http to loopback).
The session's connections keep the download's deadline and stop (download_stop).
"""

from __future__ import annotations

import http.cookiejar
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from specsync.service.credentials import is_loopback_host
from specsync.service.download_errors import DownloadError, StaleLink, Unreachable
from specsync.service.http.connection import DeadlineAdapter

MAX_REDIRECTS = 5
# An expired or tampered link: the progress endpoint hands out a fresh one.
STALE_LINK_STATUSES = (403, 404, 410)
_CONTENT_RANGE = re.compile(r"bytes (\d{1,18})-(\d{1,18})/(\d{1,18}|\*)\Z")


def shown_url(url: str) -> str:
    """scheme://host/path of a URL, for messages: its query holds the link's signature."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    text = f"{parts.scheme}://{host}{port}{parts.path}"
    return "".join(char if char.isprintable() else "?" for char in text)[:200]


def check_download_url(url: str) -> str:
    """The URL when it may be fetched: https, or plain http to a loopback address; anything
    else (file://, plain http elsewhere, user info) raises DownloadError before a request."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise DownloadError(f"the download URL is not a valid URL: {shown_url(url)}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise DownloadError(
            f"refused the download URL {shown_url(url)}: only https (or http to loopback) "
            "is fetched"
        )
    if parts.username is not None or parts.password is not None:
        raise DownloadError(f"refused the download URL {shown_url(url)}: it holds a user name")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise DownloadError(
            f"refused the download URL {shown_url(url)}: plain http to a host that is not "
            "loopback (use https)"
        )
    return url


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # An auth callable keeps requests from adding credentials from ~/.netrc.
    request.headers.pop("Authorization", None)
    return request


def download_session() -> requests.Session:
    """A plain session for download hosts: no auth, no cookies, no automatic retries.

    Proxy and CA settings from the environment (HTTPS_PROXY, REQUESTS_CA_BUNDLE) still apply.
    """
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.auth = _no_auth
    # Identity encoding: the bytes counted against Content-Length are the file's bytes.
    session.headers = requests.structures.CaseInsensitiveDict(
        {"User-Agent": "specsync", "Accept": "*/*", "Accept-Encoding": "identity"}
    )
    # Its connections keep the download's deadline and can be cut (download_stop), also
    # behind an HTTP(S) proxy.
    adapter = DeadlineAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def get(
    session: requests.Session,
    url: str,
    timeouts: tuple[float, float],
    offset: int,
    binding: dict[str, Any] | None,
) -> requests.Response:
    """GET with redirects followed by hand (each hop checked); raises StaleLink/DownloadError.

    A resumed GET carries If-Range with the part's validator: a host whose file changed
    answers with the whole new file (200), never with a piece of it."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    condition = validator(binding) if offset else None
    if condition:
        headers["If-Range"] = condition
    for _ in range(MAX_REDIRECTS + 1):
        check_download_url(url)
        try:
            response = session.get(
                url,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=timeouts,
            )
        except requests.exceptions.RequestException as error:
            raise Unreachable(
                f"could not fetch {shown_url(url)}: {network_problem(error)}"
            ) from None
        if response.is_redirect:
            location = response.headers.get("Location") or ""
            response.close()
            url = urljoin(url, location)
            continue
        if response.status_code in STALE_LINK_STATUSES:
            response.close()
            raise StaleLink(response.status_code)
        if response.status_code not in (200, 206) and not (offset and response.status_code == 416):
            response.close()
            raise DownloadError(f"the download host answered HTTP {response.status_code}")
        return response
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects; gave up")


def validator(binding: dict[str, Any] | None) -> str | None:
    if binding is None:
        return None
    etag = binding.get("etag")
    if isinstance(etag, str) and etag and not etag.startswith("W/") and etag.isprintable():
        return etag
    modified = binding.get("lastModified")
    return modified if isinstance(modified, str) and modified.isprintable() else None


class BadRange(DownloadError):
    """A 206 for other bytes than asked: the part is not resumed."""


def body_plan(response: requests.Response, offset: int) -> tuple[int, int | None]:
    """(where the body starts in the file, the file's whole length when announced)."""
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise DownloadError(f"the video came compressed (Content-Encoding: {encoding[:40]})")
    length = _content_length(response)
    if response.status_code == 200:
        return 0, length
    match = _CONTENT_RANGE.match((response.headers.get("Content-Range") or "").strip())
    if match is None or not offset:
        raise DownloadError("the download host answered 206 without a usable Content-Range")
    first, last, whole = match.groups()
    total = None if whole == "*" else int(whole)
    if int(first) != offset or (total is not None and int(last) != total - 1):
        raise BadRange(
            f"the download host sent bytes {first}-{last} when asked for {offset}-; the "
            "partial file was removed, the next pull starts over"
        )
    if length is not None and length != int(last) - int(first) + 1:
        raise DownloadError("Content-Length and Content-Range of the answer disagree")
    return offset, total


def _content_length(response: requests.Response) -> int | None:
    value = (response.headers.get("Content-Length") or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise DownloadError("the download host sent an unreadable Content-Length")
    return int(value)


def network_problem(error: BaseException) -> str:
    """What went wrong, without the URL (its query is the link's signature)."""
    if isinstance(error, (requests.exceptions.ConnectTimeout,)):
        return "connect timeout"
    if isinstance(error, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return "no data within the read timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error (certificate?)"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "connection failed or broke"
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return "the connection broke (body shorter than announced)"
    return type(error).__name__
