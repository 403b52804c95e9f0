"""Compiling scripts into Jinja templates: one at a time, or many at once in forked
processes, taking what the compiled-template cache (render/cache.py) already holds."""

from __future__ import annotations

import marshal
import threading
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from types import CodeType
from typing import Any

from jinja2 import Environment, Template

from specsync.render.cache import TemplateCache
from specsync.render.processes import cpus_of_this_process, usable_cpus

__all__ = ["compile_template", "compile_templates", "template_from_code", "usable_cpus"]

# Below this many templates to compile, one process is faster than forking a second.
PARALLEL_THRESHOLD = 500


def compile_template(env: Environment, source: str) -> CodeType:
    """The code object `env.from_string(source)` would build (raises as it does)."""
    code = env.compile(source)
    assert isinstance(code, CodeType)
    return code


def template_from_code(
    env: Environment, code: CodeType, globals: MutableMapping[str, Any] | None = None
) -> Template:
    """A `Template` from compiled code, exactly as `Environment.from_string` builds one."""
    template = env.template_class.from_code(env, code, env.make_globals(globals), None)
    # Jinja keeps globals as a ChainMap (template's over the environment's), which every
    # render copies into a new dict; a plain dict of the same names copies several times
    # faster. The environment's globals never change after it is built.
    template.globals = dict(template.globals)
    return template


def compile_templates(
    env: Environment,
    sources: Iterable[str],
    cache: TemplateCache | None = None,
    *,
    processes: int | None = None,
    on_compile: Callable[[int], None] | None = None,
) -> dict[str, Template]:
    """A Template for each distinct source, from the cache when it has it.

    Sources that fail to compile are left out: the caller compiles those itself (with
    `env.from_string`) to report the error at the right place. The rest are compiled in
    `processes` processes (default: the CPUs, above PARALLEL_THRESHOLD misses), stored
    in the cache and flushed. `on_compile(n)` hears how many are about to be compiled.
    """
    templates: dict[str, Template] = {}
    codes: dict[str, CodeType] = {}
    missing: list[str] = []
    for source in dict.fromkeys(sources):
        code = cache.load(source) if cache is not None else None
        if code is None:
            missing.append(source)
        else:
            codes[source] = code
    if missing and on_compile is not None:
        on_compile(len(missing))
    compiled = _compile_all(env, missing, processes)
    for source, code in compiled.items():
        if cache is not None:
            cache.store(source, code)
        codes[source] = code
    if cache is not None:
        cache.flush()
    for source, code in codes.items():
        templates[source] = template_from_code(env, code)
    return templates


def _compile_all(
    env: Environment, sources: Sequence[str], processes: int | None
) -> dict[str, CodeType]:
    if processes is None:
        processes = cpus_of_this_process() if len(sources) >= PARALLEL_THRESHOLD else 1
    if processes > 1 and _can_fork():
        return _compile_forked(env, sources, processes)
    return _compile_here(env, sources)


def _compile_here(env: Environment, sources: Sequence[str]) -> dict[str, CodeType]:
    compiled = {}
    for source in sources:
        try:
            compiled[source] = compile_template(env, source)
        except Exception:  # the caller compiles it again to report the error
            continue
    return compiled


def _can_fork() -> bool:
    # Forking a process that runs other threads can deadlock the child.
    import multiprocessing  # imported when needed: most runs compile nothing

    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


# Set just before forking: the children inherit the environment instead of rebuilding it.
_FORK_ENVIRONMENT: Environment | None = None


def _compile_chunk(connection: Any, sources: Sequence[str]) -> None:
    assert _FORK_ENVIRONMENT is not None
    compiled = _compile_here(_FORK_ENVIRONMENT, sources)
    payloads = [marshal.dumps(compiled[s]) if s in compiled else None for s in sources]
    connection.send(payloads)
    connection.close()


def _compile_forked(
    env: Environment, sources: Sequence[str], processes: int
) -> dict[str, CodeType]:
    """Split the sources; forked children compile all chunks but the first, which this
    process compiles meanwhile. A child that fails leaves its chunk to this process."""
    global _FORK_ENVIRONMENT
    import multiprocessing

    context = multiprocessing.get_context("fork")
    chunks = [list(sources[i::processes]) for i in range(processes)]
    workers = []
    _FORK_ENVIRONMENT = env
    try:
        for chunk in chunks[1:]:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_compile_chunk, args=(sender, chunk), daemon=True)
            process.start()
            sender.close()
            workers.append((process, receiver, chunk))
    finally:
        _FORK_ENVIRONMENT = None
    compiled = _compile_here(env, chunks[0])
    for process, receiver, chunk in workers:
        try:
            payloads = receiver.recv()
        except (EOFError, OSError):
            payloads = None
        finally:
            receiver.close()
            process.join()
            process.close()
        if payloads is None or len(payloads) != len(chunk):
            compiled.update(_compile_here(env, chunk))
            continue
        for source, payload in zip(chunk, payloads, strict=True):
            if payload is not None:
                compiled[source] = marshal.loads(payload)
    return compiled
