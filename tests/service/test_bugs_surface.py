"""A bug in specsync is a bug (exit 3, a crash log), never "uncertain, exit 1" or the
user's template error; and before it surfaces, what may have been sent is journalled.

A TypeError is injected into the client (inside the request thread), apply (after the
service accepted), pull's download and the renderer's code generator; `main()` runs
in-process with the crash log in a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specsync.cli import main as cli
from specsync.emulator import EmulatorConfig, running_emulator
from specsync.service.http.transport import Request, Transport
from specsync.state import journal as journal_mod
from specsync.state.lockfile_read import read_lockfile
from tests.helpers.hostile_server import HostileServer

KEY = "bugs-test-key-123"
ACCEPTED = json.dumps({"success": True, "data": {"projectId": "p-1", "taskId": "t-1"}})


def write_project(root: Path, videos: int, script: str = "Script number {n}.") -> None:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    lines = ["specsync: 1", "defaults: {model: M1, locales: [en]}", "videos:"]
    lines += [f"  v{n:02d}: {{script: {json.dumps(script.format(n=n))}}}" for n in range(videos)]
    (root / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", "utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "project"
    root.mkdir()
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("TMPDIR", str(crashes))
    monkeypatch.setattr("tempfile.tempdir", None)
    for name in ("AISTUDIOS_APP_ID", "AISTUDIOS_USER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AISTUDIOS_API_KEY", KEY)
    monkeypatch.setenv("NO_COLOR", "1")
    yield root


def main_exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    code = exit_info.value.code
    assert isinstance(code, int)
    return code


def assert_crash(code: int, capsys: pytest.CaptureFixture[str], root: Path) -> None:
    err = capsys.readouterr().err
    assert code == 3, err
    assert "internal error" in err and "TypeError" in err
    assert "Traceback" not in err  # the short message above, the traceback in the log
    logs = list((root.parent / "crashes").glob("specsync-crash-*.log"))
    assert len(logs) == 1 and "TypeError: injected" in logs[0].read_text()


def journal_events(root: Path) -> list[tuple[str, str]]:
    path = journal_mod.journal_path(root / "specsync.lock", create=False)
    return [(record["id"], record["event"]) for record in journal_mod.read_journal(path)]


def test_a_bug_in_the_client_journals_the_item_uncertain_and_exits_3(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(project, 3)
    exchange = Transport._exchange

    def broken(self: Transport, session: Any, request: Request) -> Any:
        if request.method == "POST":
            raise TypeError("injected")
        return exchange(self, session, request)

    monkeypatch.setattr(Transport, "_exchange", broken)
    with HostileServer("answer", body=ACCEPTED.encode()) as server:
        monkeypatch.setenv("SPECSYNC_API_BASE", server.url)
        code = main_exit(["apply", "--concurrency", "1"])
    assert_crash(code, capsys, project)
    # The one request tried may have gone out: uncertain in the journal, which the next
    # run folds; nothing else was sent.
    assert journal_events(project) == [("v00/en", "intent"), ("v00/en", "uncertain")]
    assert not (project / "specsync.lock").exists()
    view = journal_mod.read_lock_view(project / "specsync.lock")
    assert view.entries["v00/en"].state == "uncertain"


def test_a_bug_in_apply_after_the_service_accepted_keeps_the_journal(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(project, 2)

    def broken(*args: Any) -> Any:
        raise TypeError("injected")

    monkeypatch.setattr("specsync.service.submitter.Submitter._record", broken)
    with HostileServer("answer", body=ACCEPTED.encode()) as server:
        monkeypatch.setenv("SPECSYNC_API_BASE", server.url)
        code = main_exit(["apply", "--concurrency", "1"])
        posts = [r for r in server.requests if r.method == "POST"]
    assert_crash(code, capsys, project)
    assert len(posts) == 1
    assert journal_events(project) == [("v00/en", "intent"), ("v00/en", "uncertain")]


def test_a_bug_in_pulls_download_exits_3_and_leaves_the_lockfile(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(project, 1)
    lockfile = project / "specsync.lock"
    with running_emulator(EmulatorConfig(render_seconds=0.1)) as emu:
        monkeypatch.setenv("SPECSYNC_API_BASE", emu.url)
        assert main_exit(["apply"]) == 0
        assert main_exit(["status", "--wait", "--timeout", "30"]) == 0
        before = lockfile.read_bytes()
        assert read_lockfile(lockfile).entries["v00/en"].state == "done"
        capsys.readouterr()

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise TypeError("injected")

        monkeypatch.setattr("specsync.service.download.download", broken)
        code = main_exit(["pull"])
    assert_crash(code, capsys, project)
    assert lockfile.read_bytes() == before


def test_a_bug_in_the_renderers_code_generator_is_no_template_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A script with a tag: it needs compiling (plain text and variables do not).
    write_project(project, 1, "{{% if true %}}Script {n}.{{% endif %}}")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("injected")

    monkeypatch.setattr("specsync.render.render.compile_template", broken)
    monkeypatch.setattr("specsync.render.compiling.compile_template", broken)
    code = main_exit(["validate", "--no-cache"])
    assert_crash(code, capsys, project)
