r"""Template shapes: scripts that differ only in their literal text share one compiled code.

A translated catalogue has thousands of scripts of one shape (`[ko] {{ name }}, ...` with
other words around the same tags). Jinja spends about a millisecond compiling each; the
shape is compiled once instead: every literal text run becomes a slot, `{{ <slot> }}`,
and each script renders its shape with its own runs as the slots' values.

Only sources whose rendering this provably does not change take a shape (the rest are
compiled as themselves; tests/render/test_skeleton.py compares both on generated
templates, byte for byte):

- tags are plain: no brace, `%` or `#` inside them, and quotes only around a string with
  none of these, no backslash and no line break (so a `%}` in a string cannot end a tag
  early); no `{%+`, no comment tags;
- whitespace control (`{%-`, `-%}`, `{{-`, `-}}`) is applied to the text runs around the
  tag as Jinja's lexer applies it (`rstrip()` before, `\s*` after), so the slots hold the
  text Jinja would print;
- only the statements below, whose bodies print their text as it stands, and
  `{% include 'name' %}` of a quoted name (`raw`, `extends`/`block`, macros and friends are
  left to Jinja; an included file that names a slot is refused by the sandbox's loader);
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
from typing import Any

from specsync.render.limits import MAX_VALUE, TAG_START

SLOT_PREFIX = "specsync_slot_"
# A quoted string that cannot hide a tag's end; a tag made of such strings and characters
# that cannot either, with Jinja's whitespace control at either end.
_QUOTED = r"""'[^'\\{}%#\n]*'|"[^"\\{}%#\n]*\""""
_INSIDE = rf"""(?:[^"'{{}}%#]|{_QUOTED})"""
_TAG = re.compile(
    rf"\{{\{{-?(?:[^-+\"'{{}}%#]|{_QUOTED}){_INSIDE}*?-?\}}\}}"
    rf"|\{{%-?(?:[^-+\"'{{}}%#]|{_QUOTED}){_INSIDE}*?-?%\}}"
)
_STATEMENT = re.compile(r"\{%-?\s*([a-z]+)")
_INCLUDE = re.compile(
    rf"\{{%-?\s*include\s+(?:{_QUOTED})\s*(?:ignore\s+missing\s*)?"
    r"(?:(?:with|without)\s+context\s*)?-?%\}\Z"
)
# What `-%}` and `-}}` strip from the text after them: Jinja's own `\s*`.
_LEADING_SPACE = re.compile(r"\s*")
_PLAIN_STATEMENTS = frozenset(
    {"if", "elif", "else", "endif", "for", "endfor", "set", "with", "endwith"}
)


class Shape:
    """A script's shape: `skeleton`, the source with each literal text run replaced by its
    slot's tag; `slots`, slot name -> the run it stands for; and `plain` when every tag
    only prints a variable (`{{ name }}`): the source's pieces, text runs (maybe empty) at
    even places and the variables' names between them, which `render_plain` joins
    without Jinja. Such a shape usually needs nothing else: its skeleton and slots are
    worked out when first asked for (a value `render_plain` cannot print)."""

    __slots__ = ("_parts", "_source", "plain")

    def __init__(
        self, skeleton: str, slots: dict[str, str], plain: tuple[str, ...] | None = None
    ) -> None:
        self._parts: tuple[str, dict[str, str]] | None = (skeleton, slots)
        self._source = ""
        self.plain = plain

    @classmethod
    def of_plain(cls, source: str, plain: tuple[str, ...]) -> Shape:
        """The shape of `source` (which `shape_of` took) from its plain pieces alone."""
        shape = cls.__new__(cls)
        shape._parts, shape._source, shape.plain = None, source, plain
        return shape

    @property
    def skeleton(self) -> str:
        return self._built()[0]

    @property
    def slots(self) -> dict[str, str]:
        return self._built()[1]

    def _built(self) -> tuple[str, dict[str, str]]:
        if self._parts is None:
            checked = _split_checked(self._source)
            assert checked is not None  # shape_of took this source
            self._parts = _slotted(checked[0])
        return self._parts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Shape):
            return NotImplemented
        return (self.skeleton, self.slots, self.plain) == (other.skeleton, other.slots, other.plain)

    __hash__ = None  # type: ignore[assignment]  # it holds a dict, as the tuple it was

    def __repr__(self) -> str:
        return f"Shape({self.skeleton!r}, {self.slots!r}, {self.plain!r})"


# A tag that prints one variable, nothing else (`true`, `none` and friends are literals).
_PRINT_NAME = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}\Z")
_LITERAL_NAMES = frozenset({"true", "false", "none", "True", "False", "None"})


def render_plain(shape: Shape, variables: Mapping[str, Any], limit: int) -> str | None:
    """What Jinja prints for a shape whose tags only print variables, or None for anything
    it would not print as plain `str()` of a str or int (a missing variable, a value over
    the sandbox's print limit, output over `limit`): the template then renders it.
    """
    assert shape.plain is not None
    pieces = list(shape.plain)
    get = variables.get
    for index in range(1, len(pieces), 2):
        value = get(pieces[index], _MISSING)
        kind = type(value)
        if kind is int:
            value = str(value)
        elif kind is not str:
            return None
        if len(value) > MAX_VALUE:
            return None
        pieces[index] = value
    text = "".join(pieces)
    if len(text) > limit:
        return None
    return text


_MISSING = object()


def _slot(index: int) -> str:
    return f"{SLOT_PREFIX}{index}__"


_SLOT_NAMES = tuple(_slot(index) for index in range(64))
_SLOT_TAGS = tuple("{{ " + name + " }}" for name in _SLOT_NAMES)
_SPLIT = re.compile(f"({_TAG.pattern})")
_NOT_PLAIN = None  # what `_tag_kind` says of a tag that a shape cannot keep
_STATEMENT_TAG = ""  # ... of a plain tag that does more than print one variable


@functools.lru_cache(maxsize=4096)
def _tag_kind(tag: str) -> str | None:
    """Of a tag as `_TAG` matched it: None when it may not print or branch as its source
    would; the variable's name when it only prints one; else "". Scripts repeat a few
    tags thousands of times: cached."""
    if tag.startswith("{{"):
        printed = _PRINT_NAME.match(tag)
        if printed is None or printed.group(1) in _LITERAL_NAMES:
            return _STATEMENT_TAG
        return printed.group(1)
    statement = _STATEMENT.match(tag)
    if statement is not None and statement.group(1) in _PLAIN_STATEMENTS:
        return _STATEMENT_TAG
    if _INCLUDE.match(tag):
        return _STATEMENT_TAG
    return _NOT_PLAIN


def shape_of(source: str) -> Shape | None:
    """The source's shape, or None when sharing one could change what it renders."""
    checked = _split_checked(source)
    if checked is None:
        return None
    pieces, kinds = checked
    if _STATEMENT_TAG not in kinds:
        # Only variables printed: the runs with the names between them.
        pieces[1::2] = [name for name in kinds if name is not None]  # all names here
        return Shape.of_plain(source, tuple(pieces))
    skeleton, slots = _slotted(pieces)
    return Shape(skeleton, slots)


def _split_checked(source: str) -> tuple[list[str], list[str | None]] | None:
    """(the source's pieces: text runs at even places, tags between them; each tag's kind)
    when a shape may take it, else None."""
    if "\r" in source or SLOT_PREFIX in source or "#}" in source:
        return None
    if source.endswith("\n"):
        source = source[:-1]  # Jinja drops one trailing newline (keep_trailing_newline)
    pieces = _SPLIT.split(source)
    tags = pieces[1::2]
    kinds = list(map(_tag_kind, tags))
    if _NOT_PLAIN in kinds:
        return None
    for run in pieces[0::2]:
        # A run ending in `{` would lend it to the tag after it (`{{{ x }}` starts at the
        # first brace for Jinja); any other opener in a run is a tag not taken.
        if "{" in run and (TAG_START.search(run) or run.endswith("{")):
            return None
    if "-}}" in source or "-%}" in source or "{{-" in source or "{%-" in source:
        _strip_around(pieces)
    texts = [run for run in pieces[0::2] if run]
    if not texts:
        return None  # nothing to share: compile the source itself
    if any(len(run) > MAX_VALUE for run in texts):
        return None
    return pieces, kinds


def _strip_around(pieces: list[str]) -> None:
    r"""Apply the tags' whitespace control to the text runs beside them, as Jinja's lexer
    does: `{%-`/`{{-` strips the run before (`str.rstrip`), `-%}`/`-}}` the run after
    (its `\s*`)."""
    for index in range(1, len(pieces), 2):
        tag = pieces[index]
        if tag[2] == "-":
            pieces[index - 1] = pieces[index - 1].rstrip()
        if tag[-3] == "-":
            after = pieces[index + 1]
            pieces[index + 1] = after[_LEADING_SPACE.match(after).end() :]  # type: ignore[union-attr]


def _slotted(pieces: list[str]) -> tuple[str, dict[str, str]]:
    """(skeleton, slots) of checked pieces: each text run becomes its slot's tag, in order;
    the tags stay as they are."""
    runs = pieces[0::2]
    texts = [run for run in runs if run]
    count = len(texts)
    names = _SLOT_NAMES[:count] if count <= len(_SLOT_NAMES) else list(map(_slot, range(count)))
    slot_tags = iter(
        _SLOT_TAGS[:count] if count <= len(_SLOT_TAGS) else ["{{ " + n + " }}" for n in names]
    )
    skeleton = list(pieces)
    skeleton[0::2] = [next(slot_tags) if run else "" for run in runs]
    return "".join(skeleton), dict(zip(names, texts, strict=True))


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
