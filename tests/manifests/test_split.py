"""A large run split between two processes (manifests/split.py) gives and prints exactly
what one process does, writes the caches once from one process, and leaves no process
behind when interrupted."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from specsync.manifests import split
from specsync.manifests.split import Loaded
from specsync.model import Item, Location, Problem
from specsync.render import cache
from tests.helpers import ROOT, SPECSYNC, assert_not_a_crash, specsync
from tests.helpers.commands import forked_specsync


def _bench_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_manifests = _bench_script("gen_manifests")


def _env(tmp_path: Path, mode: str, cache_name: str = "cache") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPECSYNC_SPLIT=mode,
        SPECSYNC_CACHE_DIR=str(tmp_path / f"{cache_name}-{mode}"),
        SPECSYNC_CACHE_KEY_FILE=str(tmp_path / "cache.key"),
        NO_COLOR="1",
    )
    return env


def _both(
    tmp_path: Path, root: Path, args: Sequence[str], *, warm: bool = False
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The same command split and whole (and, `warm`, again from the caches it wrote),
    compared."""
    results = []
    for mode in ("off", "on"):
        # A process of its own (the split forks its second half from it), forked from this
        # one: no new interpreter and imports for each of the ~50 runs.
        command = [*args, "--root", str(root), *sorted(map(str, root.glob("*.yaml")))]
        first = forked_specsync(command, tmp_path, _env(tmp_path, mode))
        if warm:
            again = forked_specsync(command, tmp_path, _env(tmp_path, mode))
            assert (again.returncode, again.stdout) == (first.returncode, first.stdout)
        results.append(first)
    whole, halves = results
    assert (halves.returncode, halves.stdout, halves.stderr) == (
        whole.returncode,
        whole.stdout,
        whole.stderr,
    )
    return whole, halves


@pytest.mark.parametrize("shape", ["shared", "distinct", "distinct-for"])
def test_a_split_run_prints_what_one_process_prints(tmp_path: Path, shape: str) -> None:
    root = tmp_path / shape
    gen_manifests.generate(root, items=400, shape=shape)
    whole, _ = _both(tmp_path, root, ["validate", "--format", "json"], warm=True)
    assert whole.returncode == 0, whole.stderr
    assert '"valid": true' in whole.stdout
    whole, _ = _both(tmp_path, root, ["render"])
    assert whole.returncode == 0, whole.stderr
    whole, _ = _both(tmp_path, root, ["plan", "--format", "json"])  # no lockfile: all new
    assert whole.returncode == 0, whole.stderr


def _broken_set(tmp_path: Path) -> Path:
    """Problems in both halves: YAML, schema, a template error raised by the snippet both
    halves include, an item id defined in both halves, an untranslated locale."""
    root = tmp_path / "broken"
    paths = gen_manifests.generate(root, items=400, shape="shared")
    first, last = paths[0], paths[-1]
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace("isExport: true", "isExport: maybe", 1), encoding="utf-8")
    text = last.read_text(encoding="utf-8")
    last.write_text(text.replace("lesson: 2", "lesson: [2", 1), encoding="utf-8")
    (root / "snippets" / "outro.j2").write_text("{{ support.nope() }}\n", encoding="utf-8")
    # A video of the second file again in the next to last: one item id in each half.
    middle = paths[-2]
    twin = "  f0001-v00:\n    script: Hi {{ name }}\n    vars: {name: Twin}\n"
    middle.write_text(middle.read_text(encoding="utf-8") + twin, encoding="utf-8")
    return root


def test_problems_in_both_halves_are_reported_as_one_process_reports_them(tmp_path: Path) -> None:
    root = _broken_set(tmp_path)
    for args in (["validate"], ["validate", "--format", "json"]):
        whole, _ = _both(tmp_path, root, args)
        assert whole.returncode == 1
    assert "defined twice" in whole.stdout
    assert "catalogue-0000.yaml" in whole.stdout and "catalogue-0003.yaml" in whole.stdout


@pytest.mark.parametrize("project", ["", "vars: {locale: fr}\n", "vars: [1\n"])
def test_problems_of_files_and_of_a_project_file_merge_as_one_process_reports_them(
    tmp_path: Path, project: str
) -> None:
    # No render problem: each half's problems are merged, not read again by one process.
    root = tmp_path / "unreadable"
    paths = gen_manifests.generate(root, items=600, shape="shared")
    first, middle, last = paths[0], paths[2], paths[-1]
    first.write_text(
        first.read_text(encoding="utf-8").replace("isExport: true", "isExport: maybe", 1),
        encoding="utf-8",
    )
    middle.write_text(
        middle.read_text(encoding="utf-8").replace(
            "      lesson: 3\n", "      lesson: 3\n      lesson: 4\n", 1
        ),
        encoding="utf-8",
    )
    last.write_text(
        last.read_text(encoding="utf-8").replace("lesson: 2", "lesson: [2", 1), encoding="utf-8"
    )
    if project:
        (root / "specsync.yaml").write_text(project, encoding="utf-8")
    whole, _ = _both(tmp_path, root, ["validate", "--format", "json"])
    assert whole.returncode == 1
    whole, _ = _both(tmp_path, root, ["validate"])
    assert whole.returncode == 1
    if project:  # a broken project file stops the run before it is split
        assert "specsync.yaml" in whole.stderr
    else:
        assert "catalogue-0000.yaml:7:" in whole.stderr  # schema (first half)
        assert "catalogue-0002.yaml" in whole.stderr  # a duplicate key (first half)
        assert "catalogue-0005.yaml" in whole.stderr  # YAML (second half)


def test_an_item_id_in_both_halves_alone_is_still_found(tmp_path: Path) -> None:
    root = tmp_path / "twins"
    paths = gen_manifests.generate(root, items=200, shape="distinct")
    paths[1].write_text(
        paths[1].read_text(encoding="utf-8").replace("f0001-v00:", "f0000-v00:"),
        encoding="utf-8",
    )
    whole, _ = _both(tmp_path, root, ["validate"])
    assert whole.returncode == 1
    assert "items 'f0000-v00/" in whole.stderr and "are defined twice" in whole.stderr


def test_warnings_are_printed_as_one_process_prints_them(tmp_path: Path) -> None:
    root = tmp_path / "warned"
    paths = gen_manifests.generate(root, items=200, shape="shared")
    for index, path in enumerate(paths):  # every locale of these videos says the same
        same = f"  f{index:04d}-same:\n    script: The same words everywhere.\n"
        path.write_text(path.read_text(encoding="utf-8") + same, encoding="utf-8")
    whole, _ = _both(tmp_path, root, ["validate"])
    assert whole.returncode == 0 and "untranslated" in whole.stderr + whole.stdout
    assert "f0001-same/ko" in whole.stderr
    whole, _ = _both(tmp_path, root, ["validate", "--format", "json"])


# -- in this process: the split machinery itself ------------------------------------------


def _fake_files(count: int, tmp_path: Path) -> list[tuple[Path, str]]:
    files = []
    for index in range(count):
        path = tmp_path / f"m{index}.yaml"
        path.write_bytes(b"x" * 100)
        files.append((path, path.name))
    return files


def _fake_load(cache_dir: Path, key_file: Path):  # type: ignore[no-untyped-def]
    """A load that stores one cache entry per file and makes one item per file."""

    def load(files, announce):  # type: ignore[no-untyped-def]
        store = cache.TemplateCache("fingerprint", cache_dir=cache_dir, key_file=key_file)
        items = []
        for _, display in files:
            store.put(display, display.encode())
            items.append(Item(display, display, "en", {"text": display}, Location(display, 1, 1)))
        if announce is not None:
            announce(len(files))
        store.flush()
        return Loaded(items, [], {})

    return load


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even where a test runner keeps a thread of its own."""
    monkeypatch.setenv(split.SPLIT_ENV, "on")
    monkeypatch.setattr(threading, "active_count", lambda: 1)


def test_only_this_process_writes_the_cache_and_each_entry_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forking: None
) -> None:
    writers = tmp_path / "writers"
    real_append = cache.TemplateCache._append

    def logged_append(self: cache.TemplateCache, path: Path, blob: bytes) -> None:
        with writers.open("a") as log:
            log.write(f"{os.getpid()}\n")
        real_append(self, path, blob)

    monkeypatch.setattr(cache.TemplateCache, "_append", logged_append)
    files = _fake_files(40, tmp_path)
    load = _fake_load(tmp_path / "cache", tmp_path / "key")
    announced: list[int] = []
    loaded = split.load_split(files, load, announced.append)
    assert loaded is not None
    assert [item.id for item in loaded.items] == [display for _, display in files]
    assert announced == [40]  # one notice for both halves
    assert set(writers.read_text().split()) == {str(os.getpid())}
    reread = cache.TemplateCache(
        "fingerprint", cache_dir=tmp_path / "cache", key_file=tmp_path / "key"
    )
    for _, display in files:
        assert reread.get(display) == display.encode()
    records = sum(len(cache.read_pack(pack).index) for pack in reread.pack_dir.glob("*.pack"))
    written = sum(pack.read_bytes().count(cache.MAGIC) for pack in reread.pack_dir.glob("*.pack"))
    assert records == written == 40


@pytest.mark.parametrize("compiling", [(3, 0), (0, 2), (0, 0)], ids=["first", "second", "none"])
def test_one_compile_notice_for_both_halves(
    tmp_path: Path, forking: None, compiling: tuple[int, int]
) -> None:
    parent = os.getpid()

    def load(files, announce):  # type: ignore[no-untyped-def]
        count = compiling[0] if os.getpid() == parent else compiling[1]
        if count and announce is not None:
            announce(count)
        return Loaded([], [], {})

    announced: list[int] = []
    assert split.load_split(_fake_files(4, tmp_path), load, announced.append) is not None
    assert announced == ([sum(compiling)] if sum(compiling) else [])


def test_a_failing_worker_leaves_its_half_to_this_process(tmp_path: Path, forking: None) -> None:
    parent = os.getpid()
    load = _fake_load(tmp_path / "cache", tmp_path / "key")

    def failing_in_the_child(files, announce):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            raise RuntimeError("worker broke")
        return load(files, announce)

    files = _fake_files(10, tmp_path)
    loaded = split.load_split(files, failing_in_the_child, None)
    assert loaded is not None
    assert [item.id for item in loaded.items] == [display for _, display in files]


@pytest.mark.parametrize("broken", ["m0.yaml", "m5.yaml"], ids=["first-half", "second-half"])
def test_a_render_problem_in_either_half_reruns_the_whole_in_one_process(
    tmp_path: Path, forking: None, broken: str
) -> None:
    parent = os.getpid()
    calls: list[int] = []

    def load(files, announce):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            calls.append(len(files))
        shown = [display for _, display in files]
        problems = [Problem(Location(broken, 1, 1), "bad")] if broken in shown else []
        items = [Item(d, d, "en", {"text": d}, Location(d, 1, 1)) for d in shown]
        return Loaded(items, problems, {}, rendered_all=not problems)

    files = _fake_files(6, tmp_path)
    loaded = split.load_split(files, load, None)
    assert loaded is not None and [p.location.path for p in loaded.problems] == [broken]
    assert calls == [3, 6]  # this process's half, then the whole run


def test_other_problems_of_both_halves_are_merged_each_once(tmp_path: Path, forking: None) -> None:
    parent = os.getpid()
    calls: list[int] = []
    shared = Problem(Location("specsync.yaml", 1, 1), "broken project", code="project-file")

    def load(files, announce):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            calls.append(len(files))
        problems = [Problem(Location(display, 2, 1), "bad") for _, display in files]
        return Loaded([], [*problems, shared], {})

    loaded = split.load_split(_fake_files(4, tmp_path), load, None)
    assert loaded is not None and calls == [2]  # no second reading
    assert sorted(str(p) for p in loaded.problems) == [
        "m0.yaml:2:1: bad",
        "m1.yaml:2:1: bad",
        "m2.yaml:2:1: bad",
        "m3.yaml:2:1: bad",
        "specsync.yaml:1:1: broken project",
    ]


@pytest.mark.parametrize("mode", ["nan", "of", "2", "auto please"])
def test_an_unknown_split_setting_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # A typo read as "auto" would be a setting that silently does nothing.
    monkeypatch.setenv(split.SPLIT_ENV, mode)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  a: {script: Hi}\n",
        encoding="utf-8",
    )
    result = specsync(["validate", "m.yaml"], tmp_path)
    assert result.returncode == 1
    assert f"SPECSYNC_SPLIT must be on, off or auto (or unset), got {mode!r}" in result.stderr
    assert_not_a_crash(result)


def test_no_fork_or_split_off_or_small_runs_stay_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forking: None
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked")

    files = _fake_files(4, tmp_path)
    load = _fake_load(tmp_path / "cache", tmp_path / "key")
    monkeypatch.setattr(os, "fork", no_fork)
    for mode in ("off", ""):  # off; automatic below MIN_SPLIT_BYTES
        monkeypatch.setenv(split.SPLIT_ENV, mode)
        assert split.load_split(files, load, None) is None
    monkeypatch.setenv(split.SPLIT_ENV, "on")
    assert split.load_split(files[:1], load, None) is None
    monkeypatch.delattr(os, "fork")
    assert split.load_split(files, load, None) is None


@pytest.mark.parametrize(
    ("cpus", "load", "splits"), [(2, 0.3, True), (2, 3.0, False), (1, 0.0, False)]
)
def test_a_large_run_splits_by_itself_only_with_a_free_cpu(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forking: None,
    cpus: int,
    load: float,
    splits: bool,
) -> None:
    monkeypatch.setenv(split.SPLIT_ENV, "")
    monkeypatch.setattr(split, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    files = _fake_files(2, tmp_path)
    for path, _ in files:
        path.write_bytes(b"x" * split.MIN_SPLIT_BYTES)
    loaded = split.load_split(files, _fake_load(tmp_path / "c", tmp_path / "k"), None)
    assert (loaded is not None) == splits


def test_a_fork_refused_by_the_system_stays_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forking: None
) -> None:
    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    files = _fake_files(4, tmp_path)
    assert split.load_split(files, _fake_load(tmp_path / "c", tmp_path / "k"), None) is None
    assert cache._deferred is None  # writes are no longer deferred


# -- Ctrl-C ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("to_group", [True, False], ids=["process-group", "parent-only"])
def test_ctrl_c_ends_both_processes_with_exit_130(tmp_path: Path, to_group: bool) -> None:
    root = tmp_path / f"interrupted-{to_group}"
    # Long enough (12,000 scripts to compile, ~3 s, a half) that an interrupted run ending
    # soon shows that neither process finished its half first.
    gen_manifests.generate(root, items=24000, shape="distinct-for")
    command = [
        SPECSYNC,
        "validate",
        "--no-cache",
        "--root",
        str(root),
        *sorted(map(str, root.glob("*.yaml"))),
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=_env(tmp_path, "on"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _children(process.pid):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never split"
            time.sleep(0.002)
        if to_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
        interrupted = time.monotonic()
        _, stderr = process.communicate(timeout=20)
        ended = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr
    assert _running_with(str(root)) == []
    assert ended < 1.5, f"{ended:.2f} s from Ctrl-C to the end"


def test_a_halfs_items_cross_the_pipe_unchanged_and_compactly() -> None:
    import pickle

    place = Location("m.yaml", 4, 3)
    items = [
        Item(f"v{n}/en", f"v{n}", "en", {"language": "en", "text": f"Hi {n}"}, place)
        for n in range(3)
    ]
    problem = Problem(Location("n.yaml", 2, 1), "bad", code="yaml")
    sent = Loaded(items, [problem], {}, rendered_all=True)
    data = split._pickled((sent, []))
    received, harvests = pickle.loads(data)
    assert harvests == []
    assert received.items == items
    assert [vars(item) for item in received.items] == [vars(item) for item in items]
    assert received.problems == [problem]
    assert received.items[0].source is received.items[2].source  # one place, sent once
    # Each field by its name: a field added to Item must be sent too (or this fails).
    assert pickle.loads(split._pickled(items[0])) == items[0]
    assert len(data) < len(pickle.dumps((sent, []), pickle.HIGHEST_PROTOCOL))


def test_while_waiting_runs_once_here_before_the_other_half_is_taken(
    tmp_path: Path, forking: None
) -> None:
    files = _fake_files(6, tmp_path)
    load = _fake_load(tmp_path / "cache", tmp_path / "key")
    calls: list[int] = []
    loaded = split.load_split(files, load, None, lambda: calls.append(os.getpid()))
    assert loaded is not None and len(loaded.items) == 6
    assert calls == [os.getpid()]  # in this process, once
    assert split.load_split(files[:1], load, None, lambda: calls.append(0)) is None
    assert calls == [os.getpid()]  # a run that is not split waits for nothing
