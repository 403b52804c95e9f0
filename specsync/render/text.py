"""A rendered script made ready to send: normalised, and checked for what the API cannot
take. No Jinja here: plain scripts and cached texts (render/items.py) pass through it too."""

from __future__ import annotations

import unicodedata

from specsync.model import ItemSpec, Problem
from specsync.render.limits import MAX_SCRIPT_CHARS


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
    return text
