"""What a cache entry's key covers besides its source: specsync's, Jinja2's and Python's
versions and the settings of the Jinja environment that compiled it."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specsync import __version__

if TYPE_CHECKING:
    from jinja2 import Environment

FORMAT = 1


def jinja_version() -> str:
    """Jinja2's version, read from its package without importing it: a run whose scripts
    all come from the rendered-text cache (render/items.py) never loads Jinja (~20 ms)."""
    loaded = sys.modules.get("jinja2")
    if loaded is not None:
        return str(loaded.__version__)
    spec = importlib.util.find_spec("jinja2")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            source = Path(spec.origin).read_text(encoding="utf-8")
            found = re.search(r"^__version__ = [\"']([^\"']+)[\"']", source, re.MULTILINE)
            if found:
                return found.group(1)
    import jinja2

    return str(jinja2.__version__)


# Everything that changes the compiled code besides the source and the environment.
VERSION_FINGERPRINT = "|".join(
    (
        f"specsync-template-cache-{FORMAT}",
        f"specsync-{__version__}",
        f"jinja2-{jinja_version()}",
        sys.implementation.cache_tag or sys.implementation.name,
        importlib.util.MAGIC_NUMBER.hex(),
    )
)


def environment_fingerprint(env: Environment) -> str:
    """The settings of `env` that shape the code Jinja generates for a template.

    The render module may pass its own fingerprint instead; this one covers the class (a
    sandbox generates different code), delimiters, whitespace handling, autoescape,
    finalize, extensions and the sandbox's intercepted operators.
    """
    cls = type(env)
    parts: list[Any] = [
        f"{cls.__module__}.{cls.__qualname__}",
        getattr(env, "sandboxed", False),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        _describe(env.autoescape),
        _describe(env.finalize),
        sorted(env.extensions),
        sorted(getattr(env, "intercepted_binops", ())),
        sorted(getattr(env, "intercepted_unops", ())),
        _describe(env.code_generator_class),
        _describe(env.template_class),
    ]
    return repr(parts)


def _describe(value: object) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
