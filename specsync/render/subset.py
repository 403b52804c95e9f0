r"""Scripts written in a small part of Jinja, rendered without Jinja.

A product team's scripts, shared by thousands of videos, are mostly text, printed variables
and a few plain statements. Jinja costs ~30 ms to import and a context per render; this
module renders such scripts with the same output and no Jinja. Written by hand: no library
renders a part of Jinja's language exactly as Jinja's sandbox would.

The part taken (anything else, and whitespace control with `+`, is left to Jinja):

- text; `{{ expression }}`; `{% if %}`/`{% elif %}`/`{% else %}`/`{% endif %}`;
  `{% for name in expression %}`/`{% endfor %}`; `{% include 'name' %}` (a quoted name,
  not inside a loop) of a file in this same part; whitespace control with `-`;
- an expression is a variable, `variable.key` (a key of a mapping, or `loop.index` and the
  loop's other numbers and flags), then filters: `upper`, `lower`, `capitalize`, `trim`,
  `first`, `last`, `length`, `join` and `join('text')`;
- a condition is an expression, `not` one, or one comparison (`==`, `!=`, `<`, `>`, `<=`,
  `>=`) of expressions, quoted texts, integers and `true`/`false`/`none`.

`subset_parse.parse` takes a source only when every tag is one of these, with strings that
cannot hide a tag's end (as render/skeleton.py's), so what it reads is what Jinja's lexer
reads; it builds the nodes below. `render` returns the raw output only when nothing could
make Jinja's differ or fail: a printed value is a str or an int within the sandbox's print
limit, a filter gets the type it is made for, a loop runs over a list, every name is
defined, no comparison raises, the output stays under the limit. Otherwise it returns None
and the script goes to Jinja, which renders it, or reports its error with file, line and
column, as it always did.
tests/render/test_subset.py compares both on generated templates, hostile ones included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from specsync.render.limits import MAX_VALUE

# What a loop offers (the sandbox answers these without its checks, render/sandbox.py).
_LOOP_NUMBERS = frozenset({"index", "index0", "revindex", "revindex0", "length", "first", "last"})
_DICT_ATTRIBUTES = frozenset(dir(dict))
# Loop turns one render may take before it is left to Jinja (and its render timeout).
MAX_TURNS = 10_000
MAX_INCLUDE_DEPTH = 8


class NotPlain(Exception):
    """Raised while rendering: the script is Jinja's to render (or to report)."""


_MISSING = object()
Scope = Mapping[str, Any]
Node = Any  # a text (str), or a callable (scope, output, state) -> None
Expression = Callable[[Scope], Any]


class Program:
    """A parsed script (render/subset_parse.py): its body, texts and nodes."""

    __slots__ = ("body",)

    def __init__(self, body: list[Node]) -> None:
        self.body = body


class _State:
    """One render: its output size, its loop turns, how to find included programs."""

    __slots__ = ("depth", "find", "limit", "size", "turns")

    def __init__(self, find: Callable[[str], Program | None], limit: int) -> None:
        self.find = find
        self.limit = limit
        self.size = 0
        self.turns = 0
        self.depth = 0


def render(
    program: Program,
    variables: Mapping[str, Any],
    find: Callable[[str], Program | None],
    limit: int,
) -> str | None:
    """The raw text Jinja's sandbox renders `program` to with `variables`, or None when that
    is not certain (or the output passes `limit`). `find(name)` gives an included file's
    program (None: not in this part, or not loadable: Jinja's to report)."""
    output: list[str] = []
    try:
        _run(program.body, variables, output, _State(find, limit))
    except (NotPlain, RecursionError, MemoryError):  # nested too deep, or too large
        return None
    text = "".join(output)
    return text if len(text) <= limit else None


def _run(body: list[Node], scope: Scope, output: list[str], state: _State) -> None:
    for node in body:
        if type(node) is str:
            output.append(node)
            state.size += len(node)
        else:
            node(scope, output, state)
    if state.size > state.limit:
        raise NotPlain


# -- values ------------------------------------------------------------------------------


def _printed(value: Any) -> str:
    """`str(finalize(value))` as the sandbox prints it, for a str or an int."""
    kind = type(value)
    if kind is str:
        if len(value) > MAX_VALUE:
            raise NotPlain
        return value  # type: ignore[no-any-return]
    if kind is int:
        if value.bit_length() // 3 + 1 > MAX_VALUE:
            raise NotPlain
        try:
            return str(value)
        except ValueError:  # more digits than int -> str allows
            raise NotPlain from None
    raise NotPlain


class _Loop:
    """What `loop.<name>` gives inside `{% for %}`."""

    __slots__ = ("first", "index", "index0", "last", "length", "revindex", "revindex0")

    def __init__(self, index0: int, length: int) -> None:
        self.index0 = index0
        self.index = index0 + 1
        self.length = length
        self.revindex = length - index0
        self.revindex0 = length - index0 - 1
        self.first = index0 == 0
        self.last = index0 == length - 1


def variable(name: str) -> Expression:
    def value(scope: Scope) -> Any:
        found = scope.get(name, _MISSING)
        if found is _MISSING:
            raise NotPlain
        return found

    return value


def key_of(base: Expression, key: str) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        kind = type(found)
        if kind is dict:
            if key in _DICT_ATTRIBUTES:
                raise NotPlain  # a method of the mapping, as the sandbox reads it
            item = found.get(key, _MISSING)
            if item is _MISSING:
                raise NotPlain
            return item
        if kind is _Loop and key in _LOOP_NUMBERS:
            return getattr(found, key)
        raise NotPlain

    return value


def constant(value: Any) -> Expression:
    return lambda scope: value


def string_filter(base: Expression, method: Callable[[str], str]) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) is not str:
            raise NotPlain
        return method(found)

    return value


def first_or_last(base: Expression, last: bool) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) is not list or not found:
            raise NotPlain
        return found[-1] if last else found[0]

    return value


def length_of(base: Expression) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) not in (str, list, dict):
            raise NotPlain
        return len(found)

    return value


def joined(base: Expression, separator: str) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) is not list or len(found) > MAX_VALUE:
            raise NotPlain
        parts = []
        for item in found:
            kind = type(item)
            if kind is str:
                parts.append(item)
            elif kind is int:
                parts.append(_printed(item))
            else:
                raise NotPlain
        joined = separator.join(parts)
        if len(joined) > MAX_VALUE:
            raise NotPlain  # the sandbox refuses such a join
        return joined

    return value


def compared(left: Expression, compare: Callable[[Any, Any], Any], right: Expression) -> Expression:
    def value(scope: Scope) -> Any:
        try:
            return bool(compare(left(scope), right(scope)))
        except NotPlain:
            raise
        except Exception:  # what Jinja reports (comparing a text with a number)
            raise NotPlain from None

    return value


def negated(base: Expression) -> Expression:
    return lambda scope: not base(scope)


# -- nodes -------------------------------------------------------------------------------


def print_node(expression: Expression) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        text = _printed(expression(scope))
        output.append(text)
        state.size += len(text)

    return node


def print_variable(name: str) -> Node:
    """`{{ name }}`: print_node(variable(name)) in one call (most of what scripts print)."""

    def node(scope: Scope, output: list[str], state: _State) -> None:
        value = scope.get(name, _MISSING)
        text = value if type(value) is str and len(value) <= MAX_VALUE else _printed(value)
        output.append(text)
        state.size += len(text)

    return node


def if_node(branches: list[tuple[Expression, list[Node]]], otherwise: list[Node]) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        for condition, body in branches:
            if condition(scope):
                _run(body, scope, output, state)
                return
        _run(otherwise, scope, output, state)

    return node


def for_node(name: str, sequence: Expression, body: list[Node]) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        items = sequence(scope)
        if type(items) is not list:
            raise NotPlain
        length = len(items)
        state.turns += length
        if state.turns > MAX_TURNS:
            raise NotPlain
        for index0, item in enumerate(items):
            _run(body, {**scope, name: item, "loop": _Loop(index0, length)}, output, state)

    return node


def include_node(name: str) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        program = state.find(name)
        if program is None or state.depth >= MAX_INCLUDE_DEPTH:
            raise NotPlain
        state.depth += 1
        _run(program.body, scope, output, state)
        state.depth -= 1

    return node
