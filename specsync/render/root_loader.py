"""Where `{% include %}`d files come from: one root folder, nothing outside it, nothing that
is not a regular UTF-8 file of bounded size."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Template, TemplateNotFound
from jinja2.environment import Environment

from specsync.render.snippets import IncludeRefused, read_included


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
        try:
            source, filename = read_included(self.root, template)
        except IncludeRefused as refused:
            raise TemplateNotFound(str(refused)) from None
        return source, filename, lambda: True
