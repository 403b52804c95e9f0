"""A server's reply: its body read within size and time caps, and its JSON envelope."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

# Answers larger than this are cut off: a hostile or broken server cannot exhaust memory.
MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @functools.cached_property
    def parsed(self) -> Any:
        """The body as JSON (None when it is not): parsed once, however many readers."""
        return _json_or_none(self.body)


class SlowAnswer(TimeoutError):
    """The answer trickled in for longer than the read timeout allows in total."""


def read_capped(response: requests.Response, seconds: float) -> bytes:
    """At most MAX_RESPONSE_BYTES of the body, within `seconds` in all.

    The read timeout alone bounds each socket read, not a body sent a byte at a time.
    """
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    for chunk in _body_pieces(response, 64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            break
        if time.monotonic() > deadline:
            raise SlowAnswer
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _body_pieces(response: requests.Response, size: int) -> Iterator[bytes]:
    """The decoded body in pieces as they arrive.

    urllib3 2's read1 returns what has arrived (decompressing at most `size` bytes at a
    time); plain read, and so iter_content, waits until `size` bytes have come, so a
    trickle would be noticed only at its end. urllib3 without read1 falls back to that.
    """
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(chunk_size=size)
        return
    while True:
        piece = read1(size, decode_content=True)
        if not piece:
            return
        yield piece


class NumberText(str):
    """A JSON number kept as the text it was sent as (too long for `int`, or a float).

    Python's json refuses integers of more than 4,300 digits (ValueError) and turns
    1e999 into inf: either would lose an id, or crash, on a hostile answer.
    """


def _parse_int(text: str) -> int | NumberText:
    try:
        return int(text)
    except ValueError:  # longer than sys.get_int_max_str_digits()
        return NumberText(text)


def _json_or_none(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON.

    Lossless for whatever ids it holds: bytes that are not UTF-8 become lone surrogates
    (escaped later by `id_text`), raw control characters inside strings are accepted, and
    numbers other than ordinary integers stay text (see NumberText).
    """
    try:
        return json.loads(
            body.decode("utf-8", errors="surrogateescape"),
            strict=False,
            parse_int=_parse_int,
            parse_float=NumberText,
            parse_constant=NumberText,
        )
    except (json.JSONDecodeError, RecursionError):
        return None


def is_refusal(parsed: Any) -> bool:
    """`{"success": false, ...}`: a definite refusal, whatever the HTTP status."""
    return isinstance(parsed, dict) and parsed.get("success") is False


def unwrap(parsed: Any) -> dict[str, Any] | None:
    """`data` of a `{"success": true, "data": {...}}` envelope, or a bare object."""
    if not isinstance(parsed, dict) or is_refusal(parsed):
        return None
    data = parsed.get("data")
    if isinstance(data, dict):
        return data
    if "success" in parsed or "data" in parsed:
        # An envelope without a usable `data`: the ids may still sit beside `success`.
        return parsed if "projectId" in parsed else None
    return parsed


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    r"""Lone surrogates as `\udXXX` text: they cannot be written as UTF-8 (journal, lockfile).

    Lossless for every id that does not itself hold the six characters `\ud8..`-`\udf..`.
    """
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def id_text(value: Any) -> str | None:
    """An id as text, kept whatever its JSON type; None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, str):
        text = str(value)
    elif isinstance(value, (bool, int)):
        text = json.dumps(value)
    else:
        # An object or a list where an id belongs: keep all of it, as compact JSON.
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = escape_surrogates(text)
    return text if text.strip() else None
