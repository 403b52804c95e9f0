"""Printed values whose text must be the same on every run: a method, an iterator or an
object whose text holds its memory address would change the script, and re-export the
video, on every apply. Imported only by the sandbox (it needs Jinja)."""

from __future__ import annotations

import datetime
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import SecurityError


class UnstableValue(SecurityError):
    """A printed value whose text is not stable: a method, a generator, an object whose
    text holds its memory address. It would change the script on every run."""


def refuse_unstable(value: Any) -> None:
    """Raise UnstableValue when `value` would print a text that differs every run."""
    unstable = _unstable_kind(value)
    if unstable is not None:
        what, instead = unstable
        raise UnstableValue(
            f"this prints {what}, not a value: its text differs every run; {instead}"
        )


# What prints the same text every run (containers are checked item by item).
_STABLE_TYPES = (str, int, float, type(None), datetime.date, datetime.time, range)


def _unstable_kind(value: Any, depth: int = 0) -> tuple[str, str] | None:
    """(what `value` is, what to write instead) when its printed text would not be
    stable; None when it is."""
    if isinstance(value, (_STABLE_TYPES, Undefined)):
        return None  # Undefined: StrictUndefined raises its own, better, error when printed
    if isinstance(value, (list, tuple, dict)) and depth <= 50:
        items = (
            (entry for pair in value.items() for entry in pair)
            if isinstance(value, dict)
            else value
        )
        for entry in items:
            found = _unstable_kind(entry, depth + 1)
            if found is not None:
                return found
        return None
    kind = type(value).__name__
    if hasattr(value, "__next__") and hasattr(value, "__iter__"):
        return f"an iterator ({kind})", "add |list (or |join(', ')) to print its items"
    if callable(value):
        return (
            f"a method ({kind})",
            "for a key named like a method, write x['items'] instead of x.items",
        )
    return f"an object ({kind})", "print one of its fields instead"
