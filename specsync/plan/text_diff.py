"""A short diff of two scripts that shows a reviewer what changed: line by line, each changed
line cut to the changed words with some context."""

from __future__ import annotations

import difflib
import re

MAX_DIFF_LINES = 12
MAX_SHOWN_CHARS = 160


def _shorten(text: str) -> str:
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= MAX_SHOWN_CHARS else flat[: MAX_SHOWN_CHARS - 1] + "…"


# Words, runs of spaces and single other characters: what a reader sees as "a word changed".
_TOKENS = r"\w+|\s+|[^\w\s]"  # compiled on first use (re's own cache): only a diff needs it
# Characters of unchanged text kept on each side of a change within a long line.
DIFF_CONTEXT = 30


def text_diff(old: str, new: str) -> tuple[str, ...]:
    """A few lines that show a reviewer what changed in a script.

    Line by line; a changed line is paired with its new version and both are cut to the
    changed words with some context around them, wherever in the line they are, so two
    long lines that differ late never show as two identical cut lines.
    """
    old_lines, new_lines = old.split("\n"), new.split("\n")
    shown: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = old_lines[i1:i2], new_lines[j1:j2]
        paired = min(len(removed), len(added)) if tag == "replace" else 0
        for before, after in zip(removed[:paired], added[:paired], strict=True):
            shown.extend(_changed_line(before, after))
        shown.extend(f"- {_shorten(line)}" for line in removed[paired:])
        shown.extend(f"+ {_shorten(line)}" for line in added[paired:])
    if len(shown) > MAX_DIFF_LINES:
        hidden = len(shown) - MAX_DIFF_LINES
        shown = [*shown[:MAX_DIFF_LINES], f"  … {hidden} more changed lines"]
    return tuple(shown)


def _changed_line(before: str, after: str) -> tuple[str, str]:
    """("- old", "+ new") cut to the region where the words differ, with context."""
    old_tokens, new_tokens = re.findall(_TOKENS, before), re.findall(_TOKENS, after)
    prefix = 0
    while (
        prefix < min(len(old_tokens), len(new_tokens)) and old_tokens[prefix] == new_tokens[prefix]
    ):
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old_tokens), len(new_tokens)) - prefix
        and old_tokens[-1 - suffix] == new_tokens[-1 - suffix]
    ):
        suffix += 1
    head = "".join(old_tokens[:prefix])
    tail = "".join(old_tokens[len(old_tokens) - suffix :]) if suffix else ""
    old_middle = "".join(old_tokens[prefix : len(old_tokens) - suffix])
    new_middle = "".join(new_tokens[prefix : len(new_tokens) - suffix])
    if max(len(old_middle), len(new_middle)) > MAX_SHOWN_CHARS - 2 * DIFF_CONTEXT:
        # One long changed "word" (a URL, text without spaces): narrow it by characters.
        same = _common_prefix_length(old_middle, new_middle)
        head, old_middle, new_middle = (
            head + old_middle[:same],
            old_middle[same:],
            new_middle[same:],
        )
    if old_middle.strip() == new_middle.strip():
        # Only spaces differ: make them visible, or the two lines would read the same.
        old_middle, new_middle = _visible(old_middle), _visible(new_middle)
    return (
        f"- {_around(head, old_middle, tail)}",
        f"+ {_around(head, new_middle, tail)}",
    )


def word_changes(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """The whole of `old` → `new` as ("equal"|"delete"|"insert", text) parts, by the words
    plan's diff compares (`_TOKENS`): the review page highlights them in the script."""
    old_tokens, new_tokens = re.findall(_TOKENS, old), re.findall(_TOKENS, new)
    parts: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("equal", "".join(old_tokens[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("delete", "".join(old_tokens[i1:i2])))
        if j2 > j1:
            parts.append(("insert", "".join(new_tokens[j1:j2])))
    return tuple(parts)


def _common_prefix_length(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _visible(text: str) -> str:
    return text.replace(" ", "·").replace("\t", "→") or "∅"


def _around(head: str, middle: str, tail: str) -> str:
    """`middle` with up to DIFF_CONTEXT characters of `head` before and `tail` after."""
    before, after = head, tail
    if len(head) > DIFF_CONTEXT:
        kept = head[-DIFF_CONTEXT:]
        space = kept.find(" ")  # start at a word when there is one
        before = "…" + (kept[space + 1 :] if 0 <= space < len(kept) - 1 else kept)
    if len(tail) > DIFF_CONTEXT:
        kept = tail[:DIFF_CONTEXT]
        space = kept.rfind(" ")
        after = (kept[:space] if space > 0 else kept) + "…"
    room = MAX_SHOWN_CHARS - len(before) - len(after)
    if len(middle) > room:
        middle = middle[: max(room - 1, 1)] + "…"
    return (before + middle + after).replace("\n", "\\n")
