"""Template shapes: scripts that differ only in their literal text share one compiled code.

A translated catalogue has thousands of scripts of one shape (`[ko] {{ name }}, ...` with
other words around the same tags). Jinja spends about a millisecond compiling each; the
shape is compiled once instead: every literal text run becomes a slot, `{{ <slot> }}`,
and each script renders its shape with its own runs as the slots' values.

Only sources whose rendering this provably does not change take a shape (the rest are
compiled as themselves; tests/render/test_skeleton.py compares both on generated
templates, byte for byte):

- tags are plain: no quote, brace, `%` or `#` inside them (so a `%}` in a string cannot
  end a tag early), no whitespace control (`{%-`, `-%}`, `{{-`, `{%+`), no comment tags;
- only the statements below, whose bodies print their text as it stands (`raw`,
  `extends`/`block`, macros and friends are left to Jinja);
- no carriage return (Jinja rewrites newlines in text), the one trailing newline Jinja
  drops is dropped here too;
- no run longer than the sandbox prints (`MAX_VALUE`: a slot is printed through its check),
  and no name of the slots' in the source.

The slots pass through the environment's `finalize` (a size check that returns the text
unchanged) and are not escaped (autoescape is off in the sandbox): the same characters as
the literal text. An error while rendering a shape is never reported from it: the caller
renders the script's own template again to get Jinja's exact message and line.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, NamedTuple

from specsync.render.sandbox import MAX_VALUE

SLOT_PREFIX = "specsync_slot_"
# A tag with nothing in it that could hide its end or change the text around it.
_TAG = re.compile(r"\{\{[^-+\"'{}%#][^\"'{}%#]*\}\}|\{%[^-+\"'{}%#][^\"'{}%#]*%\}")
_OPENER = re.compile(r"\{[{%#]")
_STATEMENT = re.compile(r"\{%\s*([a-z]+)")
_PLAIN_STATEMENTS = frozenset(
    {"if", "elif", "else", "endif", "for", "endfor", "set", "with", "endwith"}
)


class Shape(NamedTuple):
    skeleton: str  # the source with each literal run replaced by its slot
    slots: dict[str, str]  # slot name -> the run it stands for
    # When every tag only prints a variable (`{{ name }}`): the source as (is a variable,
    # run or variable name) pieces, which `render_plain` joins without Jinja.
    plain: tuple[tuple[bool, str], ...] | None = None


# A tag that prints one variable, nothing else (`true`, `none` and friends are literals).
_PRINT_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\Z")
_LITERAL_NAMES = frozenset({"true", "false", "none", "True", "False", "None"})


def render_plain(shape: Shape, variables: Mapping[str, Any], limit: int) -> str | None:
    """What Jinja prints for a shape whose tags only print variables, or None for anything
    it would not print as plain `str()` of a str or int (a missing variable, a value over
    the sandbox's print limit, output over `limit`): the template then renders it.
    """
    assert shape.plain is not None
    parts: list[str] = []
    size = 0
    for is_name, text in shape.plain:
        if is_name:
            value = variables.get(text, _MISSING)
            kind = type(value)
            if kind is int:
                text = str(value)
            elif kind is not str:
                return None
            else:
                text = value
            if len(text) > MAX_VALUE:
                return None
        size += len(text)
        parts.append(text)
    if size > limit:
        return None
    return "".join(parts)


_MISSING = object()


def _slot(index: int) -> str:
    return f"{SLOT_PREFIX}{index}__"


_SLOT_TAGS = tuple("{{ " + _slot(index) + " }}" for index in range(64))
_SPLIT = re.compile(f"({_TAG.pattern})")


@functools.lru_cache(maxsize=4096)
def _plain_tag(tag: str) -> bool:
    """Does this tag (as `_TAG` matched it) print and branch as its source would?"""
    if tag.endswith(("-%}", "-}}")):
        return False
    if tag.startswith("{{"):
        return True
    statement = _STATEMENT.match(tag)
    return statement is not None and statement.group(1) in _PLAIN_STATEMENTS


def shape_of(source: str) -> Shape | None:
    """The source's shape, or None when sharing one could change what it renders."""
    if "\r" in source or SLOT_PREFIX in source or "-}" in source or "#}" in source:
        return None
    if source.endswith("\n"):
        source = source[:-1]  # Jinja drops one trailing newline (keep_trailing_newline)
    pieces = _SPLIT.split(source)  # text runs at even places, tags between them
    parts: list[str] = []
    slots: dict[str, str] = {}
    plain: list[tuple[bool, str]] | None = []
    for index, piece in enumerate(pieces):
        if index % 2:
            if not _plain_tag(piece):
                return None
            parts.append(piece)
            if plain is not None:
                printed = _PRINT_NAME.match(piece)
                if printed is None or printed.group(1) in _LITERAL_NAMES:
                    plain = None
                else:
                    plain.append((True, printed.group(1)))
        elif piece:
            # A run ending in `{` would lend it to the tag after it (`{{{ x }}` starts at
            # the first brace for Jinja); any other opener in a run is a tag not taken.
            if "{" in piece and (_OPENER.search(piece) or piece.endswith("{")):
                return None
            if len(piece) > MAX_VALUE:
                return None
            number = len(slots)
            name = _slot(number)
            slots[name] = piece
            parts.append(_SLOT_TAGS[number] if number < len(_SLOT_TAGS) else "{{ " + name + " }}")
            if plain is not None:
                plain.append((False, piece))
    if not slots:
        return None  # nothing to share: compile the source itself
    return Shape("".join(parts), slots, None if plain is None else tuple(plain))


# A shape saves a compile (about a millisecond) per script that shares it and costs a few
# microseconds per render (its slots are printed): worth it for scripts used by few items
# whose shape other scripts share, as in a translated catalogue; not for the handful of
# shared scripts a product team reuses across thousands of videos. A shape that only prints
# variables is always worth it: it needs no template at all.
MAX_USES = 100


def choose_shapes(uses: Mapping[str, int]) -> dict[str, Shape]:
    """The sources (with how many items use each) worth rendering through a shape: those
    that only print variables (joined without Jinja, however many items use them), and
    the rest of a shape other scripts share."""
    shapes: dict[str, Shape] = {}
    sharing: Counter[str] = Counter()
    for source, count in uses.items():
        shape = shape_of(source)
        if shape is None:
            continue
        if shape.plain is not None:
            shapes[source] = shape
        elif count <= MAX_USES:
            shapes[source] = shape
            sharing[shape.skeleton] += 1
    return {
        source: shape
        for source, shape in shapes.items()
        if shape.plain is not None or sharing[shape.skeleton] > 1
    }
