"""Standard modules imported at every start but seldom used: loaded on first use instead.

`dataclasses` imports `inspect` (with ast, dis and tokenize: about 8 ms, a tenth of a
one-file validate, the pre-commit case) and uses it only to write a signature into a
dataclass that has no docstring, and every dataclass a validate run defines has one
(tests/cli/test_fast_path.py checks that such a run never loads it). So `inspect` is put
in sys.modules as a stand-in that imports the real module the first time anything is asked
of it and hands that on: code that uses it works as before, code that only imports it pays
nothing.

Written here rather than with importlib.util.LazyLoader: on Python 3.11 the `import
inspect` statement itself reads the module's `__spec__`, which makes LazyLoader run it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

DEFERRED = ("inspect",)


class DeferredModule(types.ModuleType):
    """Stands in for a module not imported yet; the first attribute asked imports it."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            sys.modules.pop(self.__name__, None)
        # Two threads at once: the import system's per-module lock runs it once.
        return getattr(importlib.import_module(self.__name__), name)


def defer_unused_modules() -> None:
    """Put a stand-in for each module of DEFERRED that nothing has imported yet."""
    for name in DEFERRED:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:  # pragma: no cover - a standard module is always there
            continue
        stand_in = DeferredModule(name)
        stand_in.__spec__ = spec
        sys.modules[name] = stand_in
