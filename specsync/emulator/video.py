"""The video the emulator serves: a tiny valid MP4, made unique per project.

The base is one black 16x16 frame of H.264 in an MP4 (ISO BMFF) container, made once with
ffmpeg (libx264, -crf 51, bitexact, SEI removed, faststart) and kept here as bytes, so the
emulator needs no encoder. A top-level `free` box naming the project follows it: every
project gets its own deterministic file, still playable (players skip `free` boxes).
"""

from __future__ import annotations

import base64
import functools
import struct

_BASE_MP4 = base64.b64decode(
    "AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAALwbW9vdgAAAGxtdmhkAAAAAAAAAAAAAAAAAAAD6AAA"
    "A+gAAQAAAQAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAgAAAj90cmFrAAAAXHRraGQAAAADAAAAAAAAAAAAAAABAAAAAAAAA+gAAAAAAAAAAAAA"
    "AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAABAAAAAQAAAAAAAkZWR0cwAAABxlbHN0"
    "AAAAAAAAAAEAAAPoAAAAAAABAAAAAAG3bWRpYQAAACBtZGhkAAAAAAAAAAAAAAAAAABAAAAAQABVxAAAAAAALWhk"
    "bHIAAAAAAAAAAHZpZGUAAAAAAAAAAAAAAABWaWRlb0hhbmRsZXIAAAABYm1pbmYAAAAUdm1oZAAAAAEAAAAAAAAA"
    "AAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAASJzdGJsAAAAvnN0c2QAAAAAAAAAAQAAAK5h"
    "dmMxAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAABAAEABIAAAASAAAAAAAAAABDExhdmMgbGlieDI2NAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAGP//AAAANGF2Y0MBZAAK/+EAF2dkAAqs2V7ARAAAAwAEAAADAAg8SJZYAQAGaOvgZSyL/fj4"
    "AAAAABBwYXNwAAAAAQAAAAEAAAAUYnRydAAAAAAAAACIAAAAAAAAABhzdHRzAAAAAAAAAAEAAAABAABAAAAAABxz"
    "dHNjAAAAAAAAAAEAAAABAAAAAQAAAAEAAAAUc3RzegAAAAAAAAARAAAAAQAAABRzdGNvAAAAAAAAAAEAAAMgAAAA"
    "PXVkdGEAAAA1bWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAbWRpcmFwcGwAAAAAAAAAAAAAAAAIaWxzdAAAAAhmcmVl"
    "AAAAGW1kYXQAAAANZYiEABX/Egtb/4SKfw=="
)


@functools.lru_cache(maxsize=64)
def project_video(project_id: str) -> bytes:
    """The MP4 for one project: the same bytes for the same id, every time."""
    note = f"specsync emulator video for {project_id}".encode("ascii", "replace")
    return _BASE_MP4 + struct.pack(">I4s", 8 + len(note), b"free") + note
