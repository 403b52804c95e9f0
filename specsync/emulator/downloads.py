"""Download links: signed, expiring URLs of a project's video, and byte ranges of it.

The real service hands out short-lived download URLs, fetched without the API key (the
vendor's sample does). The emulator's links carry their expiry and a signature in the
query, so any emulator process can check them without shared state: a link that was
tampered with is 403, one past its expiry is 410.

Range requests (RFC 9110 section 14) are served for one range; several ranges, or a header
that does not parse, are ignored and the whole file is sent, as the RFC allows. Written by
hand: http.server has no Range support and one range needs a dozen lines.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from specsync.emulator.ids import same_text, sign

DOWNLOAD_PREFIX = "/downloads/"
# At most 18 digits: any real offset fits, and int() of a 5,000-digit number raises.
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


class RangeNotSatisfiable(Exception):
    """The one range asked for lies wholly outside the file (416)."""


def signed_path(project_id: str, expires: float) -> str:
    stamp = f"{round(expires * 1000):x}"
    signature = sign(f"download:{project_id}:{stamp}")
    return f"{DOWNLOAD_PREFIX}{project_id}.mp4?expires={stamp}&signature={signature}"


def link_problem(project_id: str, query: str, now: float) -> tuple[int, str] | None:
    """(status, message) when this query does not make a valid, live link; else None."""
    fields = parse_qs(query)
    stamp = (fields.get("expires") or [""])[0]
    signature = (fields.get("signature") or [""])[0]
    expected = sign(f"download:{project_id}:{stamp}")
    if not stamp or not same_text(signature, expected):
        return 403, "this download link is not valid: ask the progress endpoint for a new one"
    try:
        expires = int(stamp, 16) / 1000
    except ValueError:
        return 403, "this download link is not valid: ask the progress endpoint for a new one"
    if now >= expires:
        return 410, "this download link has expired: ask the progress endpoint for a new one"
    return None


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte asked for, or None to send the whole file."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # several ranges or another unit: ignoring Range is always allowed
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # not a valid range: ignored
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)
