"""A large run on two CPUs: a forked process reads and renders the second half of the
files while this one does the first.

What a run gives and prints is the same split or not. The second process sends back plain
data (items, problems, project settings and what it would have written to the caches)
over a pipe; this process alone writes the caches, once, at the end. Problems of one file
(YAML, schema, expansion) are merged and sorted by place as one process sorts them. When
a script fails to render in either half (such a problem names every item it concerns,
across the run), an item id is in both halves, the run has too many items, or the second
process fails in any way, this process reads the whole run itself (the caches are warm by
then), so every message and its order come from the one-process code.

Below MIN_SPLIT_BYTES of manifests, with one usable CPU or none idle (the load average),
without `fork`, with other threads running, or with SPECSYNC_SPLIT=off, a run stays in
one process. Ctrl-C (SIGINT to
the process group or to this process alone) ends both: the second process dies of the
signal or is killed and reaped before the KeyboardInterrupt goes on (exit 130).

Written by hand (os.fork and a pipe): multiprocessing is not imported on this path, and
would cost ~10 ms more to import and set up than the split saves on its smallest runs.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import struct
import sys
import threading
from typing import TYPE_CHECKING, Any

from specsync.errors import UserError
from specsync.render import cache
from specsync.render.processes import share_cpus, usable_cpus

SPLIT_ENV = "SPECSYNC_SPLIT"  # "off": one process; "on": split any run of two files or more
SPLIT_MODES = ("", "auto", "on", "1", "yes", "true", "off", "0", "no", "false")
# Below this many bytes of manifests a split saves less wall time than it costs. Measured
# on the bench's sets: a split costs ~0.03 s of CPU (fork, copied pages, the pipe, imports
# both halves make), and saves about half the per-item work when a CPU is free: 256 KiB
# is ~1,000 items of distinct scripts (~0.025 s saved) or ~6,000 of shared ones (~0.08 s).
MIN_SPLIT_BYTES = 256 * 1024
_COUNT = struct.Struct(">q")
TOO_MANY_ITEMS = "too-many-items"  # expand's code: a half may be under the limit


class Loaded:
    """What reading and rendering some manifests gave: the items (in spec order), the
    problems (before the untranslated check), each document's project settings, and
    whether every script rendered (render problems are grouped across the whole run, so
    only a run without them merges its halves' problems). Plain data: a split run's
    second process sends it back over a pipe (below). A plain class: a dataclass costs a
    run's start ~1 ms."""

    __slots__ = ("items", "problems", "projects", "rendered_all")

    def __init__(
        self,
        items: list[Item],
        problems: list[Problem],
        projects: dict[str, ProjectSettings],
        rendered_all: bool = True,
    ) -> None:
        self.items = items
        self.problems = problems
        self.projects = projects
        self.rendered_all = rendered_all


if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from specsync.manifests.project_file import ProjectSettings
    from specsync.model import Item, Problem

    Files = Sequence[tuple[Path, str]]
    Load = Callable[[Files, Callable[[int], None] | None], Loaded]


def load_split(
    files: Files,
    load: Load,
    on_compile: Callable[[int], None] | None,
    while_waiting: Callable[[], object] | None = None,
) -> Loaded | None:
    """`load(files, on_compile)` run as two halves in two processes and merged, or run
    whole in this process when the halves cannot give what one process would; None when
    the run is not split (the caller loads it in one process). `while_waiting()` runs here
    once this half is loaded, before the other is taken: that process is usually still
    pickling its half (~10 ms for 5,000 items), time plan spends importing its modules."""
    halves = _halves(files)
    if halves is None:
        return None
    first, second = halves
    _import_shared_modules()
    # Out of the collector's sight while both processes run: a collection writes to every
    # object it visits, and each page written is copied (~5 % of the CPU time measured).
    gc.freeze()
    cache.defer_writes()
    try:
        worker = _Worker.start(second, load)
        if worker is None:
            return None
        announced = False

        def announce(count: int) -> None:
            # One notice for both halves, as one process gives (the worker tells its count).
            nonlocal announced
            announced = True
            if on_compile is not None:
                on_compile(count + worker.compile_count())

        share_cpus(2)
        try:
            mine = load(first, announce)
            if not announced and on_compile is not None and worker.compile_count():
                # Only the second half compiles: said late rather than not at all.
                announced = True
                on_compile(worker.compile_count())
            if while_waiting is not None:
                while_waiting()
            theirs = worker.result()
        finally:
            share_cpus(1)
            worker.stop()
    finally:
        gc.unfreeze()
        caches = cache.deferred_caches()
    if theirs is not None:
        loaded, harvests = theirs
        cache.absorb_harvests(caches, harvests)
    for each in caches:
        each.flush()
    if theirs is None:
        return _load_whole(files, load, on_compile, announced)
    merged = _merged(mine, loaded)
    if merged is None:
        return _load_whole(files, load, on_compile, announced)
    return merged


def _import_shared_modules() -> None:
    """Import what both halves surely run before forking, so it is imported once (CPU
    time; the wall time is the same). Jinja stays lazy: a warm run may not need it."""
    import specsync.manifests.expand
    import specsync.manifests.load
    import specsync.manifests.schema
    import specsync.manifests.untranslated
    import specsync.render.items  # noqa: F401


def _load_whole(
    files: Files, load: Load, on_compile: Callable[[int], None] | None, announced: bool
) -> Loaded:
    # The caches now hold what both halves compiled: a rerun compiles nothing, unless they
    # are off (--no-cache); then the scripts were announced already.
    return load(files, None if announced else on_compile)


def _merged(mine: Loaded, theirs: Loaded) -> Loaded | None:
    """Both halves as one, when nothing in them depends on the other half: every script
    rendered in both (a render problem names every item it concerns, across the run), no
    item id in both (a duplicate, reported at both places), not more items than one run
    may have. Problems of YAML, schema and expansion belong to one file each and are
    sorted by place when reported; those of a project file both halves read are the
    same problem twice, kept once."""
    from specsync.manifests.expand import MAX_ITEMS

    if not (mine.rendered_all and theirs.rendered_all):
        return None
    items = mine.items + theirs.items
    if len(items) > MAX_ITEMS or len({item.id for item in items}) != len(items):
        return None
    problems = mine.problems + theirs.problems
    if any(problem.code == TOO_MANY_ITEMS for problem in problems):
        return None
    seen = {_identity(problem) for problem in mine.problems}
    problems = mine.problems + [p for p in theirs.problems if _identity(p) not in seen]
    return Loaded(items, problems, {**mine.projects, **theirs.projects})


def _identity(problem: Problem) -> tuple[object, ...]:
    return (problem.location, problem.message, problem.code, problem.items)


def _halves(files: Files) -> tuple[Files, Files] | None:
    """The files in two runs of about equal size, or None when the run stays whole."""
    mode = os.environ.get(SPLIT_ENV, "").strip().lower()
    if mode not in SPLIT_MODES:
        # A typo ("of") silently meaning "auto" would be a setting that does nothing.
        raise UserError(
            f"{SPLIT_ENV} must be on, off or auto (or unset), got {os.environ[SPLIT_ENV]!r}"
        )
    if mode in ("off", "0", "no", "false") or len(files) < 2:
        return None
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None  # forking a process that runs other threads can deadlock the child
    forced = mode in ("on", "1", "yes", "true")
    if not forced and not _a_cpu_is_free():
        return None
    sizes = []
    for path, _ in files:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)  # the loader reports it
    total = sum(sizes)
    if not forced and total < MIN_SPLIT_BYTES:
        return None
    running = 0
    for index, size in enumerate(sizes):
        running += size
        if running * 2 >= total:
            cut = min(max(index + 1, 1), len(files) - 1)
            return files[:cut], files[cut:]
    return None  # pragma: no cover - the loop always reaches half


def _a_cpu_is_free() -> bool:
    """Two usable CPUs, and the last minute's load leaves one of them idle: on a busy
    machine the second process only waits for a CPU, and a split costs ~15 % more CPU
    time than one process (measured: 0.42 -> 0.52 s on the bench's 10k shared set)."""
    cpus = usable_cpus()
    if cpus < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average here
        return True
    return load < cpus - 0.5


class _Worker:
    """The forked process that loads the second half."""

    def __init__(self, pid: int, results: int, counts: int) -> None:
        self.pid = pid
        self._results = results
        self._counts = counts
        self._count: int | None = None

    @classmethod
    def start(cls, files: Files, load: Load) -> _Worker | None:
        # Output buffered now would be written twice, once by each process.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        result_read, result_write = os.pipe()
        count_read, count_write = os.pipe()
        # Ctrl-C while forking would interrupt the child's after-fork hooks, which print a
        # traceback: held until the child dies of it silently (and this process raises).
        held = _hold_sigint()
        try:
            pid = os.fork()
        except OSError:
            _release_sigint(held)
            for fd in (result_read, result_write, count_read, count_write):
                os.close(fd)
            return None
        if pid == 0:  # pragma: no cover - the child ends in os._exit (coverage never sees it)
            _run_worker(files, load, (result_read, result_write), (count_read, count_write), held)
        _release_sigint(held)
        os.close(result_write)
        os.close(count_write)
        return cls(pid, result_read, count_read)

    def compile_count(self) -> int:
        """How many scripts the worker is about to compile (waits until it knows)."""
        if self._count is None:
            data = _read_all(self._counts, _COUNT.size)
            self._count = _COUNT.unpack(data)[0] if len(data) == _COUNT.size else 0
        return self._count

    def result(self) -> tuple[Loaded, list[cache.CacheHarvest]] | None:
        """What the worker loaded and harvested, or None if it failed."""
        data = _read_all(self._results)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
            return None
        import pickle  # only a split run needs it (~2 ms to import)

        try:
            loaded, harvests = pickle.loads(data)
        except Exception:
            return None
        return loaded, harvests

    def stop(self) -> None:
        """Close the pipes; a worker still running (this process was interrupted) is
        killed and reaped, never left behind."""
        for fd in (self._results, self._counts):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def _hold_sigint() -> bool:
    """Block SIGINT in this thread (True), where the platform can."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not on Linux or macOS
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _release_sigint(held: bool) -> None:
    if held:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _run_worker(  # pragma: no cover - runs in the child, which coverage does not follow
    files: Files, load: Load, result_pipe: tuple[int, int], count_pipe: tuple[int, int], held: bool
) -> None:
    """The child's whole life: load, send, exit without running the parent's cleanup
    (atexit handlers, buffered output, the cache flush are the parent's). It never
    returns: nothing may run on as a copy of the parent."""
    code = 1
    try:
        # Ctrl-C reaches the whole process group: die of it at once, silently; the
        # parent reports the interruption.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _release_sigint(held)
        os.close(result_pipe[0])
        os.close(count_pipe[0])
        results, counts = result_pipe[1], count_pipe[1]
        share_cpus(2)
        told = False

        def tell(count: int) -> None:
            nonlocal told
            if not told:
                told = True
                _write_all(counts, _COUNT.pack(count))

        loaded = load(files, tell)
        tell(0)
        os.close(counts)
        harvests = [each.harvest() for each in cache.deferred_caches()]
        _write_all(results, _pickled((loaded, harvests)))
        code = 0
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _pickled(value: object) -> bytes:
    """`value` pickled, items and places as their fields: a frozen dataclass's default
    reduction (its `__dict__` through copyreg) costs ~6 us an item, most of what a half's
    results cost to send. Unpickled, each is made by its class, as the loader made it."""
    import dataclasses
    import io
    import operator
    import pickle  # only a split run needs it (~2 ms to import)

    from specsync.model import Item, Location

    def by_fields(kind: type) -> Callable[[Any], tuple[Callable[..., Any], tuple[Any, ...]]]:
        names = [field.name for field in dataclasses.fields(kind) if field.init]
        values = operator.attrgetter(*names)
        return lambda instance: (kind, values(instance))

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {Item: by_fields(Item), Location: by_fields(Location)}
    pickler.dump(value)
    return buffer.getvalue()


def _read_all(fd: int, limit: int | None = None) -> bytes:
    chunks = []
    size = 0
    while limit is None or size < limit:
        chunk = os.read(fd, 1 << 20 if limit is None else limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
