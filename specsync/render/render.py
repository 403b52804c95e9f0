"""Render item specs into items: each script through the sandbox, bounded, normalised.

Every failure becomes a Problem at the manifest line of the script (and names the line
inside the template when Jinja knows it); nothing a template does can crash specsync or
run longer than RENDER_SECONDS.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from specsync.model import Item, ItemSpec, Location, Problem, build_request
from specsync.render.cache import TemplateCache, environment_fingerprint
from specsync.render.compiling import compile_template, compile_templates, template_from_code
from specsync.render.limits import MAX_RAW_OUTPUT, MAX_SCRIPT_CHARS, MAX_TEMPLATE_CHARS
from specsync.render.sandbox import ScriptEnvironment
from specsync.render.skeleton import Shape, choose_shapes, render_plain
from specsync.render.snippets import UNDEFINED_NAME, included_location, unincluded_problems
from specsync.render.text import checked_text, normalise

# The rendered script limit and the raw output at which a streaming render is stopped
# live in render/limits.py; normalising and checking a text in render/text.py.
__all__ = ["MAX_RAW_OUTPUT", "MAX_SCRIPT_CHARS", "Renderer", "normalise", "render_items"]
RENDER_SECONDS = 2.0
# Address space a render may add before allocations fail (Linux only): a backstop behind
# the sandbox's own size checks, so no template can take the machine's memory.
MEMORY_HEADROOM = 1024**3
# The filename Jinja gives a template compiled from a string; the compiled-template cache
# compiles scripts the same way, so tracebacks map back to script lines either way.
SCRIPT_FILENAME = "<template>"


class RenderTimeout(Exception):
    """Raised inside a render that ran longer than RENDER_SECONDS."""


class OutputTooLong(Exception):
    """The streamed output went past MAX_RAW_OUTPUT."""


class _Alarm:
    """A per-render wall-clock limit via SIGALRM (main thread only; elsewhere, none).

    The handler is installed once per run (`installed`). The timer is not stopped after
    each render and started again for the next (two system calls per item, most of the
    cost of a quick render): each render sets its own deadline, and a timer still running
    from an earlier one, when it fires, starts again for what is left of the current one.
    """

    def __init__(self) -> None:
        self.active = False
        self.ready = False
        self._deadline = 0.0  # time.monotonic() at which the active render is stopped
        self._ticking = False  # the timer is running

    def _on_alarm(self, signum: int, frame: Any) -> None:
        self._ticking = False
        if not self.active:
            return
        left = self._deadline - time.monotonic()
        if left > 0:  # started for an earlier render: this one still has time
            self._ticking = True
            signal.setitimer(signal.ITIMER_REAL, left)
            return
        self.active = False
        raise RenderTimeout()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        usable = hasattr(signal, "setitimer") and (
            threading.current_thread() is threading.main_thread()
        )
        if not usable or self.ready:
            yield
            return
        previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        started = time.monotonic()
        self.ready = True
        try:
            yield
        finally:
            self.ready = False
            self.active = False
            self._ticking = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            if previous_delay:
                # Someone else (a test runner's timeout) had an alarm set: give it back.
                left = previous_delay - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))

    def arm(self, seconds: float) -> None:
        """Start the limit of one render (a no-op unless `installed` is in effect)."""
        if self.ready:
            # The deadline before `active`, so that an expiry in between is judged right.
            self._deadline = time.monotonic() + seconds
            self.active = True
            if not self._ticking:
                self._ticking = True
                signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm(self) -> None:
        # The timer runs on: the next render reuses it; an expiry between renders does
        # nothing (`active` is False).
        self.active = False


@contextlib.contextmanager
def memory_ceiling(headroom: int = MEMORY_HEADROOM) -> Iterator[None]:
    """Lower the soft address-space limit to current use + headroom while rendering."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    ceiling = used + headroom
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    if soft != resource.RLIM_INFINITY and soft <= ceiling:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# What compiling a script can raise because of the script (its syntax, its size): any
# other exception while compiling is a bug in specsync's code generator, never reported
# as the user's template error.
COMPILE_FAILURES = (
    TemplateError,
    RecursionError,
    SyntaxError,
    MemoryError,
    ValueError,
    OverflowError,
)


class Renderer:
    """Compiles each distinct script once per run and renders items with it."""

    def __init__(self, root: Path, *, use_cache: bool = False, cwd: Path | None = None) -> None:
        self.root = root
        self.cwd = cwd  # included files are named relative to it (an editor opens them)
        self._snippet_lines: dict[tuple[str, int], str] = {}  # see included_location
        self.environment = ScriptEnvironment(root)
        # The persistent, authenticated compiled-template cache (specsync.render.cache).
        self.cache = TemplateCache(environment_fingerprint(self.environment), enabled=use_cache)
        self._compiled: dict[str, Template | BaseException] = {}
        self._shapes: dict[str, Shape] = {}  # set by precompile: the scripts worth a shape
        self.alarm = _Alarm()

    def compile(self, source: str) -> Template:
        found = self._compiled.get(source)
        if found is None:
            try:
                found = template_from_code(
                    self.environment, compile_template(self.environment, source)
                )
            except COMPILE_FAILURES as error:  # the template's fault; anything else: a bug
                found = error
            self._compiled[source] = found
        if isinstance(found, BaseException):
            raise found
        return found

    def precompile(
        self, specs: Sequence[ItemSpec], on_compile: Callable[[int], None] | None = None
    ) -> None:
        """Every distinct script at once: from the cache when it holds it, the rest compiled
        (in parallel when there are many) and stored. Failures are left for `compile` to
        report, under the render timeout, at the right place."""
        uses = Counter(
            spec.template
            for spec in specs
            if isinstance(spec.template, str) and len(spec.template) <= MAX_TEMPLATE_CHARS
        )
        # Scripts of one shape share its compiled code; those that only print variables
        # need none (render/skeleton.py; a value it cannot print compiles one then).
        self._shapes = choose_shapes(uses)
        sources = []
        for source in uses:
            shape = self._shapes.get(source)
            if shape is None:
                sources.append(source)
            elif shape.plain is None:
                sources.append(shape.skeleton)
        templates = compile_templates(self.environment, sources, self.cache, on_compile=on_compile)
        self._compiled.update(templates)

    def render(self, spec: ItemSpec) -> str | Problem:
        source = spec.template if isinstance(spec.template, str) else str(spec.template)
        if len(source) > MAX_TEMPLATE_CHARS:
            return Problem(
                spec.template_location,
                f"script is {len(source):,} characters long; the limit is {MAX_TEMPLATE_CHARS:,}",
                code="script-too-long",
            )
        if not self.alarm.ready:  # a render outside render_items: install for this one
            with self.alarm.installed():
                return self._render(spec, source)
        return self._render(spec, source)

    def _render(self, spec: ItemSpec, source: str) -> str | Problem:
        shape = self._shapes.get(source)
        if shape is not None:
            raw = self._render_shape(spec, shape)
            if raw is not None:
                return self._checked(spec, raw)
        return self._render_source(spec, source)

    def _render_shape(self, spec: ItemSpec, shape: Shape) -> str | None:
        """The raw output of the script through its shared shape; None on any error, which
        the script's own template then reports exactly (message, line)."""
        if shape.plain is not None:  # only text and variables: no template to run
            text = render_plain(shape, spec.variables, MAX_RAW_OUTPUT)
            if text is not None:
                return text
        try:
            self.alarm.arm(RENDER_SECONDS)
            try:
                template = self.compile(shape.skeleton)
                return "".join(self._pieces(template, {**spec.variables, **shape.slots}))
            finally:
                self.alarm.disarm()
        except Exception:
            return None

    @staticmethod
    def _pieces(template: Template, variables: Mapping[str, Any]) -> list[str]:
        # What Template.generate does, minus a generator layer per piece of output (this
        # loop is most of a large validate); errors get Jinja's template traceback in
        # _render_source, as generate would give them.
        # What new_context(variables) makes (globals under the variables, every key a
        # string), merged in one step rather than dict(globals, **variables)'s two.
        merged = {**template.globals, **variables}
        context = template.new_context(merged, shared=True)
        pieces: list[str] = []
        size = 0
        for piece in template.root_render_func(context):
            size += len(piece)
            if size > MAX_RAW_OUTPUT:
                raise OutputTooLong()
            pieces.append(piece)
        return pieces

    def _render_source(self, spec: ItemSpec, source: str) -> str | Problem:
        template: Template | None = None
        try:
            self.alarm.arm(RENDER_SECONDS)
            try:
                template = self.compile(source)
                pieces = self._pieces(template, spec.variables)
            finally:
                self.alarm.disarm()
        except Exception as error:
            if template is None and not isinstance(error, (*COMPILE_FAILURES, RenderTimeout)):
                raise  # no template ran yet: an error in specsync's own code (exit 3)
            if template is None or isinstance(error, OutputTooLong):
                return self._failure(spec, error, error.__traceback__)
            try:  # frames of the compiled template, rewritten to the template's lines
                self.environment.handle_exception()
            except Exception as rewritten:
                return self._failure(spec, rewritten, rewritten.__traceback__)
            raise AssertionError("unreachable: handle_exception always raises") from error
        return self._checked(spec, "".join(pieces))

    def _checked(self, spec: ItemSpec, raw: str) -> str | Problem:
        """The rendered script normalised, or why it cannot be sent."""
        return checked_text(spec, raw)

    def _failure(
        self, spec: ItemSpec, error: BaseException, trace: TracebackType | None
    ) -> Problem:
        filename, line = _template_position(error, trace)
        code, message = _describe(error, spec)
        location = spec.template_location
        if filename and filename != SCRIPT_FILENAME:
            # In an included file: located there (an editor can open it), and the script
            # that included it is named after (see _merge_failures).
            return Problem(
                included_location(filename, line, error, self.cwd, self._snippet_lines),
                message,
                code=code,
                items=(spec.id,),
            )
        if line:
            multi_line = "\n" in spec.template
            if spec.template_first_line and multi_line:
                mapped = spec.template_first_line + line - 1
                if mapped != location.line:
                    location = Location(location.path, mapped, 1)
            if multi_line:
                message = f"{message} (script line {line})"
        return Problem(location, message, code=code, items=(spec.id,))


def _template_position(
    error: BaseException, trace: TracebackType | None
) -> tuple[str | None, int | None]:
    """(template filename, line) of the innermost template frame, as far as known."""
    if isinstance(error, TemplateSyntaxError):
        return error.filename or SCRIPT_FILENAME, error.lineno
    found: tuple[str | None, int | None] = (None, None)
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        # A template's frame: the script's, or an included file's (not Python's own
        # frozen modules, `<frozen posixpath>`, which end in no `.py` either).
        if filename == SCRIPT_FILENAME or not (
            filename.endswith(".py") or filename.startswith("<frozen ")
        ):
            found = (filename, trace.tb_lineno)
        trace = trace.tb_next
    return found


def _describe(error: BaseException, spec: ItemSpec) -> tuple[str, str]:
    """(code, message) of a render failure; codes are listed in docs/problems.md."""
    if isinstance(error, RenderTimeout):
        return "render-timeout", (
            f"script took longer than {RENDER_SECONDS:g} s to render and was stopped"
        )
    if isinstance(error, OutputTooLong):
        return "script-too-long", (
            f"rendered script is over {MAX_SCRIPT_CHARS:,} characters; the limit is reached"
        )
    if isinstance(error, RecursionError):
        return "template-recursion", "template recursion too deep (does a macro call itself?)"
    if isinstance(error, MemoryError):
        return "template-memory", "script needed too much memory to render and was stopped"
    if isinstance(error, TemplateSyntaxError):
        return "template-syntax", f"template syntax error: {error.message}"
    if isinstance(error, UndefinedError):
        return "undefined-variable", f"undefined: {error.message}{_undefined_hint(error, spec)}"
    if isinstance(error, TemplateNotFound):
        return "include-not-found", f"cannot include {error.message}"
    if isinstance(error, SecurityError):
        return "sandbox", f"refused by the template sandbox: {error}"
    text = str(error) or type(error).__name__
    return "template-error", f"template error: {text}"


def _undefined_hint(error: UndefinedError, spec: ItemSpec) -> str:
    """ "(did you mean 'name'?)" for a misspelt variable, as for unknown keys; else the list
    of variables the script has."""
    names = sorted(spec.variables)
    missing = UNDEFINED_NAME.match(error.message or "")
    if missing:
        guess = difflib.get_close_matches(missing.group(1), names, n=1)
        if guess:
            return f" (did you mean {guess[0]!r}?)"
    known = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (variables: {known})"


def _merge_failures(failures: list[tuple[str, Problem, Location]]) -> list[Problem]:
    """One problem per place and message, naming the items it concerns; a problem inside
    an included file also names the scripts that included it."""
    grouped: dict[Problem, tuple[list[str], dict[Location, None]]] = {}
    for item_id, failure, script_at in failures:
        ids, sites = grouped.setdefault(failure, ([], {}))
        ids.append(item_id)
        if failure.location != script_at:
            sites[script_at] = None
    problems = []
    for failure, (ids, sites) in grouped.items():
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        label = "item" if len(ids) == 1 else "items"
        message = f"{failure.message} [{label} {shown}]"
        if sites:
            places = [str(site) for site in list(sites)[:3]]
            more = f" and {len(sites) - 3} more" if len(sites) > 3 else ""
            message += f"\nincluded from {', '.join(places)}{more}"
        problems.append(
            Problem(failure.location, message, code=failure.code, items=tuple(sorted(ids)))
        )
    return problems


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

    `use_cache`: keep compiled scripts in the persistent, authenticated template cache
    (`specsync.render.cache`); `--no-cache` turns it off. `on_compile(n)` hears how many
    scripts are about to be compiled (those the cache does not hold), before they are.
    Included files are named relative to `cwd` (default: the current folder). With
    `check_unincluded`, a template file under `root` that no script included is still
    syntax-checked (the caller says so when `root` is the manifests' own folder, not a
    fallback that may be any checkout).
    """
    renderer = Renderer(root, use_cache=use_cache, cwd=cwd)
    renderer.precompile(specs, on_compile)
    items: list[Item] = []
    failures: list[tuple[str, Problem, Location]] = []
    # Deep template recursion must end as a RecursionError well before the C stack does.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(limit, 1000))
    try:
        with memory_ceiling(), renderer.alarm.installed():
            for spec in specs:
                result = renderer.render(spec)
                if isinstance(result, Problem):
                    failures.append((spec.id, result, spec.template_location))
                    continue
                request = build_request(spec.locale, result, spec.fields)
                items.append(Item(spec.id, spec.video, spec.locale, request, spec.source))
    finally:
        sys.setrecursionlimit(limit)
    problems = _merge_failures(failures)
    if check_unincluded:
        checked = {p.location.path for p in problems}
        problems.extend(unincluded_problems(renderer.environment, root, checked, cwd))
    return items, problems
