"""Bounds checked on a manifest's text before libyaml composes it: nesting depth (libyaml
crashes or goes quadratic on absurd nesting) and the number of nodes (its composer keeps
~350 bytes a node). Each refusal is a located Problem."""

from __future__ import annotations

import re

import yaml

from specsync.model import InputError, Location, Problem

try:  # the C loader is several times faster; fall back when libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the build of PyYAML
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class YamlLoader(_Loader):  # load.py composes with the same loader
    """The safe loader, each short plain scalar's tag looked up once per run: a manifest
    repeats its keys and values (`name`, `vars`, `script`, `en`) in every video, and the
    resolver tries its regular expressions on each (~20,000 scalars in a 10k run). The tag
    depends on the text and how it was written only (no path resolvers are set)."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and len(value) <= _MAX_REMEMBERED_SCALAR:
            key = (value, implicit)
            tag = _SCALAR_TAGS.get(key)
            if tag is None:
                tag = self._resolved(kind, value, implicit)
                if len(_SCALAR_TAGS) < _MAX_REMEMBERED_TAGS:
                    _SCALAR_TAGS[key] = tag
            return tag
        return self._resolved(kind, value, implicit)

    def _resolved(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        tag: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


_MAX_REMEMBERED_SCALAR = 64
_MAX_REMEMBERED_TAGS = 2048  # ~250 KB at most: keys repeat early, values seldom
_SCALAR_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}

MAX_FLOW_DEPTH = 64
MAX_INDENT = 256  # block nesting shows up as indentation (and "- - -" runs)
# Nodes as written, counted before composing: libyaml's composer keeps ~350 bytes a node,
# so a 9 MB flow list of 4.6M numbers took 45 s and 1.9 GB. 500,000 is far above a real
# manifest (10,000 items take ~23,000) and composes in under a second and 200 MB.
MAX_NODES = 500_000


# What the flow-nesting check looks at; everything else on a line is skipped at C speed.
_FLOW_CHARS = re.compile(r"""[\[\]{}'"#]""")


def _flow_depth_after(line: str, number: int, depth: int, display: str) -> int:
    """Flow nesting depth after `line`; refuses one over MAX_FLOW_DEPTH.

    A quote opens a quoted scalar at the start of the line or after a space, tab or one of
    `[{,:`, and runs to the same quote on that line; `#` after whitespace (not right after
    `[{,:` and blanks) starts a comment. Jumping between these characters keeps a 9 MB
    line to milliseconds instead of a Python step per character.
    """
    position = 0
    while (found := _FLOW_CHARS.search(line, position)) is not None:
        index = found.start()
        char = line[index]
        position = index + 1
        before = line[index - 1] if index else " "
        if char in "'\"":
            if before in " \t[{,:":
                end = line.find(char, position)
                if end < 0:
                    break  # unclosed on this line: the rest is inside the quote
                position = end + 1
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                raise InputError(
                    Problem(
                        Location(display, number, index + 1),
                        "nesting is deeper than specsync reads (more than "
                        f"{MAX_FLOW_DEPTH} levels of [ ] or {{ }})",
                    )
                )
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif before in " \t":  # "#"
            # Back over this run of blanks only (linear overall: one "#" ends each run).
            last = index - 1
            while last >= 0 and line[last] in " \t":
                last -= 1
            if last < 0 or line[last] not in "[{,:":
                break  # a comment: brackets in it do not nest
    return depth


# A line that opens a literal or folded block scalar, `key: |` or `- |` (chomping allowed;
# not an explicit indentation, a quote, a comment or a bracket, whose reading differs).
_BLOCK_SCALAR = re.compile(r"( *)((?:- +)*)([^\s#'\"{}\[\],][^#'\"{}\[\]]*?: +)?[|>][-+]?")


def _block_parent(line: str) -> int | None:
    """The column a block scalar opened by `line` must be indented past, or None when
    the line opens none."""
    found = _BLOCK_SCALAR.fullmatch(line.rstrip())
    if found is None:
        return None
    spaces, dashes, key = found.groups()
    if key:
        return len(spaces) + len(dashes)
    if dashes:
        return len(spaces) + dashes.rstrip().rfind("-") + len(dashes) - len(dashes.lstrip())
    return None


def check_nesting(text: str, display: str) -> None:
    """Refuse absurd nesting before libyaml sees it (it crashes or goes quadratic).

    Linear and cheap: block nesting shows as indentation, flow nesting as open brackets
    outside quoted scalars. Lines with no bracket outside a flow collection are skipped,
    and so are the lines of a block scalar (`script: |`): text there, however many `{{`
    a script holds, never nests.
    """
    depth = 0
    block_parent: int | None = None  # in a block scalar: the column it must pass
    block_prefix = ""  # its content's indentation, once its first line is seen
    for number, line in enumerate(text.split("\n"), start=1):
        if block_parent is not None:
            if block_prefix:
                if line.startswith(block_prefix) or not line.strip(" "):
                    continue
            else:
                content = line.lstrip(" ")
                if not content:
                    continue  # a blank line belongs to the block scalar
                indent = len(line) - len(content)
                if indent > block_parent:
                    block_prefix = " " * indent
                    continue
            block_parent, block_prefix = None, ""
        stripped = line.lstrip(" \t-")
        if len(line) - len(stripped) > MAX_INDENT:
            raise InputError(
                Problem(
                    Location(display, number, MAX_INDENT + 1),
                    f"nesting is deeper than specsync reads (indentation over {MAX_INDENT} "
                    "columns)",
                )
            )
        if depth == 0 and "[" not in line and "{" not in line:
            if line.endswith(("|", ">", "-", "+")) and "#" not in line:
                block_parent, block_prefix = _block_parent(line), ""
            continue
        depth = _flow_depth_after(line, number, depth, display)


def node_estimate(text: str) -> int:
    """An upper bound on the YAML nodes in `text`, at C speed.

    Every node but the first starts after one of these characters (a line break, a flow
    or block indicator); a line opens at most twice as many nodes as it has indicators
    (`- a: b` is a sequence, a mapping, a key and a value). Commas and colons inside
    scalars only overestimate.
    """
    marks = sum(text.count(char) for char in "\n,:-?[{")
    return 2 * (marks + 1)


def check_node_count(text: str, display: str) -> None:
    """Refuse a document with more than MAX_NODES nodes before libyaml composes it.

    The usual manifest is decided by the estimate alone; only one that may be over the
    limit is counted exactly, from libyaml's event stream, stopping at the limit.
    """
    if node_estimate(text) <= MAX_NODES:
        return
    parser = YamlLoader(text)
    count = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, NODE_EVENTS):
                count += 1
                if count > MAX_NODES:
                    mark = event.start_mark
                    assert mark is not None  # the parser marks every event it makes
                    raise InputError(
                        Problem(
                            Location(display, mark.line + 1, mark.column + 1),
                            f"too many YAML values (over {MAX_NODES:,}) for a manifest; "
                            "split the file, or keep large data out of manifests",
                        )
                    )
    except yaml.YAMLError:
        return  # composing reports the syntax error, with its location
    finally:
        parser.dispose()


NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)
