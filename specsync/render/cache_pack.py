"""The pack files of the caches (render/cache.py): records framed so that a torn tail or a
foreign byte is recognised, and each record authenticated.

Record framing: MAGIC (4) | key (32) | payload length (4, big-endian) | mac (32) | payload,
where mac = HMAC-SHA256(secret, MAGIC | key | length | payload).
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass, field
from pathlib import Path

from specsync.regular_files import read_regular

MAGIC = b"SSTC"
HEADER = struct.Struct(">4s32sI32s")  # magic, key, payload length, mac
KEY_BYTES = 32


@dataclass
class Pack:
    """The records of one pack file, indexed by key; payloads verified only when used."""

    data: bytes = b""
    index: dict[bytes, tuple[int, int, bytes]] = field(default_factory=dict)  # key: off, len, mac
    damaged: bool = False  # a torn or corrupt record: rewrite the pack on flush


def record_mac(secret: bytes, key: bytes, payload: bytes) -> bytes:
    message = MAGIC + key + struct.pack(">I", len(payload))
    return hmac.digest(secret, message + payload, "sha256")  # one call, in C


def read_pack(path: Path) -> Pack:
    """Index every well-framed record; stop at the first torn or foreign one."""
    try:
        data = read_regular(path)
    except OSError:
        return Pack()
    pack = Pack(data=data)
    offset = 0
    size = len(data)
    while offset < size:
        if size - offset < HEADER.size:
            pack.damaged = True
            break
        magic, key, length, mac = HEADER.unpack_from(data, offset)
        start = offset + HEADER.size
        if magic != MAGIC or start + length > size:
            pack.damaged = True
            break
        pack.index[key] = (start, length, mac)
        offset = start + length
    return pack
