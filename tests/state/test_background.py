from __future__ import annotations

import os
import threading
import time

import pytest

from specsync.model import InputError
from specsync.state.background import Background


def pid_and_value(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def broken(message: str) -> None:
    raise InputError(message)


def test_runs_in_a_child_and_returns_its_result() -> None:
    # pytest may run helper threads (timeouts); with any thread alive it must run inline.
    task = Background(pid_and_value, 21)
    pid, value = task.result()
    assert value == 42
    if threading.active_count() == 1:
        assert pid != os.getpid()


def test_an_error_is_raised_as_a_plain_call_would_raise_it() -> None:
    task = Background(broken, "bad lockfile")
    with pytest.raises(InputError, match="bad lockfile"):
        task.result()


def test_inline_when_threads_are_running() -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        pid, value = Background(pid_and_value, 1).result()
    finally:
        stop.set()
        helper.join()
    assert (pid, value) == (os.getpid(), 2)


def test_cancel_leaves_no_child_behind() -> None:
    task = Background(time.sleep, 0.05)
    child = task._pid
    task.cancel()
    if child is not None:
        with pytest.raises(ChildProcessError):
            os.waitpid(child, os.WNOHANG)
