"""Where `{% include %}`d files come from: one root folder, nothing outside it, nothing that
is not a regular UTF-8 file of bounded size."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Template, TemplateNotFound
from jinja2.environment import Environment

from specsync.regular_files import NotRegular, read_regular
from specsync.render.limits import MAX_INCLUDE_BYTES, MAX_TEMPLATE_CHARS
from specsync.render.skeleton import SLOT_PREFIX


class RootLoader(BaseLoader):
    """Loads `{% include %}`d files from under one root, and never from anywhere else.

    Names are relative, `/`-separated paths; absolute paths, `..`, backslashes and any path
    whose real location (symlinks resolved) is outside the root are refused.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def load(
        self, environment: Environment, name: str, globals: MutableMapping[str, Any] | None = None
    ) -> Template:
        template = super().load(environment, name, globals)
        # As for scripts (compiling.template_from_code): Jinja's ChainMap of globals is
        # walked whole by every context made for the template (each include makes one);
        # a dict of the same names, which never change, is several times faster.
        template.globals = dict(template.globals)
        return template

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        name = template
        if not name or name.startswith("/") or "\\" in name or ":" in name.split("/")[0]:
            raise TemplateNotFound(f"{name} (include paths are relative to the manifest root)")
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise TemplateNotFound(f"{name} (include paths may not use '.', '..' or '//')")
        path = self.root.joinpath(*parts)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise TemplateNotFound(f"{name} (no such file under {self.root})") from None
        if not real.is_relative_to(self.root):
            raise TemplateNotFound(f"{name} (it leads outside the manifest root)")
        if not real.is_file():
            raise TemplateNotFound(f"{name} (not a regular file)")
        try:
            raw = read_regular(real, MAX_INCLUDE_BYTES)
        except NotRegular:  # swapped for a FIFO since the check: never blocks
            raise TemplateNotFound(f"{name} (not a regular file)") from None
        if len(raw) > MAX_INCLUDE_BYTES:
            raise TemplateNotFound(f"{name} (larger than {MAX_INCLUDE_BYTES:,} bytes)")
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise TemplateNotFound(f"{name} (not UTF-8 at byte {error.start})") from None
        if source.startswith("\ufeff"):
            source = source[1:]
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateNotFound(f"{name} (over {MAX_TEMPLATE_CHARS:,} characters)")
        if SLOT_PREFIX in source:  # names render/skeleton.py gives a shape's text runs
            raise TemplateNotFound(f"{name} (it uses a name reserved by specsync: {SLOT_PREFIX})")
        return source, str(real), lambda: True
