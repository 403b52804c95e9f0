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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["SPECSYNC", "SPECSYNC_MODULE", "env_for", "run", "specsync"]

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


def _as_text(buffer: io.BytesIO) -> str:
    # As `text=True` reads a pipe: the locale's UTF-8, universal newlines.
    text = buffer.getvalue().decode("utf-8", errors="strict")
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
