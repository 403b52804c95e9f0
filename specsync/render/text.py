"""A rendered script made ready to send: normalised, and checked for what the API cannot
take. No Jinja here: plain scripts and cached texts (render/items.py) pass through it too."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from specsync.model import ItemSpec, Problem
from specsync.render.limits import MAX_SCRIPT_CHARS

# How Python prints a method, a function, a generator or a plain object: with its memory
# address, which differs every run. The sandbox refuses such a value when it is printed,
# but a filter or an operator can turn it into text first (`d.items|upper`, `'%s' % d.keys`):
# the script, its fingerprint and so the export would then change on every apply.
_ADDRESS = re.compile(r"<[^<>\n]{1,200} at 0x[0-9a-f]{4,16}>", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFC, CRLF to LF, outer whitespace stripped: the text the API receives."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()


def checked_text(spec: ItemSpec, raw: str) -> str | Problem:
    """The rendered script normalised, or why it cannot be sent."""
    text = normalise(raw)
    if not text:
        return Problem(spec.template_location, "script renders to empty text", code="empty-script")
    if len(text) > MAX_SCRIPT_CHARS:
        return Problem(
            spec.template_location,
            f"rendered script is {len(text):,} characters; the limit is {MAX_SCRIPT_CHARS:,}",
            code="script-too-long",
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # '\ud800' in a template: no UTF-8 for it
            return Problem(
                spec.template_location,
                f"rendered script holds {text[error.start]!r} at character {error.start + 1}, "
                "half of a UTF-16 pair and not a character: it cannot be sent",
                code="unencodable-text",
            )
    if "0x" in text or "0X" in text:
        address = _printed_address(spec, text)
        if address is not None:
            return Problem(
                spec.template_location,
                f"refused by the template sandbox: the script prints {address!r}, a memory "
                "address: its text differs every run, so apply would export the video again "
                "each time; for a key named like a method, write x['items'] instead of x.items",
                code="sandbox",
            )
    return text


def _printed_address(spec: ItemSpec, text: str) -> str | None:
    """The first memory address in `text` that the manifest does not spell out itself."""
    written: str | None = None
    for match in _ADDRESS.finditer(text):
        if written is None:
            written = "\n".join([spec.template, *_texts(spec.variables)]).casefold()
        if match.group().casefold() not in written:
            return match.group()
    return None


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and depth < 50:
        for key, entry in value.items():
            yield str(key)
            yield from _texts(entry, depth + 1)
    elif isinstance(value, list) and depth < 50:
        for entry in value:
            yield from _texts(entry, depth + 1)
