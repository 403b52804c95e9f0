"""A video's duration from its own MP4 header (the `mvhd` box inside `moov`).

Hand-written rather than a dependency: it is one box of ISO BMFF (ISO/IEC 14496-12,
section 8.2.2), and the libraries that read it (mutagen, pymediainfo) would bring a
whole tag or media stack for one number. Bounded: at most MAX_BOXES boxes are looked at
per level and nothing larger than a box header and `mvhd` itself is read, so a hostile
or truncated file costs a few reads and answers None.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

MAX_BOXES = 64
_HEADER = struct.Struct(">I4s")


def _boxes(stream: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes between `start` and `end`."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and len(found) < MAX_BOXES:
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            break
        size, kind = _HEADER.unpack(header)
        payload = offset + 8
        if size == 1:  # a 64-bit size follows the type
            large = stream.read(8)
            if len(large) < 8:
                break
            size = struct.unpack(">Q", large)[0]
            payload += 8
        elif size == 0:  # the box runs to the end of its parent
            size = end - offset
        if size < payload - offset or offset + size > end:
            break
        found.append((kind, payload, offset + size))
        offset += size
    return found


def movie_duration(stream: BinaryIO, length: int) -> float | None:
    """Seconds the movie header says the file lasts; None when there is no readable one."""
    for kind, start, end in _boxes(stream, 0, length):
        if kind != b"moov":
            continue
        for inner, payload, inner_end in _boxes(stream, start, end):
            if inner == b"mvhd":
                return _mvhd_seconds(stream, payload, inner_end)
        return None
    return None


def _mvhd_seconds(stream: BinaryIO, start: int, end: int) -> float | None:
    stream.seek(start)
    body = stream.read(min(end - start, 32))
    if len(body) < 4:
        return None
    if body[0] == 1:  # version 1: 64-bit times and duration
        if len(body) < 32:
            return None
        timescale, duration = struct.unpack(">IQ", body[20:32])
    elif body[0] == 0:
        if len(body) < 20:
            return None
        timescale, duration = struct.unpack(">II", body[12:20])
    else:
        return None
    # All ones means "unknown" in the standard; a zero timescale divides by nothing.
    if timescale == 0 or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    seconds: float = duration / timescale  # struct.unpack's values are typed Any
    return seconds
