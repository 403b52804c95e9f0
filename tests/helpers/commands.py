"""Running specsync as a test does: in this process (`specsync`, the default), or as a real
process (`run` with `SPECSYNC`) when the process itself is what is tested.

In-process runs call `specsync.cli.main.main()` with the arguments, working folder,
environment and standard streams a real process would get, and give back the same
`CompletedProcess` a real run gives, in a fraction of the time (no interpreter start, no
imports). A real process is still the way for what only a process has: a signal or a kill,
a terminal, the installed console script, `python -m specsync`, two runs at once, a tool
(git, pre-commit) starting specsync, or a locale or encoding set in the environment.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import pytest

__all__ = ["SPECSYNC", "SPECSYNC_MODULE", "env_for", "forked_specsync", "run", "specsync"]

# The installed console script, as users run it.
SPECSYNC = shutil.which("specsync") or str(Path(sys.executable).parent / "specsync")
# `python -m specsync` with the interpreter running the tests.
SPECSYNC_MODULE = [sys.executable, "-m", "specsync"]


def env_for(base_url: str, *, key: str = "test-key", **extra: str) -> dict[str, str]:
    """This process's environment pointed at the service at `base_url` with API key `key`
    (no appId/userKey), plus `extra` variables."""
    env = dict(os.environ)
    env.pop("AISTUDIOS_APP_ID", None)
    env.pop("AISTUDIOS_USER_KEY", None)
    env.update(SPECSYNC_API_BASE=base_url, AISTUDIOS_API_KEY=key, **extra)
    return env


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run a command as a real process in `cwd` (always given: specsync finds manifests from
    there), text output captured, never raising on a non-zero exit. `env` None inherits
    this process's environment."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_into_closed_pipe(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """(exit code, stderr) of a real process whose standard output is a pipe nobody reads
    any more (`| head -c 0`): what it does when its reader went away."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            list(args),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    return done.returncode, done.stderr


def specsync(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    input: str = "",
) -> subprocess.CompletedProcess[str]:
    """`specsync ARGS` run in this process as `run([SPECSYNC, *args], cwd, env)` would run it:
    in `cwd`, with exactly `env` (None: this process's), `input` on a standard input that is
    no terminal, and stdout and stderr captured and decoded as `text=True` decodes a pipe.

    Everything a run may change in the process is put back afterwards: the environment, the
    working folder, argv, the standard streams, signal handlers, the garbage collector's
    settings, the recursion limit and tempfile's folder. Only from the main thread (signal
    handlers can only be set there); a test of two runs at once starts real processes.
    """
    from specsync.cli.main import main  # imported on first use, as the console script does

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("specsync() runs in the main thread; start a real process instead")
    command = ["specsync", *args]
    stdout, stderr = _KeptBytes(), _KeptBytes()
    with _process_state_restored():
        os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = command
        sys.stdin = io.TextIOWrapper(_KeptBytes(input.encode("utf-8")), encoding="utf-8")
        # A pipe's streams: stdout strict, stderr with backslash escapes, as Python sets them.
        sys.stdout = io.TextIOWrapper(stdout, encoding="utf-8", errors="strict")
        sys.stderr = io.TextIOWrapper(stderr, encoding="utf-8", errors="backslashreplace")
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code
        else:
            code = 0
        for stream in (sys.stdout, sys.stderr):
            if not stream.closed:
                stream.flush()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        stderr.write(f"{code}\n".encode())
        code = 1
    return subprocess.CompletedProcess(command, code, _as_text(stdout), _as_text(stderr))


class _KeptBytes(io.BytesIO):
    """A buffer whose contents outlive its text wrapper: main() may close stderr."""

    def close(self) -> None:
        pass


def _as_text(buffer: io.BytesIO | bytes) -> str:
    # As `text=True` reads a pipe: the locale's UTF-8, universal newlines.
    data = buffer if isinstance(buffer, bytes) else buffer.getvalue()
    text = data.decode("utf-8", errors="strict")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Signals whose handlers a run may set (apply, the emulator): put back after each run.
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGALRM)


@contextlib.contextmanager
def _process_state_restored() -> Iterator[None]:
    environment = dict(os.environ)
    folder = os.getcwd()
    argv = sys.argv
    streams = (sys.stdin, sys.stdout, sys.stderr)
    handlers = {number: signal.getsignal(number) for number in _HANDLED_SIGNALS}
    collecting, threshold, frozen = gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()
    recursion_limit = sys.getrecursionlimit()
    temporary_folder = tempfile.tempdir
    tempfile.tempdir = None  # found again from this run's TMPDIR (crash logs go there)
    try:
        yield
    finally:
        if os.environ != environment:
            os.environ.clear()
            os.environ.update(environment)
        os.chdir(folder)
        sys.argv = argv
        sys.stdin, sys.stdout, sys.stderr = streams
        for number, handler in handlers.items():
            if signal.getsignal(number) is not handler and handler is not None:
                signal.signal(number, handler)
        if gc.get_freeze_count() > frozen:
            gc.unfreeze()  # a run that froze objects (as the split does) gives them back
        gc.set_threshold(*threshold)
        if collecting:
            gc.enable()
        sys.setrecursionlimit(recursion_limit)
        tempfile.tempdir = temporary_folder


def modules_after_main(argv: Sequence[str], cwd: Path) -> tuple[object, dict[str, str]]:
    """(exit code, {module: its type's name}) after `main(argv)` ran in a fresh interpreter:
    what a command imports, free of what this test process has imported already."""
    code = (
        "import json, sys\n"
        "from specsync.cli.main import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "kinds = {name: type(module).__name__ for name, module in sys.modules.items()}\n"
        "print(json.dumps([code, kinds]), file=sys.__stdout__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=False
    )
    exit_code, kinds = json.loads(done.stdout.strip().splitlines()[-1])
    return exit_code, kinds


def forked_specsync(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    limit: Callable[[], None] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`specsync ARGS` as `run([SPECSYNC, *args], cwd, env)` runs it, in a process of its own
    made by forking this one: what the run does to memory, limits (`limit` is called in the
    child first, as `preexec_fn` would be), descriptors or signal handlers stays in that
    child, and a run that blows up dies there. It saves the interpreter start and the
    imports a new program pays (~0.1 CPU-s a run): for tests whose subject is what a run
    answers, not how a process starts. Standard input is /dev/null; atexit handlers do not
    run in the child. Raises `subprocess.TimeoutExpired` after killing a child that ran
    `timeout` seconds.

    Only from the main thread. Forking a process that runs other threads (xdist's, a test's
    server) is safe for the child as long as it takes none of their locks: it runs only
    main() on standard streams of its own, the interpreter resets its own locks (imports,
    threading, logging) after a fork, and the child never returns into pytest.
    """
    # Imported here once, not in each child (most test processes have them already): the
    # commands, validate's own way in, and what a refusal words its message with.
    import jsonschema  # noqa: F401

    import specsync.cli.group
    import specsync.cli.validate_run  # noqa: F401
    from specsync.cli.main import main

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("forked_specsync() runs in the main thread")
    command = ["specsync", *args]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would write this process's buffered output again
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() with other threads running: see the docstring.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: ends in os._exit, never returns into pytest
            code = 70  # EX_SOFTWARE: the child's own set-up failed
            try:
                code = _forked_main(main, command, cwd, env, limit, stdout, stderr)
            except BaseException:
                with contextlib.suppress(BaseException):
                    os.write(stderr.fileno(), traceback.format_exc().encode())
            finally:
                os._exit(code)
        returncode = _waited(pid, timeout, command)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(
            command, returncode, _as_text(stdout.read()), _as_text(stderr.read())
        )


def _forked_main(
    main: Callable[[], object],
    command: list[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    limit: Callable[[], None] | None,
    stdout: IO[bytes],
    stderr: IO[bytes],
) -> int:
    """In the forked child: the process state a new `specsync` would start with, then
    main(); the exit code."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(stdout.fileno(), 1)
    os.dup2(stderr.fileno(), 2)
    for number in _HANDLED_SIGNALS:
        if number != signal.SIGPIPE:  # Python starts with SIGPIPE ignored, as this process
            first = signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
            signal.signal(number, first)
    os.chdir(cwd)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    sys.argv = command
    # A pipe's streams, as Python sets them: stdout strict, stderr with backslash escapes.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(  # noqa: SIM115
        1, "w", encoding="utf-8", errors="strict", closefd=False
    )
    sys.stderr = open(  # noqa: SIM115
        2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
    )
    # What this process holds stays as it is (the child only reads it): no collection walks
    # it, which would copy every page it touches.
    gc.freeze()
    try:
        if limit is not None:
            limit()
        main()  # reads sys.argv, as the console script's call does
    except SystemExit as done:
        code = done.code
    except BaseException:  # as Python would: a traceback and exit 1
        traceback.print_exc()
        code = 1
    else:
        code = 0
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def _waited(pid: int, timeout: float, command: list[str]) -> int:
    """The forked child's exit code as subprocess gives it (-N: ended by signal N), once it
    ended; killed after `timeout` seconds, or when the wait is interrupted (pytest-timeout,
    Ctrl-C), as subprocess.run kills its child."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(command, timeout)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise


def fast_and_click_runs(
    args: list[str],
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str] | None = None,
    *,
    reader: str,
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """One in-process run of `specsync ARGS` in `cwd` as it comes, and one with the fast
    path's `reader` (cli.main's `plain_validate` or `plain_plan`) declining, so click reads
    the arguments."""
    from specsync.cli import main as cli  # not at import: helpers load before any test

    fast = specsync(args, cwd, env)
    with monkeypatch.context() as patch:
        patch.setattr(cli, reader, lambda *given: None)
        slow = specsync(args, cwd, env)
    return fast, slow


def assert_same_run(
    fast: subprocess.CompletedProcess[str], slow: subprocess.CompletedProcess[str]
) -> None:
    """The two runs printed the same bytes and ended alike."""
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
