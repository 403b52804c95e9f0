"""The Jinja environment scripts render in: sandboxed, strict, and bounded in size.

Manifests arrive in pull requests, so every template is untrusted. Jinja's immutable sandbox
already refuses attribute walks (`__globals__`, `__class__`) and mutation; on top of it this
module refuses operations that would build a huge value *before* they allocate it: string
and list repetition, big-integer powers and products, `~`/`+` concatenation, printf-style
and `str.format` widths, padding methods and filters, and filler filters (`batch`, `slice`).
Whatever slips through still meets the output limit, the render timeout and the memory
ceiling in `render`.
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import (
    StrictUndefined,
    filters,
    nodes,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import soft_str

from specsync.render.limits import (
    MAX_INCLUDE_BYTES,
    MAX_INT_BITS,
    MAX_TEMPLATE_CHARS,
    MAX_VALUE,
    MAX_WIDTH,
)
from specsync.render.root_loader import RootLoader
from specsync.render.stable_values import UnstableValue, refuse_unstable

__all__ = ["MAX_INCLUDE_BYTES", "MAX_TEMPLATE_CHARS", "MAX_VALUE", "ScriptEnvironment"]


class TooLarge(SecurityError):
    """An operation would have built a value over the sandbox's limits."""


def _size(value: Any) -> int | None:
    if isinstance(value, (str, bytes, bytearray, list, tuple)):
        return len(value)
    return None


def _refuse(what: str, size: float, limit: int) -> TooLarge:
    shown = f"{size:,.0f}" if size < 1e15 else "astronomically many"
    return TooLarge(
        f"{what} would build a value of {shown} characters or items; the limit is {limit:,}"
    )


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        size = _size(sequence)
        if size is not None and isinstance(count, int) and size * max(count, 0) > MAX_VALUE:
            raise _refuse("repetition", size * count, MAX_VALUE)
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and abs(left).bit_length() + abs(right).bit_length() > (MAX_INT_BITS)
    ):
        raise TooLarge(f"multiplication would build an integer over {MAX_INT_BITS:,} bits")


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0 or abs(base) <= 1:
        return
    bits = exponent * math.log2(abs(base))
    if bits > MAX_INT_BITS:
        raise TooLarge(f"power would build an integer of about {bits:,.0f} bits")


def _check_add(left: Any, right: Any) -> None:
    left_size, right_size = _size(left), _size(right)
    if left_size is not None and right_size is not None and left_size + right_size > MAX_VALUE:
        raise _refuse("concatenation", left_size + right_size, MAX_VALUE)


# printf-style conversion: %[(name)][flags][width][.precision]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?")
_DIGITS = re.compile(r"\d+")


def _check_width(number: str, what: str) -> None:
    if number == "*":
        raise SecurityError(f"{what}: '*' widths are not allowed in scripts")
    if number and int(number) > MAX_WIDTH:
        raise TooLarge(f"{what} asks for width {int(number):,}; the limit is {MAX_WIDTH:,}")


def check_printf(template: Any) -> None:
    """Refuse `'%999999999d' % x` style widths before formatting."""
    if not isinstance(template, (str, bytes)):
        return
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    for match in _PRINTF.finditer(text):
        for number in match.groups():
            if number:
                _check_width(number, "printf-style format")


def check_format_string(template: str) -> None:
    """Refuse `'{:>999999999}'.format(x)` and nested (computed) specs before formatting."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise SecurityError(f"bad format string: {error}") from None
    for _literal, _field, spec, _conversion in parsed:
        if not spec:
            continue
        if "{" in spec:
            raise SecurityError("format specs built from arguments are not allowed in scripts")
        for number in _DIGITS.findall(spec):
            _check_width(number, "format spec")


def _check_modulo(left: Any, right: Any) -> None:
    check_printf(left)


_BINOPS: dict[str, tuple[Callable[[Any, Any], None], Callable[[Any, Any], Any]]] = {
    "*": (_check_repeat, operator.mul),
    "**": (_check_power, operator.pow),
    "+": (_check_add, operator.add),
    "%": (_check_modulo, operator.mod),
}


def _check_width_arg(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise TooLarge(f"{what} width {width:,} is over the limit of {MAX_WIDTH:,}")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(text, (str, bytes)) or not isinstance(new, type(text)):
        return
    if not isinstance(old, type(text)):
        return
    hits = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]  # old: type(text)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * (len(new) - len(old))
    if size > MAX_VALUE:
        raise _refuse("replace", size, MAX_VALUE)


def _check_join(separator: Any, parts: list[Any]) -> None:
    sep = len(separator) if isinstance(separator, (str, bytes)) else 0
    size = sep * max(len(parts) - 1, 0)
    for part in parts:
        size += len(part) if isinstance(part, (str, bytes)) else 1
    if size > MAX_VALUE:
        raise _refuse("join", size, MAX_VALUE)


def _guarded_method(owner: Any, name: str, method: Any) -> Any:
    """A checked stand-in for a str/bytes/int method that can build a huge value."""
    if name in ("center", "ljust", "rjust", "zfill"):

        def padded(width: Any, *rest: Any) -> Any:
            _check_width_arg(width, name)
            return method(width, *rest)

        return padded
    if name == "expandtabs":

        def expanded(tabsize: Any = 8) -> Any:
            if (
                isinstance(tabsize, int)
                and owner.count("\t" if isinstance(owner, str) else b"\t") * max(tabsize, 0)
                + len(owner)
                > MAX_VALUE
            ):
                raise _refuse("expandtabs", tabsize, MAX_VALUE)
            return method(tabsize)

        return expanded
    if name == "replace":

        def replaced(old: Any, new: Any, count: Any = -1) -> Any:
            _check_replace(owner, old, new, count)
            return method(old, new, count)

        return replaced
    if name == "join":

        def joined(parts: Iterable[Any]) -> Any:
            items = list(_bounded(parts))
            _check_join(owner, items)
            return method(items)

        return joined
    if name == "to_bytes":

        def to_bytes(length: Any = 1, *rest: Any, **kwargs: Any) -> Any:
            _check_width_arg(length, "to_bytes")
            return method(length, *rest, **kwargs)

        return to_bytes
    if name in ("translate", "maketrans"):
        raise SecurityError(f"str.{name} is not allowed in scripts")
    return None


_GUARDED_NAMES = frozenset(
    (
        *("center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "to_bytes"),
        *("translate", "maketrans"),
    )
)


def _bounded(values: Iterable[Any]) -> Iterable[Any]:
    for count, value in enumerate(values):
        if count >= MAX_VALUE:
            raise _refuse("a sequence", count + 1, MAX_VALUE)
        yield value


# -- filters that would otherwise pad, fill or repeat without a bound ------------------


def _center(value: Any, width: int = 80) -> str:
    _check_width_arg(width, "center")
    return filters.do_center(value, width)


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    size = width if isinstance(width, int) else len(width) if isinstance(width, str) else 0
    lines = str(value).count("\n") + 1
    if size * lines + len(str(value)) > MAX_VALUE:
        raise _refuse("indent", size * lines, MAX_VALUE)
    return filters.do_indent(value, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    check_printf(str(value))
    return filters.do_format(value, *args, **kwargs)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _check_width_arg(linecount, "batch")
    return filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _check_width_arg(slices, "slice")
    # do_slice is Jinja's async-capable variant, which takes the eval context first.
    return filters.sync_do_slice(value, slices, fill_with)


def _wordwrap(environment: Environment, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    wrapstring = kwargs.get("wrapstring") or (args[1] if len(args) > 1 else None)
    if isinstance(wrapstring, str) and len(wrapstring) * len(str(s)) > MAX_VALUE:
        raise _refuse("wordwrap", len(wrapstring) * len(str(s)), MAX_VALUE)
    return filters.do_wordwrap(environment, s, width, *args, **kwargs)


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    _check_width_arg(indent, "tojson indent")
    size = _estimate(value, MAX_VALUE)
    if size > MAX_VALUE:
        raise _refuse("tojson", size, MAX_VALUE)
    return filters.do_tojson(eval_ctx, value, indent)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
    _check_replace(str(s), str(old), str(new), -1 if count is None else count)
    return filters.do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(_bounded(value))
    if attribute is None:
        refuse_unstable(items)
    _check_join(str(d), [str(item) if not isinstance(item, str) else item for item in items])
    return filters.do_join(eval_ctx, items, d, attribute)


_wordwrap.jinja_pass_arg = filters.do_wordwrap.jinja_pass_arg  # type: ignore[attr-defined]


class _Generator(CodeGenerator):
    """Compiles `~` into a checked call (Jinja's own join is not an intercepted operator)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


# What a `loop` offers as plain properties (its methods, `cycle` and `changed`, are left
# to the sandbox's checks), and every attribute a dict has (its methods): any other
# attribute of a dict is its item, as the sandbox reads it.
_LOOP_PROPERTIES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length"}
    | {"depth", "depth0", "previtem", "nextitem"}
)
_DICT_ATTRIBUTES = frozenset(dir(dict))


class ScriptEnvironment(ImmutableSandboxedEnvironment):
    """Plain-text, strict, size-checked sandbox for manifest scripts."""

    code_generator_class = _Generator
    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, root: Path) -> None:
        super().__init__(
            loader=RootLoader(root),
            undefined=StrictUndefined,
            autoescape=False,
            finalize=self._finalize,
            auto_reload=False,
            cache_size=-1,
        )
        # lipsum generates filler text of any size; scripts have no use for it.
        self.globals.pop("lipsum", None)
        self.filters.update(
            center=_center,
            indent=_indent,
            format=_format,
            batch=_batch,
            slice=_slice,
            wordwrap=_wordwrap,
            tojson=_tojson,
            replace=_replace,
            join=_join,
            string=_string,
            random=_random,
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check, apply = _BINOPS[operator]
        check(left, right)
        return apply(left, right)

    def checked_concat(self, values: tuple[Any, ...]) -> str:
        parts = [self._finalize(value) for value in values]
        texts = [part if isinstance(part, str) else str(part) for part in parts]
        total = sum(len(text) for text in texts)
        if total > MAX_VALUE:
            raise _refuse("'~' concatenation", total, MAX_VALUE)
        return "".join(texts)

    def _finalize(self, value: Any) -> Any:
        # Every `{{ expression }}` passes here before it is turned into text: refuse a value
        # whose text would be huge (a list of many references to one long string).
        # Plain text, the common case, is measured inline: this runs once per expression.
        kind = type(value)
        if kind is str:
            size = len(value)
        elif kind is int:  # a number prints the same every run; its digits are counted
            size = value.bit_length() // 3 + 1
        else:
            # A method's or a generator's text holds its address: it would change the
            # script, and re-export the video, on every run.
            refuse_unstable(value)
            size = _estimate(value, MAX_VALUE)
        if size > MAX_VALUE:
            raise TooLarge(f"a value over {MAX_VALUE:,} characters cannot be printed")
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `loop.index` and `item.name` of a dict, the common cases, answered as the checks
        # below answer them, without them (~2 us a use; a loop script makes several).
        kind = type(obj)
        if kind is LoopContext and attribute in _LOOP_PROPERTIES:
            return getattr(obj, attribute)
        if kind is dict and type(attribute) is str and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return self._guard(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(argument, str):
            return self._guard(obj, argument, value)
        return value

    def _guard(self, obj: Any, name: str, value: Any) -> Any:
        if isinstance(obj, (str, bytes, bytearray)) and name in ("format", "format_map"):
            return _checked_format(obj, name, value)
        if name in _GUARDED_NAMES and isinstance(obj, (str, bytes, bytearray, int)):
            guarded = _guarded_method(obj, name, getattr(obj, name, None))
            if guarded is not None:
                return guarded
        return value


def _checked_format(owner: Any, name: str, sandboxed: Any) -> Any:
    if not isinstance(owner, str) or not callable(sandboxed):
        return sandboxed

    def formatted(*args: Any, **kwargs: Any) -> Any:
        check_format_string(owner)
        return sandboxed(*args, **kwargs)

    return formatted


def _string(value: Any) -> str:
    refuse_unstable(value)
    return soft_str(value)


def _random(value: Any) -> Any:
    raise UnstableValue(
        "the random filter picks anew on every run: the script, and so the video and its "
        "bill, would change on every apply; choose the value in the manifest instead"
    )


def _estimate(value: Any, budget: int, depth: int = 0) -> int:
    """A cheap upper-ish estimate of len(str(value)); stops counting past `budget`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (bytes, bytearray)):
        return len(value) * 4 + 3
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        if depth > 50:
            return budget + 1
        total = 2
        items = value.items() if isinstance(value, dict) else value
        for entry in items:
            total += 2 + _estimate(entry, budget - total, depth + 1)
            if total > budget:
                return total
        return total
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 1
    return 0
