"""Issue 25, trust round three: nothing hangs, nothing crashes, messages tell the truth.

FIFOs where specsync reads (a `*.j2` under the manifests, the journal's place), saved plan
files built to break a parser, and the validate/plan arguments of a careless script: each
through the installed CLI, each bounded by a timeout that a hang would hit.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.state.journal import journal_path
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_write import write_lockfile
from tests.helpers import SPECSYNC, assert_not_a_crash, env_for, specsync


def write_project(root: Path) -> None:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "manifests" / "videos.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  v0: {script: 'Hi.'}\n",
        "utf-8",
    )
    write_lockfile(root / "specsync.lock", Lockfile())  # nothing exported yet


def quick(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`specsync ARGS` (in this process), which must end within 20 s (a FIFO opened to read
    would block forever; pytest's timeout ends a run that never returns)."""
    started = time.monotonic()
    result = specsync(args, cwd, env)
    assert time.monotonic() - started < 20
    return _no_crash(result)


def quick_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`specsync ARGS` as a real process whose standard input is a pipe, within 20 s."""
    started = time.monotonic()
    result = subprocess.run(
        [SPECSYNC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        stdin=subprocess.PIPE,
    )
    assert time.monotonic() - started < 20
    return _no_crash(result)


def _no_crash(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert "internal error" not in result.stderr, result
    assert_not_a_crash(result)
    return result


# FIFOs never block ------------------------------------------------------------------------


def test_a_fifo_named_j2_under_the_manifests_blocks_no_command(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "manifests" / "snippets").mkdir()
    os.mkfifo(tmp_path / "manifests" / "snippets" / "trap.j2")
    for command in (["validate"], ["plan"], ["apply", "--emulator"]):
        result = quick([*command], tmp_path)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


def test_a_fifo_included_by_a_script_is_a_located_problem(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "manifests" / "videos.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"
        "videos:\n  v0: {script: \"{% include 'trap.j2' %}\"}\n",
        "utf-8",
    )
    os.mkfifo(tmp_path / "manifests" / "trap.j2")
    result = quick(["validate"], tmp_path)
    assert result.returncode == 1
    assert "trap.j2 (not a regular file)" in result.stderr


def test_a_fifo_at_the_journals_place_blocks_neither_plan_nor_apply(tmp_path: Path) -> None:
    write_project(tmp_path)
    journal = journal_path(tmp_path / "specsync.lock")
    os.mkfifo(journal)
    # The emulator commands are pointed at specsync.lock (rehearsals keep their own).
    rehearsal_on_it = ["--emulator", "--lockfile", "specsync.lock"]
    for command in (["plan"], ["apply", *rehearsal_on_it], ["status", *rehearsal_on_it]):
        result = quick([*command], tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "journal's place holds something that is not a regular file (a FIFO)" in (
            result.stderr
        ), result.stderr
    assert journal.is_fifo()  # left for the user to move away
    assert read_lockfile(tmp_path / "specsync.lock") == Lockfile()


# saved plans built to break the parser --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[" * 100_000, "nested too deeply to read"),
        ('{"format": ' + "9" * 5_000 + "}", "it holds a number too long to read"),
    ],
    ids=["100k-brackets", "5000-digits"],
)
def test_a_saved_plan_that_breaks_the_json_parser_is_refused_with_exit_1(
    tmp_path: Path, content: str, says: str
) -> None:
    write_project(tmp_path)
    saved = tmp_path / "reviewed.plan"
    saved.write_text(content, "utf-8")
    result = quick(["apply", "--emulator", "--plan", str(saved)], tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"reviewed.plan: not a saved plan ({says})" in result.stderr
    assert read_lockfile(tmp_path / "specsync.lock") == Lockfile()  # nothing applied
    result = quick(["plan", "--out", str(saved)], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "refusing to replace" in result.stderr and "not a saved plan" in result.stderr
    assert saved.read_text("utf-8") == content  # not replaced


# validate's arguments -------------------------------------------------------------------


def test_validate_with_a_root_that_does_not_exist_exits_1(tmp_path: Path) -> None:
    write_project(tmp_path)
    for root, says in (
        (tmp_path / "nonexistent", "no such folder"),
        (tmp_path / "specsync.lock", "not a folder"),
    ):
        result = quick(["validate", "--root", str(root)], tmp_path)
        assert result.returncode == 1, result
        assert f"{root}: --root: {says}" in result.stderr


def test_twenty_thousand_unmatched_targets_print_a_bounded_message(tmp_path: Path) -> None:
    write_project(tmp_path)
    targets = [arg for n in range(20_000) for arg in ("--target", f"nothing-{n}/*")]
    result = quick(["plan", *targets], tmp_path)
    assert result.returncode == 1
    assert len(result.stderr) < 2_000, len(result.stderr)
    assert "'nothing-0/*' matches no item" in result.stderr
    assert "and 19,995 more --target globs match none" in result.stderr
    huge = "x" * 100_000
    result = quick(["validate", "--target", huge], tmp_path)
    assert result.returncode == 1 and len(result.stderr) < 1_000, len(result.stderr)


def test_a_pipe_named_as_a_manifest_is_called_what_it_is(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = quick_process(["validate", "/dev/stdin"], tmp_path)
    assert result.returncode == 1
    assert "/dev/stdin: not a regular file (a FIFO)" in result.stderr, result.stderr
    assert "broken symbolic link" not in result.stderr
    result = quick(["validate", "/dev/null"], tmp_path)
    assert "/dev/null: not a regular file (a character device)" in result.stderr
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "gone.yaml")
    result = quick(["validate", "dangling.yaml"], tmp_path)
    assert "dangling.yaml: broken symbolic link" in result.stderr
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    result = quick(["validate", "loop.yaml"], tmp_path)
    assert "loop.yaml: a symbolic link loop (to loop.yaml)" in result.stderr


def test_status_recording_done_keeps_a_saved_plan_and_a_refusal_names_the_entry(
    tmp_path: Path,
) -> None:
    from specsync.state.lockfile_read import read_lockfile
    from specsync.state.lockfile_write import write_lockfile

    write_project(tmp_path)
    lockfile = tmp_path / "specsync.lock"
    with running_emulator(EmulatorConfig(render_seconds=0.1)) as emu:
        env = env_for(emu.url)
        assert quick(["apply"], tmp_path, env).returncode == 0
        with (tmp_path / "manifests" / "videos.yaml").open("a", encoding="utf-8") as manifest:
            manifest.write("  v1: {script: 'Yo.'}\n")
        assert quick(["plan", "--out", "reviewed.plan"], tmp_path, env).returncode == 0
        copy = (tmp_path / "reviewed.plan").read_bytes()
        status = quick(["status", "--wait"], tmp_path, env)
        assert status.returncode == 0, status.stderr
        lock = read_lockfile(lockfile)
        assert lock.entries["v0/en"].state == "done"  # status wrote into the lockfile
        # Another change to v0's entry (a merge bringing another export): refused, named.
        moved = lock.entries["v0/en"]._replace(project_id="emu-from-a-merge")
        write_lockfile(lockfile, dataclasses.replace(lock, entries={"v0/en": moved}))
        refused = quick(["apply", "--plan", "reviewed.plan"], tmp_path, env)
        assert refused.returncode == 1
        assert "records other exports than when the plan was saved (entries changed: v0/en)" in (
            refused.stderr
        ), refused.stderr
        write_lockfile(lockfile, lock)  # back to what status recorded
        (tmp_path / "reviewed.plan").write_bytes(copy)
        applied = quick(["apply", "--plan", "reviewed.plan"], tmp_path, env)
    assert applied.returncode == 0, applied.stderr
    assert "submitted v1/en (create)" in applied.stderr
    assert "1 submitted" in applied.stderr and "1 unchanged" in applied.stderr


def test_fifos_in_the_template_cache_block_no_run(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "manifests" / "videos.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"
        "videos:\n  v0: {script: '{% for n in [1, 2] %}{{ n }} {% endfor %}Hi.'}\n",
        "utf-8",
    )
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "SPECSYNC_CACHE_DIR": str(cache / "packs"),
        "SPECSYNC_CACHE_KEY_FILE": str(cache / "cache.key"),
    }
    first = subprocess.run(
        [SPECSYNC, "validate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    files = [path for path in cache.rglob("*") if path.is_file()]
    assert files  # the key and a pack
    for path in files:
        path.unlink()
        os.mkfifo(path)
    again = subprocess.run(
        [SPECSYNC, "validate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20
    )
    assert again.returncode == 0, again.stderr
