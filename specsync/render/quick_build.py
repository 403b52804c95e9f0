"""Building many of model's frozen dataclasses quickly.

A frozen dataclass's `__init__` sets each field through `object.__setattr__` (its own
`__setattr__` refuses): ~1.6 us for an ItemSpec's nine fields, 10,000 times a large run.
`builder(ItemSpec)` gives a function taking the same keyword arguments that fills the
instance's `__dict__` at once (~0.4 us), the object the constructor makes, field for field.

Only where that is exactly what the constructor does: a dataclass whose every field is an
`__init__` argument with no default factory, without `__post_init__`, `__slots__` or
InitVars. Any other class gets its constructor back, so a change to the model can cost
speed, never correctness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def builder(kind: type[T]) -> Callable[..., T]:
    """A function with `kind`'s keyword arguments that builds what `kind(**arguments)`
    builds. Arguments that are not exactly every field (a default left out, a name
    misspelt) go to the constructor, which fills in or refuses as always."""
    if not _plain(kind):
        return kind
    new = object.__new__
    names = frozenset(field.name for field in dataclasses.fields(kind))  # type: ignore[arg-type]

    def build(**fields: Any) -> T:
        if fields.keys() != names:
            return kind(**fields)
        instance = new(kind)
        instance.__dict__.update(fields)
        return instance

    return build


def _plain(kind: type) -> bool:
    if not dataclasses.is_dataclass(kind) or hasattr(kind, "__post_init__"):
        return False
    if "__slots__" in vars(kind):
        return False
    params = getattr(kind, "__dataclass_params__", None)
    code = getattr(vars(kind).get("__init__"), "__code__", None)
    if params is None or not params.init or code is None or not code.co_filename.startswith("<"):
        return False  # an __init__ written by hand (dataclasses builds its own from a string)
    return all(
        field.init and field.default_factory is dataclasses.MISSING
        for field in dataclasses.fields(kind)
    )
