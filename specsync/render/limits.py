"""The render wing's bounds and the tag opener, in a module that imports no Jinja: the
renderer's front (render/items.py) checks scripts against them before deciding whether
Jinja is needed at all."""

from __future__ import annotations

import re

# Largest string/list/bytes an operation may build (twice the rendered-script limit: room
# for markup that is later stripped, nothing near what could hurt the machine).
MAX_VALUE = 100_000
# Largest integer an operation may build, in bits (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
# Widest field a format specification, padding method or filter may ask for.
MAX_WIDTH = 10_000
# Largest template source (a script or an included file) compiled at all.
MAX_TEMPLATE_CHARS = 200_000
# Largest file `{% include %}` reads.
MAX_INCLUDE_BYTES = 1024 * 1024
# The rendered script limit (after normalisation), and the raw output at which a streaming
# render is stopped (room for outer whitespace that normalisation strips).
MAX_SCRIPT_CHARS = 50_000
MAX_RAW_OUTPUT = 2 * MAX_SCRIPT_CHARS

# Where a tag, expression or comment opens.
TAG_START = re.compile(r"\{[{%#]")
