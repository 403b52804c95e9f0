"""Fixtures for every test, and the isolation from the user's home. Helpers live in
tests/helpers/ (`from tests.helpers import ...`), never here: nothing imports conftest."""

from __future__ import annotations

import atexit
import collections
import contextlib
import importlib
import os
import shutil
import site
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator

# tests.helpers.isolation notes the user's own HOME at import, before it changes below.
from tests.helpers.isolation import isolated_environment

# isolation from the user's home -------------------------------------------------------
# No test, and no command a test starts, writes to the user's own cache or config. specsync
# keeps its compiled-template cache in $SPECSYNC_CACHE_DIR, else $XDG_CACHE_HOME/specsync,
# else ~/.cache/specsync, and its cache key in $SPECSYNC_CACHE_KEY_FILE, else
# $XDG_CONFIG_HOME/specsync/cache.key, else ~/.config/specsync/cache.key. Several tests start
# specsync with SPECSYNC_* (or more) scrubbed from its environment, so all five variables
# point into temporary folders: set here at import, for the whole session (collection and
# session fixtures included), and again for each test, in folders of its own, by the
# autouse fixture below. Git then reads no ~/.gitconfig either: git-using tests set the
# identity they need in their repository.

# Pythons started without a virtual environment find packages installed with
# `pip install --user` through HOME: keep pointing them at the user's.
os.environ.setdefault("PYTHONUSERBASE", site.getuserbase())
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="specsync-tests-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
os.environ.update(isolated_environment(_SESSION_HOME))
os.environ.pop("GIT_CONFIG_GLOBAL", None)  # a ~/.gitconfig by another name
# The emulator renders in about a second: `status --wait` polls first after 0.1 s, not 1 s
# (about 0.9 s saved by each of some 30 tests).
os.environ["SPECSYNC_POLL_INTERVAL"] = "0.1"

# bytecode, for the session -------------------------------------------------------------
# A folder for the bytecode xdist's workers share while they collect (pytest_collection
# below) and the programs tests start (programs_share_bytecode below), made by the first
# process that loads this file (the workers inherit it), outside the tree and removed at
# exit.
if "SPECSYNC_TESTS_PYCACHE" not in os.environ:
    os.environ["SPECSYNC_TESTS_PYCACHE"] = tempfile.mkdtemp(prefix="specsync-tests-pycache-")
    atexit.register(shutil.rmtree, os.environ["SPECSYNC_TESTS_PYCACHE"], ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def programs_share_bytecode() -> Iterator[None]:
    """The programs tests start share the session's bytecode folder.

    Under PYTHONDONTWRITEBYTECODE=1 (set on this project's machines) each of the ~140
    Pythons the quick run starts (specsync as a program, `python -c` probes, tools) compiled
    the specsync modules it imports from source again: ~0.07 of a plan's 0.15 CPU-s. With
    the session's folder (outside the tree, removed at exit) the first compiles them and the
    rest read them; the standard library and installed packages, whose bytecode a prefix
    hides, are compiled there once too (the workers already put most of them there while
    they collect). Set in a process that runs tests only (a session fixture; never xdist's
    controller): a worker started with the prefix compiles its own libraries again, a cost
    that undid an earlier try of this."""
    names = ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["PYTHONPYCACHEPREFIX"] = os.environ["SPECSYNC_TESTS_PYCACHE"]
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the tests' own homes (isolated_home)."""
    return tmp_path_factory.mktemp("homes")


@pytest.fixture(autouse=True)
def isolated_home(homes: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, XDG cache and config folders, and specsync cache and key
    (outside tmp_path, which some tests expect to hold only what they put there). Each in a
    folder of `homes` named by mkdtemp: pytest's numbered folders list all their siblings
    to pick the next number, ~0.5 ms a test, and made every tmp_path's do so twice over."""
    base = Path(tempfile.mkdtemp(prefix="home-", dir=homes))
    for name, value in isolated_environment(base).items():
        monkeypatch.setenv(name, value)
    return base


# emulator ------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A running built-in emulator (1 s renders, no faults), stopped after the test.

    For other settings: `with running_emulator(EmulatorConfig(...)) as emu:` in the test.
    """
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as running:
        yield running


# workers ------------------------------------------------------------------------------------


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` for the quick run (`-m "not slow"`): three workers per CPU, at most four
    more than CPUs. About half of its time is waiting (emulator renders, deadlines,
    signals, a browser), which one worker per CPU leaves idle: on 2 CPUs it took 66 s with
    4 workers and 54 s with 6, by then using both CPUs nearly all the time. The whole suite
    keeps one worker per CPU: its slow tests time rates, stalls and deadlines against the
    clock over seconds, and a starved worker turns their bounds into flakes (with four
    workers on two CPUs, under coverage and other load, a stall test once left 11 requests
    uncertain for its 10). PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own reading of it
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    slow_deselected = "not slow" in (config.getoption("markexpr", "") or "")
    # At most four more than CPUs: the waiting is filled by then, and each worker holds
    # its own ~100 MB (24 on an 8-CPU machine would only add memory and start-up).
    return min(3 * cpus, cpus + 4) if slow_deselected else cpus


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """Under xdist, the workers share the work of compiling the test modules.

    Every worker imports every test module, and pytest rewrites each module's asserts
    first: ~2.3 CPU-s a worker, cached in __pycache__ except under PYTHONDONTWRITEBYTECODE=1
    (set on this project's machines). During collection the workers keep their bytecode in
    the session's folder instead, outside the tree, and each first imports its own share of
    the modules (the n-th worker every n-th), so that the others find them compiled. Then
    pytest collects as always, and the bytecode setting is put back (libraries imported
    later keep reading their installed bytecode)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return (yield)
    setting = sys.pycache_prefix, sys.dont_write_bytecode
    sys.pycache_prefix, sys.dont_write_bytecode = os.environ["SPECSYNC_TESTS_PYCACHE"], False
    try:
        tests = Path(__file__).parent
        files: list[Path] = []
        for argument in session.config.args:
            path = (session.config.invocation_params.dir / argument.split("::")[0]).resolve()
            if path.is_dir() and path.is_relative_to(tests):
                files += sorted(path.rglob("test_*.py"))
        for path in files[int(worker[2:]) :: count]:
            # As pytest imports a module of this package (rootdir on sys.path, "prepend"):
            # by its dotted name. One that fails here fails again, reported, in collection.
            with contextlib.suppress(Exception):
                parts = path.relative_to(tests.parent).with_suffix("").parts
                importlib.import_module(".".join(parts))
        return (yield)
    finally:
        sys.pycache_prefix, sys.dont_write_bytecode = setting


# Test files that each keep a worker busy 5 s or more in the quick run, longest first
# (measured on 2 cores, 2026-12-07). Most hold few tests, so xdist's own order (most tests
# first) started them last, and the run ended waiting for one of them (the browser's 15 s).
# Started first, the short files fill the end instead. A file missing here runs in the
# usual order; one renamed loses only its place.
LONG_FILES = (
    "tests/review/test_review_browser.py",
    "tests/acceptance/test_hostile_manifests.py",
    "tests/acceptance/test_hostile_state.py",
    "tests/cli/test_fast_path.py",
    "tests/acceptance/test_pull_flow.py",
    "tests/service/test_http_deadline.py",
    "tests/acceptance/test_reliability.py",
    "tests/state/test_lockfile_quick.py",
    "tests/manifests/test_load.py",
    "tests/manifests/test_split.py",
    "tests/emulator/test_emulator_faults.py",
    "tests/acceptance/test_trust_no_hang.py",
    "tests/test_helpers.py",
    "tests/service/test_status.py",
    "tests/test_imports.py",
    "tests/cli/test_plan_fast_path.py",
    "tests/acceptance/test_vendor_service.py",
)


# With the slow tests selected (the whole suite), the files holding the longest of them
# come first: the pre-commit hook (40 s), the kill loops (37 s), the benchmark smoke run
# (17 s), stalls against the clock (16 s), the emulator's memory, vendor-shaped status.
LONG_WITH_SLOW = (
    "tests/acceptance/test_ecosystem.py",
    "tests/acceptance/test_reliability.py",
    "tests/test_bench_smoke.py",
    "tests/service/test_apply_trust.py",
    "tests/emulator/test_emulator_memory.py",
    "tests/acceptance/test_status_vendor_shapes.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long files first, then the others by how many tests they hold (xdist's own
    order); each file's tests keep their order."""
    files = [item.nodeid.split("::")[0] for item in items]
    counts = collections.Counter(files)
    long_files = LONG_FILES
    if "not slow" not in (config.getoption("markexpr", "") or ""):
        long_files = LONG_WITH_SLOW + tuple(f for f in LONG_FILES if f not in LONG_WITH_SLOW)
    place = {name: rank for rank, name in enumerate(long_files)}
    order = {name: (place.get(name, len(long_files)), -counts[name], name) for name in counts}
    items[:] = [
        item for _, item in sorted(zip(files, items, strict=True), key=lambda pair: order[pair[0]])
    ]
