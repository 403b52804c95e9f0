"""Render item specs into items, loading Jinja only for the scripts that need it.

Three ways to a script's text, cheapest first, each giving exactly what Jinja gives:

1. a script that only prints variables (`Hi {{ name }}`, or no tag at all) is joined
   from its text and values (render/skeleton.py);
2. a script that many items share, written in the small part of Jinja that
   render/subset.py renders (filters, conditions, loops, includes of such files), is
   rendered there;
3. a script rendered in an earlier run, with the same variables and included files, is
   read from the rendered-text cache (render/text_cache.py);
4. the rest go through the sandbox (render/render.py), which imports Jinja (about 30 ms),
   and what they render to is stored for the next run.

A warm run of unchanged manifests, the pre-commit and CI case, is then YAML + schema +
lookups. Any failure (a Problem) is always rendered by Jinja, so its message and place are
Jinja's as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from specsync.model import Item, ItemSpec, Problem, build_request
from specsync.render import subset, subset_parse
from specsync.render.limits import MAX_RAW_OUTPUT, MAX_TEMPLATE_CHARS
from specsync.render.skeleton import Shape, render_plain, shape_of
from specsync.render.snippets import IncludeRefused, display_path, read_included, snippet_files
from specsync.render.text import checked_text
from specsync.render.text_cache import RenderedTexts

# A script used by more items than this is not cached: a text per item would cost a store
# on the first run and a lookup on every run for little gain (measured: 10,000 items of five
# shared scripts, 0.78x -> 1.18x check-jsonschema cold, 0.76x -> 0.74x warm). It is
# rendered by render/subset.py when it can be, else compiled once and rendered by Jinja. A
# pre-commit run of one file stays under it and skips Jinja through the cache.
MAX_CACHED_USES = 100


class _Subset:
    """The scripts of one run that render/subset.py renders, parsed once each, and the
    included files it read (parsed, hence valid Jinja syntax)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.programs: dict[str, subset.Program | None] = {}
        self.included: dict[str, subset.Program | None] = {}
        self.parsed_files: set[str] = set()

    def render(self, source: str, variables: object) -> str | None:
        if source in self.programs:
            program = self.programs[source]
        else:
            program = self.programs[source] = subset_parse.parse(source)
        if program is None or type(variables) is not dict:
            return None
        return subset.render(program, variables, self.find, MAX_RAW_OUTPUT)

    def find(self, name: str) -> subset.Program | None:
        """The program of an included file, as the sandbox's loader would find it."""
        if name in self.included:
            return self.included[name]
        try:
            source, filename = read_included(self.root, name)
        except (IncludeRefused, OSError, ValueError):  # Jinja's loader reports it
            program = None
        else:
            program = subset_parse.parse(source)
            if program is not None:
                self.parsed_files.add(filename)
        self.included[name] = program
        return program


def render_items(
    specs: Sequence[ItemSpec],
    root: Path,
    *,
    use_cache: bool = True,
    on_compile: Callable[[int], None] | None = None,
    cwd: Path | None = None,
    check_unincluded: bool = False,
) -> tuple[list[Item], list[Problem]]:
    """Items for every spec that renders, and one problem per failure (place and message).

    As `specsync.render.render.render_items` (which renders what is left here), plus the
    rendered-text cache, which `use_cache=False` (`--no-cache`) turns off with the rest.
    """
    texts = RenderedTexts(root, enabled=use_cache)
    done: list[tuple[int, Item]] = []
    pending: list[ItemSpec] = []
    at: dict[str, int] = {}  # spec id -> its place among the specs
    to_store: dict[str, str] = {}  # spec id -> its material, for what Jinja renders
    shapes: dict[str, Shape | None] = {}
    shared = _Subset(root)
    uses = Counter(spec.template for spec in specs)
    for index, spec in enumerate(specs):
        cacheable = uses[spec.template] <= MAX_CACHED_USES
        text = _without_jinja(spec, texts if cacheable else shared, shapes, to_store)
        if text is None:
            at[spec.id] = index
            pending.append(spec)
        else:
            request = build_request(spec.locale, text, spec.fields)
            done.append((index, Item(spec.id, spec.video, spec.locale, request, spec.source)))
    problems: list[Problem] = []
    templates = snippet_files(root) if check_unincluded else []
    if shared.parsed_files:  # parsed by render/subset.py: Jinja's parser takes them too
        templates = [path for path in templates if str(path.resolve()) not in shared.parsed_files]
    if pending or not texts.snippets_known_good(templates):
        from specsync.render import render  # imports Jinja

        rendered, problems = render.render_items(
            pending,
            root,
            use_cache=use_cache,
            on_compile=on_compile,
            cwd=cwd,
            check_unincluded=check_unincluded,
        )
        for item in rendered:
            done.append((at[item.id], item))
            material = to_store.get(item.id)
            if material is not None:
                texts.put(material, item.request["text"], item.source.path)
        troubled = {problem.location.path for problem in problems}
        texts.remember_good_snippets(
            path for path in templates if display_path(str(path.resolve()), cwd) not in troubled
        )
    texts.flush()
    done.sort(key=lambda placed: placed[0])
    return [item for _, item in done], problems


def _without_jinja(
    spec: ItemSpec,
    texts: RenderedTexts | _Subset,
    shapes: dict[str, Shape | None],
    to_store: dict[str, str],
) -> str | None:
    """The spec's text when it needs no Jinja (a plain script, a script many items share
    that render/subset.py renders, or a cached text); else None, noting in `to_store`
    what to store its text under once Jinja has rendered it."""
    source = spec.template
    if type(source) is not str or len(source) > MAX_TEMPLATE_CHARS:
        return None
    # Only a script with no statement or comment can be plain: the rest skip the shape.
    if "{%" in source or "{#" in source:
        shape = None
    elif source in shapes:
        shape = shapes[source]
    else:
        shape = shapes[source] = shape_of(source)
    if shape is not None and shape.plain is not None:
        raw = render_plain(shape, spec.variables, MAX_RAW_OUTPUT)
        checked = None if raw is None else checked_text(spec, raw)
        # A failure (or a value only Jinja prints) is Jinja's to report.
        return checked if isinstance(checked, str) else None
    if type(texts) is _Subset:
        raw = texts.render(source, spec.variables)
        checked = None if raw is None else checked_text(spec, raw)
        return checked if isinstance(checked, str) else None
    assert isinstance(texts, RenderedTexts)
    material = texts.material(spec)
    if material is None:
        return None
    cached = texts.get(material, spec.source.path)
    if cached is None:
        to_store[spec.id] = material
    return cached
