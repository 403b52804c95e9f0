"""Issue 25, trust round three: which project and which service a run belongs to.

A journal names its host exactly (IPv6 included), a project file owned by someone else is
refused like a planted lockfile, and a project inside another project's manifests never
exports a second time. Each case through the installed CLI on real files; the network is a
private namespace (`unshare -n`) wherever a run names a non-loopback host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from specsync.state.journal import Journal, journal_path
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_write import write_lockfile
from tests.helpers import SPECSYNC, assert_not_a_crash, env_for, run, specsync
from tests.helpers.hostile_server import HostileServer

NO_NETWORK = ["unshare", "-n"]


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*NO_NETWORK, "true"], capture_output=True, check=False)
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(not _can_unshare(), reason="needs `unshare -n` (root)")
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root"
)


def write_project(root: Path, videos: int = 2) -> None:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    lines = ["specsync: 1", "defaults: {model: M1, locales: [en]}", "videos:"]
    lines += [f"  v{n}: {{script: 'Script {n}.'}}" for n in range(videos)]
    (root / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    write_lockfile(root / "specsync.lock", Lockfile())  # nothing exported yet


# the journal names its host exactly -------------------------------------------------------


@needs_namespace
def test_a_journal_of_one_ipv6_host_is_not_folded_into_an_apply_against_another(
    tmp_path: Path,
) -> None:
    write_project(tmp_path)
    lockfile = tmp_path / "specsync.lock"
    # What an apply against https://[fd00::a] leaves when it is killed after its intent.
    with Journal(journal_path(lockfile), {"emulator": False, "host": "[fd00::a]"}) as journal:
        journal.intent("v0/en", "f" * 64, "2026-12-07T04:00:00Z")
    env = env_for("https://[fd00::b]")
    result = run([*NO_NETWORK, SPECSYNC, "apply"], tmp_path, env=env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "interrupted apply against [fd00::a], not [fd00::b]" in result.stderr
    assert_not_a_crash(result)
    assert journal_path(lockfile, create=False).exists()  # kept for the apply it belongs to


def test_a_journal_host_is_compared_by_the_url_parser(tmp_path: Path) -> None:
    from specsync.state.journal import JournalMismatch, check_journal_service

    path = tmp_path / "j"
    with Journal(path, {"emulator": False, "host": "[fd00::a]"}) as journal:
        journal.intent("a/en", "f" * 64, "2026-12-07T04:00:00Z")
    lock = tmp_path / "specsync.lock"
    for other in ("[fd00::b]", "[fd00::b]:443", "fd00.example", "[fd00::]"):
        with pytest.raises(JournalMismatch):
            check_journal_service(path, lock, False, other)
    for same in ("[fd00::a]", "[FD00::A]:8443", "user@[fd00::a]:1"):
        check_journal_service(path, lock, False, same)


# a project file is trusted like the lockfile marker --------------------------------------


@needs_root
def test_a_project_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "manifests" / "videos.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"
        "videos:\n  v0: {script: 'Hello {{ who }}.'}\n",
        "utf-8",
    )
    project_file = tmp_path / "specsync.yaml"
    project_file.write_text(
        "specsync: 1\nvars: {who: planted}\n"
        "defaults: {webhookUrl: 'https://attacker.example/hook'}\n",
        "utf-8",
    )
    os.chown(project_file, 12345, 12345)  # a shared folder: someone else's file
    for command in (["validate"], ["plan"], ["render", "--target", "v0/en"]):
        result = specsync([*command], tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "specsync.yaml: owned by another user (uid 12345)" in result.stderr, command
        assert "planted" not in result.stdout
    os.chown(project_file, os.getuid(), os.getgid())  # the user's own: read as before
    result = specsync(["render", "--target", "v0/en"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Hello planted." in result.stdout


# nested projects never re-export ----------------------------------------------------------


def write_nested(root: Path, inner_marker: str) -> Path:
    """A project whose manifests/team/ holds a project of its own (`inner_marker` there)."""
    write_project(root, videos=1)
    team = root / "manifests" / "team"
    team.mkdir()
    (team / "team.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  t0: {script: 'Team.'}\n",
        "utf-8",
    )
    if inner_marker == "specsync.yaml":
        (team / inner_marker).write_text("specsync: 1\nvars: {}\n", "utf-8")
    else:
        (team / inner_marker).write_text("", "utf-8")
    return team


@pytest.mark.parametrize("inner_marker", ["specsync.yaml", "specsync.lock"])
def test_a_project_inside_another_projects_manifests_is_refused_from_both_sides(
    tmp_path: Path, inner_marker: str
) -> None:
    team = write_nested(tmp_path, inner_marker)
    lockfiles = {p: p.read_bytes() for p in (tmp_path / "specsync.lock", team / inner_marker)}
    answer = b'{"success": true, "data": {"projectId": "p-1", "taskId": "t-1"}}'
    with HostileServer("answer", body=answer) as server:
        env = env_for(server.url)
        runs = [
            (tmp_path, ["plan"]),
            (tmp_path, ["apply"]),
            (team, ["plan", "."]),
            (team, ["apply", "."]),
            (team, ["validate"]),
        ]
        for cwd, command in runs:
            result = specsync([*command], cwd, env=env)
            assert result.returncode == 1, (cwd, command, result.stdout, result.stderr)
            assert f"manifests/team/{inner_marker}" in result.stderr, result.stderr
            assert f"of the project at {tmp_path}" in result.stderr, result.stderr
            assert_not_a_crash(result)
        assert [r for r in server.requests if r.method == "POST"] == []
    assert {p: p.read_bytes() for p in lockfiles} == lockfiles
    assert not (team / ".specsync").exists()
