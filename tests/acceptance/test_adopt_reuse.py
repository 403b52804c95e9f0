"""`specsync adopt` and plan's `reuse`, through the installed CLI against a real emulator.

Everyday use never pays twice: an uncertain export found in AI Studios is adopted (the next
apply sends nothing), and a script reverted to one exported before reuses that export.
Requests are counted on the emulator's own journal. These tests are about real lockfiles,
so the emulator answers through `disguised` (a proxy dropping its identity mark): otherwise
apply would rightly treat the run as an emulator run.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import (
    SPECSYNC,
    assert_not_a_crash,
    env_for,
    git,
    lock_items,
    new_repo,
    specsync,
)
from tests.helpers.disguised_service import disguised, relay
from tests.helpers.loopback import LoopbackServer

MANIFEST = """specsync: 1
defaults: {{model: M1, locales: [en]}}
videos:
  welcome: {{script: "{script}"}}
  pricing: {{script: "Our prices are simple."}}
"""


def project(tmp_path: Path, script: str = "Hello and welcome.") -> Path:
    (tmp_path / "manifests").mkdir(exist_ok=True)
    write_script(tmp_path, script)
    return tmp_path


def write_script(root: Path, script: str) -> None:
    (root / "manifests" / "videos.yaml").write_text(MANIFEST.format(script=script), "utf-8")


def plan_document(root: Path, env: dict[str, str]) -> dict:
    result = specsync(["plan", "--format", "json"], root, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def actions(document: dict) -> dict[str, str]:
    return {item["id"]: item["action"] for item in document["items"]}


def test_adopting_an_uncertain_export_means_the_next_apply_sends_nothing(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    # Every export is processed and billed, then the connection closes with no answer.
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5, drop_rate=1.0)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        applied = specsync(["apply", "--rate", "100", "--format", "json"], root, env)
        assert applied.returncode == 1, applied.stderr
        assert sorted(json.loads(applied.stdout)["uncertainLeft"]) == ["pricing/en", "welcome/en"]
        assert "specsync adopt" in applied.stderr
        assert applied.stderr.index("specsync adopt") < applied.stderr.index("--retry-uncertain")
        assert actions(plan_document(root, env))["welcome/en"] == "uncertain"
        made = {r["body"]["text"]: r for r in emu.records("export")}
        sent = emu.export_count()

        welcome = made["Hello and welcome."]
        adopted = specsync(
            [
                "adopt",
                "welcome/en",
                "--project-id",
                welcome["projectId"],
                "--task-id",
                welcome["taskId"],
            ],
            root,
            env,
        )
        assert adopted.returncode == 0, adopted.stderr
        assert welcome["projectId"] in adopted.stdout
        # The other one is known only by its projectId (what AI Studios shows).
        pricing = made["Our prices are simple."]
        adopted = specsync(["adopt", "pricing/en", "--project-id", pricing["projectId"]], root, env)
        assert adopted.returncode == 0, adopted.stderr

        entries = lock_items(root)
        assert entries["welcome/en"]["projectId"] == welcome["projectId"]
        assert entries["welcome/en"]["taskId"] == welcome["taskId"]
        assert entries["pricing/en"]["projectId"] == pricing["projectId"]
        # No longer uncertain (done when the service already says the render finished).
        assert entries["welcome/en"].get("state") in (None, "done")
        document = plan_document(root, env)
        assert set(actions(document).values()) == {"unchanged"}
        assert specsync(["plan", "--detailed-exitcode"], root, env).returncode == 0

        again = specsync(["apply", "--rate", "100"], root, env)
        assert again.returncode == 0, again.stderr
        assert emu.export_count() == sent  # not one request more
        # status polls the adopted exports like any other.
        polled = specsync(["status", "--format", "json"], root, env)
        assert polled.returncode == 0, polled.stderr
        assert {i["projectId"] for i in json.loads(polled.stdout)["items"]} == {
            welcome["projectId"],
            pricing["projectId"],
        }


def test_a_reverted_script_reuses_its_earlier_export_with_no_request(tmp_path: Path) -> None:
    root = project(tmp_path, "First words.")
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        first = lock_items(root)["welcome/en"]
        write_script(root, "Second words.")
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        second = lock_items(root)["welcome/en"]
        assert emu.export_count() == 3

        write_script(root, "First words.")  # the revert
        document = plan_document(root, env)
        welcome = next(i for i in document["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "reuse"
        assert welcome["projectId"] == first["projectId"]
        assert document["summary"]["reuse"] == 1
        assert document["estimate"]["exports"] == 0
        text = specsync(["plan"], root, env)
        assert "1 to reuse" in text.stdout and "< welcome/en  reuse" in text.stdout
        markdown = specsync(["plan", "--format", "markdown"], root, env)
        assert "| `welcome/en` | reuse |" in markdown.stdout
        assert specsync(["plan", "--detailed-exitcode"], root, env).returncode == 2

        applied = specsync(["apply", "--rate", "100", "--format", "json"], root, env)
        assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout)["reused"] == [
            {
                "id": "welcome/en",
                "action": "reuse",
                "projectId": first["projectId"],
                "taskId": first["taskId"],
            }
        ]
        assert "1 reused" in applied.stderr
        assert emu.export_count() == 3  # nothing sent
        entry = lock_items(root)["welcome/en"]
        assert (entry["projectId"], entry["taskId"]) == (first["projectId"], first["taskId"])
        assert entry["text"] == "First words."
        # The export it replaces is kept; the reused one is current, listed once.
        assert [(h["projectId"], h["taskId"]) for h in entry["history"]] == [
            (second["projectId"], second["taskId"])
        ]
        assert set(actions(plan_document(root, env)).values()) == {"unchanged"}


def test_adopting_a_project_id_the_service_does_not_know_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        before = (root / "specsync.lock").read_bytes()
        refused = specsync(["adopt", "welcome/en", "--project-id", "no-such-project"], root, env)
        assert refused.returncode == 1
        assert "does not know projectId no-such-project (HTTP 404)" in refused.stderr
        assert_not_a_crash(refused)
        assert (root / "specsync.lock").read_bytes() == before
        assert not (root / ".specsync" / "specsync.lock.journal").exists()


def test_adopting_an_item_not_in_the_manifests_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        refused = specsync(["adopt", "welcome/ko", "--project-id", "p-1"], root, env)
        assert refused.returncode == 1
        assert "no item 'welcome/ko' in the manifests" in refused.stderr
        assert "did you mean 'welcome/en'?" in refused.stderr
        assert not (root / "specsync.lock").exists()
        assert emu.records() == [] or all(r["event"] != "export" for r in emu.records())


def test_adopting_real_ids_into_an_emulator_lockfile_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert specsync(["apply", "--rate", "100", "--emulator"], root).returncode == 0
    rehearsal = root / ".specsync" / "emulator.lock"
    before = rehearsal.read_bytes()
    command = ["adopt", "welcome/en", "--project-id", "p-real", "--no-check"]
    refused = specsync([*command, "--lockfile", str(rehearsal)], root)
    assert refused.returncode == 1
    assert "apply --emulator" in refused.stderr
    assert rehearsal.read_bytes() == before
    assert not (root / "specsync.lock").exists()


def test_adopt_without_a_check_keeps_the_replaced_ids_in_history(tmp_path: Path) -> None:
    root = project(tmp_path)
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
    old = lock_items(root)["welcome/en"]
    # No service at all: --no-check records the ids as given.
    env = env_for("http://127.0.0.1:9")
    adopted = specsync(
        ["adopt", "welcome/en", "--project-id", "p-made-by-hand", "--no-check"],
        root,
        env,
    )
    assert adopted.returncode == 0, adopted.stderr
    entry = lock_items(root)["welcome/en"]
    assert (entry["projectId"], entry["taskId"]) == ("p-made-by-hand", "unknown")
    assert [h["projectId"] for h in entry["history"]] == [old["projectId"]]
    assert set(actions(plan_document(root, env)).values()) == {"unchanged"}


def test_a_merge_conflict_resolved_by_taking_their_script_reuses_their_export(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path / "repo", merge_driver=True)
    project(repo, "The base words.")
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], repo, env).returncode == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "base")
        theirs: dict = {}
        for branch, script in (("ours", "Our words."), ("theirs", "Their words.")):
            git(repo, "checkout", "-q", "-b", branch, "main")
            write_script(repo, script)
            assert specsync(["apply", "--rate", "100"], repo, env).returncode == 0
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"{branch} words")
            theirs = lock_items(repo)["welcome/en"]
        git(repo, "checkout", "-q", "ours")
        merged = git(repo, "merge", "--no-edit", "theirs", check=False)
        assert merged.returncode != 0  # both the script and the export differ
        # Resolved by taking their script; the lockfile keeps what the driver wrote.
        git(repo, "checkout", "--theirs", "manifests/videos.yaml")
        git(repo, "add", "manifests/videos.yaml", "specsync.lock")
        sent = emu.export_count()

        document = plan_document(repo, env)
        welcome = next(i for i in document["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "reuse", document
        assert welcome["projectId"] == theirs["projectId"]
        applied = specsync(["apply", "--rate", "100"], repo, env)
        assert applied.returncode == 0, applied.stderr
        assert emu.export_count() == sent
        assert lock_items(repo)["welcome/en"]["projectId"] == theirs["projectId"]


@contextlib.contextmanager
def hanging_second_export(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """Forwards to `upstream`, except that the second export is read and never answered."""
    posted = threading.Event()
    release = threading.Event()
    exports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "POST" and self.path == "/api/odin/v3/simple/custom":
                exports.append(1)
                if len(exports) == 2:
                    posted.set()
                    release.wait(30)  # the client is killed while waiting for this answer
                    return
            relay(self, upstream, body)

        do_GET = do_POST = _forward

    server = LoopbackServer(Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posted
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_adopt_folds_the_journal_of_a_killed_apply_first(tmp_path: Path) -> None:
    root = project(tmp_path)
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
        hanging_second_export(real_url) as (url, posted),
    ):
        env = env_for(url)
        apply = subprocess.Popen(
            [SPECSYNC, "apply", "--concurrency", "1"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert posted.wait(30), "the second export never arrived"
        finally:
            apply.kill()
            apply.wait(10)
        assert (root / ".specsync" / "specsync.lock.journal").exists()
        assert not (root / "specsync.lock").exists()  # the first answer is only journalled
        first = emu.records("export")[0]
        adopted = specsync(
            ["adopt", "welcome/en", "--project-id", "p-found-in-studio", "--no-check"],
            root,
            env,
        )
        assert adopted.returncode == 0, adopted.stderr
        assert "recovered" in adopted.stderr
        entries = lock_items(root)
        done = next(k for k in entries if k != "welcome/en")
        # The answer the killed apply journalled is in the lockfile: no id lost.
        assert entries[done]["projectId"] == first["projectId"]
        assert entries["welcome/en"]["projectId"] == "p-found-in-studio"
        assert not (root / ".specsync" / "specsync.lock.journal").exists()


# -- reuse never hides an uncertain or failed export (issue 25) ----------------------------


def test_an_uncertain_request_is_not_forgotten_by_reverting_and_coming_back(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, "First words.")
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        first = lock_items(root)["welcome/en"]
    write_script(root, "Second words.")
    # The service processes (and bills) the request, then the connection closes unanswered.
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5, drop_rate=1.0)) as dropping,
        disguised(dropping.url) as real_url,
    ):
        applied = specsync(["apply", "--rate", "100", "--format", "json"], root, env_for(real_url))
        assert applied.returncode == 1, applied.stderr
        assert json.loads(applied.stdout)["uncertainLeft"] == ["welcome/en"]
        assert dropping.export_count() == 1
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        write_script(root, "First words.")  # reverted: the earlier export is reused...
        welcome = next(i for i in plan_document(root, env)["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "reuse" and welcome["projectId"] == first["projectId"]
        assert "unknown outcome" in welcome["reason"]
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        # ...and the request of unknown outcome stays in the lockfile.
        [attempt] = [h for h in lock_items(root)["welcome/en"]["history"] if "projectId" not in h]
        assert attempt["state"] == "uncertain" and attempt["attemptedAt"]

        write_script(root, "Second words.")  # back: that request is shown, not sent again
        assert actions(plan_document(root, env))["welcome/en"] == "uncertain"
        again = specsync(["apply", "--rate", "100", "--format", "json"], root, env)
        assert again.returncode == 1, again.stderr
        assert json.loads(again.stdout)["uncertainLeft"] == ["welcome/en"]
        assert emu.export_count() == 0  # nothing at all was sent in this service's life
        # Resubmitting is the user's explicit choice.
        retried = specsync(["apply", "--rate", "100", "--retry-uncertain"], root, env)
        assert retried.returncode == 0, retried.stderr
        assert emu.export_count() == 1
        assert actions(plan_document(root, env))["welcome/en"] == "unchanged"


def test_an_export_recorded_failed_and_moved_into_history_is_never_reused(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, "First words.")
    with (
        running_emulator(EmulatorConfig(render_seconds=0.1, render_fail_rate=1.0)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        first = lock_items(root)["welcome/en"]
        deadline = time.monotonic() + 10
        while lock_items(root)["welcome/en"].get("state") != "failed":
            assert time.monotonic() < deadline, "status never recorded the failed render"
            time.sleep(0.2)
            specsync(["status"], root, env)
        write_script(root, "Second words.")
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        [moved] = lock_items(root)["welcome/en"]["history"]
        assert (moved["projectId"], moved["state"]) == (first["projectId"], "failed")
        sent = emu.export_count()

        write_script(root, "First words.")
        welcome = next(i for i in plan_document(root, env)["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "update"
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        assert emu.export_count() == sent + 1  # a new export, not the failed one
        assert lock_items(root)["welcome/en"]["projectId"] != first["projectId"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_a_blank_lockfile_is_refused_not_taken_for_none(tmp_path: Path, content: bytes) -> None:
    root = project(tmp_path)
    lockfile = root / "specsync.lock"
    lockfile.write_bytes(content)
    with (
        running_emulator(EmulatorConfig(render_seconds=0.5)) as emu,
        disguised(emu.url) as real_url,
    ):
        env = env_for(real_url)
        for command in (["plan"], ["apply"], ["status"]):
            result = specsync([*command], root, env)
            assert result.returncode == 1, (command, result.stderr)
            assert "specsync.lock:1:1: the lockfile" in result.stderr
            assert "rm " in result.stderr and "git checkout -- " in result.stderr
            assert_not_a_crash(result)
        assert emu.export_count() == 0
    assert lockfile.read_bytes() == content
    # Starting over is one command away, as the message says.
    lockfile.unlink()
    assert "2 to create" in specsync(["plan"], root, env).stdout
