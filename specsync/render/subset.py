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

`parse` takes a source only when every tag is one of these, with strings that cannot hide
a tag's end (as render/skeleton.py's), so what it reads is what Jinja's lexer reads.
`render` returns the raw output only when nothing could make Jinja's differ or fail: a
printed value is a str or an int within the sandbox's print limit, a filter gets the type
it is made for, a loop runs over a list, every name is defined, no comparison raises, the
output stays under the limit. Otherwise it returns None and the script goes to Jinja,
which renders it, or reports its error with file, line and column, as it always did.
tests/render/test_subset.py compares both on generated templates, hostile ones included.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from specsync.render.limits import MAX_VALUE

# What Jinja's lexer sees in a tag, as far as this part goes: the end comes first (as in
# Jinja's rules), strings hold nothing that could end a tag or escape a quote.
_TOKEN = re.compile(
    r"""\s*(?:(?P<end>-?[}%]\})|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?![^\x00-\x7f])"""
    r"""|(?P<int>[1-9][0-9]*|0)(?![0-9A-Za-z_.])"""
    r"""|(?P<str>'[^'\\{}%#\n\r]*'|"[^"\\{}%#\n\r]*")|(?P<op>==|!=|<=|>=|[<>|(),.]))"""
)
_OPENER = re.compile(r"\{[{%#]")
_LEADING_SPACE = re.compile(r"\s*")
_LITERAL_NAMES = frozenset({"true", "True", "false", "False", "none", "None"})
# Names Jinja's parser reads as operators or literals: never a variable here.
# `self` (and the others in macros and blocks) Jinja binds itself, whatever the variables say.
_RESERVED = _LITERAL_NAMES | {"and", "or", "not", "in", "is", "if", "else", "loop"}
_RESERVED |= {"self", "super", "caller", "varargs", "kwargs"}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_STRING_FILTERS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "capitalize": str.capitalize,
    "trim": str.strip,
}
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
    """A parsed script: its body (texts and nodes) and the files it includes."""

    __slots__ = ("body", "includes")

    def __init__(self, body: list[Node], includes: tuple[str, ...]) -> None:
        self.body = body
        self.includes = includes


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
    except NotPlain:
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


def _name(name: str) -> Expression:
    def value(scope: Scope) -> Any:
        found = scope.get(name, _MISSING)
        if found is _MISSING:
            raise NotPlain
        return found

    return value


def _key(base: Expression, key: str) -> Expression:
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


def _constant(value: Any) -> Expression:
    return lambda scope: value


def _string_filter(base: Expression, method: Callable[[str], str]) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) is not str:
            raise NotPlain
        return method(found)

    return value


def _first(base: Expression, last: bool) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) is not list or not found:
            raise NotPlain
        return found[-1] if last else found[0]

    return value


def _length(base: Expression) -> Expression:
    def value(scope: Scope) -> Any:
        found = base(scope)
        if type(found) not in (str, list, dict):
            raise NotPlain
        return len(found)

    return value


def _join(base: Expression, separator: str) -> Expression:
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


def _compare(left: Expression, compare: Callable[[Any, Any], Any], right: Expression) -> Expression:
    def value(scope: Scope) -> Any:
        try:
            return bool(compare(left(scope), right(scope)))
        except NotPlain:
            raise
        except Exception:  # what Jinja reports (comparing a text with a number)
            raise NotPlain from None

    return value


def _negated(base: Expression) -> Expression:
    return lambda scope: not base(scope)


# -- nodes -------------------------------------------------------------------------------


def _print(expression: Expression) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        text = _printed(expression(scope))
        output.append(text)
        state.size += len(text)

    return node


def _if(branches: list[tuple[Expression, list[Node]]], otherwise: list[Node]) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        for condition, body in branches:
            if condition(scope):
                _run(body, scope, output, state)
                return
        _run(otherwise, scope, output, state)

    return node


def _for(name: str, sequence: Expression, body: list[Node]) -> Node:
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


def _include(name: str) -> Node:
    def node(scope: Scope, output: list[str], state: _State) -> None:
        program = state.find(name)
        if program is None or state.depth >= MAX_INCLUDE_DEPTH:
            raise NotPlain
        state.depth += 1
        _run(program.body, scope, output, state)
        state.depth -= 1

    return node


# -- parsing -----------------------------------------------------------------------------


class _NotInPart(Exception):
    """Raised while parsing: the source uses something this part does not take."""


Token = tuple[str, str]  # (kind, text)
Piece = str | tuple[str, list[Token]]  # a text run, or a tag: ("{" or "%", its tokens)


def parse(source: str) -> Program | None:
    """The program of `source`, or None when it is not written in this part of Jinja."""
    try:
        return _Parser(_tokens(source)).program()
    except _NotInPart:
        return None


def _tokens(source: str) -> list[Piece]:
    """The text runs and tags of `source`, whitespace control applied to the runs as
    Jinja's lexer applies it."""
    if "\r" in source:
        raise _NotInPart  # Jinja rewrites line ends in text
    if source.endswith("\n"):
        source = source[:-1]  # the one trailing newline Jinja drops
    pieces: list[Piece] = []
    position = 0
    strip_next = False
    while True:
        opener = _OPENER.search(source, position)
        end = len(source) if opener is None else opener.start()
        run = source[position:end]
        if strip_next:
            run = run[_LEADING_SPACE.match(run).end() :]  # type: ignore[union-attr]
        if opener is None:
            if run:
                pieces.append(run)
            return pieces
        kind = source[end + 1]
        if kind == "#":
            raise _NotInPart  # a comment
        position = end + 2
        if source.startswith("-", position):
            run = run.rstrip()
            position += 1
        if run:
            pieces.append(run)
        tokens: list[Token] = []
        while True:
            token = _TOKEN.match(source, position)
            if token is None:
                raise _NotInPart
            position = token.end()
            found = token.lastgroup
            assert found is not None
            text = token.group(found)
            if found == "end":
                if text[-2] != ("}" if kind == "{" else "%"):
                    raise _NotInPart  # `%}` in `{{` (or `}}` in `{%`): an operator to Jinja
                strip_next = text[0] == "-"
                break
            tokens.append((found, text))
        pieces.append((kind, tokens))


class _Parser:
    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = pieces
        self.at = 0
        self.includes: list[str] = []
        self.closing: list[Token] = []  # the tokens after the last closing tag's keyword

    def program(self) -> Program:
        body, closing = self.body(in_loop=False)
        if closing is not None:
            raise _NotInPart  # an `endif` or `else` without its `if`
        return Program(body, tuple(self.includes))

    def body(self, *, in_loop: bool) -> tuple[list[Node], str | None]:
        """Nodes up to a closing tag (`endif`, `elif`, `else`, `endfor`, returned with
        its tokens left for the caller) or the end (None)."""
        nodes: list[Node] = []
        while self.at < len(self.pieces):
            piece = self.pieces[self.at]
            self.at += 1
            if isinstance(piece, str):
                if nodes and type(nodes[-1]) is str:
                    nodes[-1] += piece
                else:
                    nodes.append(piece)
                continue
            kind, tokens = piece
            if kind == "{":
                expression, rest = _expression(tokens)
                if rest:
                    raise _NotInPart
                nodes.append(_print(expression))
                continue
            if not tokens or tokens[0][0] != "name":
                raise _NotInPart
            keyword, rest = tokens[0][1], tokens[1:]
            if keyword in ("endif", "elif", "else", "endfor"):
                self.closing = rest
                return nodes, keyword
            if keyword == "if":
                nodes.append(self.if_statement(rest, in_loop))
            elif keyword == "for":
                nodes.append(self.for_statement(rest))
            elif keyword == "include" and not in_loop:
                if len(rest) != 1 or rest[0][0] != "str":
                    raise _NotInPart
                name = rest[0][1][1:-1]
                self.includes.append(name)
                nodes.append(_include(name))
            else:
                raise _NotInPart
        return nodes, None

    def if_statement(self, tokens: list[Token], in_loop: bool) -> Node:
        branches = []
        condition = _condition(tokens)
        while True:
            body, closing = self.body(in_loop=in_loop)
            branches.append((condition, body))
            if closing == "elif":
                condition = _condition(self.closing)
                continue
            if closing == "else" and not self.closing:
                otherwise, closing = self.body(in_loop=in_loop)
                if closing == "endif" and not self.closing:
                    return _if(branches, otherwise)
            elif closing == "endif" and not self.closing:
                return _if(branches, [])
            raise _NotInPart

    def for_statement(self, tokens: list[Token]) -> Node:
        if len(tokens) < 3 or tokens[0][0] != "name" or tokens[1] != ("name", "in"):
            raise _NotInPart
        name = tokens[0][1]
        if name in _RESERVED:
            raise _NotInPart
        sequence, rest = _expression(tokens[2:])
        if rest:
            raise _NotInPart  # `if`, `recursive`, or more
        body, closing = self.body(in_loop=True)
        if closing != "endfor" or self.closing:
            raise _NotInPart  # `{% else %}` of a loop, or a tag closing something else
        return _for(name, sequence, body)


def _expression(tokens: list[Token]) -> tuple[Expression, list[Token]]:
    """A variable, its keys and its filters; the tokens after them."""
    if not tokens or tokens[0][0] != "name":
        raise _NotInPart
    name = tokens[0][1]
    if name in _RESERVED and name != "loop":
        raise _NotInPart
    expression = _name(name)
    at = 1
    while at + 1 < len(tokens) and tokens[at] == ("op", "."):
        if tokens[at + 1][0] != "name":
            raise _NotInPart
        expression = _key(expression, tokens[at + 1][1])
        at += 2
    while at + 1 < len(tokens) and tokens[at] == ("op", "|"):
        if tokens[at + 1][0] != "name":
            raise _NotInPart
        expression, at = _filter(expression, tokens, at + 1)
    return expression, tokens[at:]


def _filter(base: Expression, tokens: list[Token], at: int) -> tuple[Expression, int]:
    name = tokens[at][1]
    at += 1
    if name == "join":
        separator = ""
        if tokens[at : at + 1] == [("op", "(")]:
            if len(tokens) < at + 3 or tokens[at + 1][0] != "str" or tokens[at + 2] != ("op", ")"):
                raise _NotInPart
            separator = tokens[at + 1][1][1:-1]
            at += 3
        return _join(base, separator), at
    if tokens[at : at + 1] in ([("op", "(")], [("op", ".")]):
        raise _NotInPart  # arguments, or a dotted filter name
    if name in _STRING_FILTERS:
        return _string_filter(base, _STRING_FILTERS[name]), at
    if name in ("first", "last"):
        return _first(base, last=name == "last"), at
    if name == "length":
        return _length(base), at
    raise _NotInPart


def _operand(tokens: list[Token]) -> tuple[Expression, list[Token]]:
    if not tokens:
        raise _NotInPart
    kind, text = tokens[0]
    if kind == "str":
        return _constant(text[1:-1]), tokens[1:]
    if kind == "int":
        return _constant(int(text)), tokens[1:]
    if kind == "name" and text in _LITERAL_NAMES:
        value = None if text in ("none", "None") else text in ("true", "True")
        return _constant(value), tokens[1:]
    return _expression(tokens)


def _condition(tokens: list[Token]) -> Expression:
    negated = tokens[:1] == [("name", "not")]
    if negated:
        tokens = tokens[1:]
    condition, rest = _operand(tokens)
    if rest:
        kind, text = rest[0]
        if kind != "op" or text not in _COMPARISONS:
            raise _NotInPart
        right, rest = _operand(rest[1:])
        if rest:
            raise _NotInPart  # a chained comparison, `and`, `or`, ...
        condition = _compare(condition, _COMPARISONS[text], right)
    return _negated(condition) if negated else condition
