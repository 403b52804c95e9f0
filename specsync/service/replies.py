"""Reading the server's replies: a body capped in size and time, and the JSON envelope."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

# Answers larger than this are cut off: a hostile or broken server cannot exhaust memory.
MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _SlowAnswer(TimeoutError):
    """The answer trickled in for longer than the read timeout allows in total."""


def _read_capped(response: requests.Response, seconds: float) -> bytes:
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
            raise _SlowAnswer
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


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def _unwrap(parsed: Any) -> dict[str, Any] | None:
    """`data` of a `{"success": true, "data": {...}}` envelope, or a bare object."""
    if not isinstance(parsed, dict):
        return None
    if "success" in parsed or "data" in parsed:
        data = parsed.get("data")
        if parsed.get("success") is False or not isinstance(data, dict):
            return None
        return data
    return parsed


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text or None
    return None
