"""Parsing the part of Jinja that render/subset.py renders (its docstring says which).

`parse` takes a source only when every tag is in the part, reading it as Jinja's lexer
does: a tag's end is looked for first at every place, strings hold nothing that could end a
tag or escape a quote, whitespace control (`-`) strips the text beside the tag with Jinja's
`rstrip()` and `\\s*`, and the one trailing newline Jinja drops is dropped.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from specsync.render.subset import (
    Expression,
    Node,
    Program,
    compared,
    constant,
    first_or_last,
    for_node,
    if_node,
    include_node,
    joined,
    key_of,
    length_of,
    negated,
    print_node,
    print_variable,
    string_filter,
    variable,
)

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


# Statements nested in one another: Jinja compiles each level into an indented Python
# block, and Python refuses 21 nested loops or ~100 levels (its error is Jinja's to report).
MAX_NESTING = 10


class _NotInPart(Exception):
    """Raised while parsing: the source uses something this part does not take."""


Token = tuple[str, str]  # (kind, text)
Piece = str | tuple[str, list[Token]]  # a text run, or a tag: ("{" or "%", its tokens)


def parse(source: str) -> Program | None:
    """The program of `source`, or None when it is not written in this part of Jinja."""
    try:
        return _Parser(_tokens(source)).program()
    except (_NotInPart, RecursionError, ValueError):  # nested too deep; an int too long
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
        self.closing: list[Token] = []  # the tokens after the last closing tag's keyword
        self.nesting = 0

    def program(self) -> Program:
        body, closing = self.body(in_loop=False)
        if closing is not None:
            raise _NotInPart  # an `endif` or `else` without its `if`
        return Program(body)

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
                if len(tokens) == 1 and tokens[0][0] == "name" and tokens[0][1] not in _RESERVED:
                    nodes.append(print_variable(tokens[0][1]))
                    continue
                expression, rest = _expression(tokens)
                if rest:
                    raise _NotInPart
                nodes.append(print_node(expression))
                continue
            if not tokens or tokens[0][0] != "name":
                raise _NotInPart
            keyword, rest = tokens[0][1], tokens[1:]
            if keyword in ("endif", "elif", "else", "endfor"):
                self.closing = rest
                return nodes, keyword
            if keyword in ("if", "for"):
                self.nesting += 1
                if self.nesting > MAX_NESTING:
                    raise _NotInPart
                if keyword == "if":
                    nodes.append(self.if_statement(rest, in_loop))
                else:
                    nodes.append(self.for_statement(rest))
                self.nesting -= 1
            elif keyword == "include" and not in_loop:
                if len(rest) != 1 or rest[0][0] != "str":
                    raise _NotInPart
                nodes.append(include_node(rest[0][1][1:-1]))
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
                    return if_node(branches, otherwise)
            elif closing == "endif" and not self.closing:
                return if_node(branches, [])
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
        return for_node(name, sequence, body)


def _expression(tokens: list[Token]) -> tuple[Expression, list[Token]]:
    """A variable, its keys and its filters; the tokens after them."""
    if not tokens or tokens[0][0] != "name":
        raise _NotInPart
    name = tokens[0][1]
    if name in _RESERVED and name != "loop":
        raise _NotInPart
    expression = variable(name)
    at = 1
    while at + 1 < len(tokens) and tokens[at] == ("op", "."):
        if tokens[at + 1][0] != "name":
            raise _NotInPart
        expression = key_of(expression, tokens[at + 1][1])
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
        return joined(base, separator), at
    if tokens[at : at + 1] in ([("op", "(")], [("op", ".")]):
        raise _NotInPart  # arguments, or a dotted filter name
    if name in _STRING_FILTERS:
        return string_filter(base, _STRING_FILTERS[name]), at
    if name in ("first", "last"):
        return first_or_last(base, last=name == "last"), at
    if name == "length":
        return length_of(base), at
    raise _NotInPart


def _operand(tokens: list[Token]) -> tuple[Expression, list[Token]]:
    if not tokens:
        raise _NotInPart
    kind, text = tokens[0]
    if kind == "str":
        return constant(text[1:-1]), tokens[1:]
    if kind == "int":
        return constant(int(text)), tokens[1:]
    if kind == "name" and text in _LITERAL_NAMES:
        value = None if text in ("none", "None") else text in ("true", "True")
        return constant(value), tokens[1:]
    return _expression(tokens)


def _condition(tokens: list[Token]) -> Expression:
    inverted = tokens[:1] == [("name", "not")]
    if inverted:
        tokens = tokens[1:]
    condition, rest = _operand(tokens)
    if rest:
        kind, text = rest[0]
        if kind != "op" or text not in _COMPARISONS:
            raise _NotInPart
        right, rest = _operand(rest[1:])
        if rest:
            raise _NotInPart  # a chained comparison, `and`, `or`, ...
        condition = compared(condition, _COMPARISONS[text], right)
    return negated(condition) if inverted else condition
