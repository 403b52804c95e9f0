"""plan and apply end to end: the installed command, the emulator, and a counting proxy
between them that records every request (so "one POST per item" is counted, not assumed)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import EXAMPLES, assert_not_a_crash, specsync, tomllib
from tests.helpers.disguised_service import relay
from tests.helpers.loopback import LoopbackServer

CANARY = "canary-key-7f3a9c1e5b"
EXPORT_PATH = "/api/odin/v3/simple/custom"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Proxy:
    url: str
    seen: list[Seen] = field(default_factory=list)
    reject_marker: str | None = None

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST" and s.path == EXPORT_PATH]


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    """Forwards to an emulator; answers 400 itself for texts holding `reject_marker`."""
    with running_emulator(EmulatorConfig(render_seconds=0.5, api_key=CANARY)) as emu:
        state = Proxy(url="")

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                state.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                marker = state.reject_marker
                if marker and marker.encode() in body:
                    answer = json.dumps(
                        {"success": False, "error": {"code": "E4001", "msg": "bad script"}}
                    ).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                relay(self, emu.url, body)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = LoopbackServer(Handler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield state
        finally:
            server.shutdown()
            server.server_close()


MANIFEST = """\
specsync: 1
defaults:
  model: M000045058
  locales: [en, ko, ja]
  webhookUrl: https://hooks.example.com/a
vars: {product: Acme}
videos:
  welcome:
    script: "Welcome to {{ product }} ({{ locale }})."
  pricing:
    script: "Pricing of {{ product }} in {{ locale }}."
    locales:
      en: {}
      de: {}
"""


@pytest.fixture
def project(tmp_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
    monkeypatch.setenv("AISTUDIOS_API_KEY", CANARY)
    monkeypatch.setenv("SPECSYNC_API_BASE", proxy.url)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def test_plan_on_a_fresh_set_exits_2_and_sends_nothing(project: Path, proxy: Proxy) -> None:
    result = specsync(["plan", "--detailed-exitcode"], project)
    assert result.returncode == 2, result.stderr
    # The plan on stdout, as `terraform plan` prints it; notes on stderr.
    assert "5 to create" in result.stdout and "5 to create" not in result.stderr
    assert "no lockfile yet (specsync.lock): all 5 items are new" in result.stderr
    assert proxy.seen == []
    assert not (project / "specsync.lock").exists()


def test_apply_once_then_nothing(project: Path, proxy: Proxy) -> None:
    first = specsync(["apply", "--rate", "50"], project)
    assert first.returncode == 0, first.stderr
    assert len(proxy.posts()) == 5
    lock = tomllib.loads((project / "specsync.lock").read_text(encoding="utf-8"))
    assert lock["emulator"] is False
    assert sorted(lock["items"]) == [
        "pricing/de",
        "pricing/en",
        "welcome/en",
        "welcome/ja",
        "welcome/ko",
    ]
    assert all(e["projectId"] and e["taskId"] for e in lock["items"].values())
    before = (project / "specsync.lock").read_bytes()
    second = specsync(["apply", "--rate", "100"], project)
    assert second.returncode == 0, second.stderr
    assert len(proxy.posts()) == 5
    assert (project / "specsync.lock").read_bytes() == before
    assert specsync(["plan", "--detailed-exitcode"], project).returncode == 0
    # `git add -A` after an apply would stage the lockfile only.
    assert (project / ".specsync" / ".gitignore").read_text() == "*\n"


def test_only_what_changes_the_video_is_resubmitted(project: Path, proxy: Proxy) -> None:
    assert specsync(["apply", "--rate", "50"], project).returncode == 0
    manifest = project / "manifests" / "videos.yaml"
    # Webhook change, key reordering and re-indentation: no new export.
    reshaped = (
        "specsync: 1\n"
        "vars: {product: Acme}\n"
        "defaults:\n"
        "    locales: [en, ko, ja]\n"
        "    webhookUrl: https://hooks.example.com/CHANGED\n"
        "    model: M000045058\n"
        "videos:\n"
        "    pricing:\n"
        "        locales: {en: {}, de: {}}\n"
        '        script: "Pricing of {{ product }} in {{ locale }}."\n'
        "    welcome:\n"
        '        script: "Welcome to {{ product }} ({{ locale }})."\n'
    )
    manifest.write_text(reshaped, encoding="utf-8")
    assert specsync(["plan", "--detailed-exitcode"], project).returncode == 0
    assert specsync(["apply", "--rate", "100"], project).returncode == 0
    assert len(proxy.posts()) == 5
    # One video's script changed in two locales: exactly two exports.
    manifest.write_text(
        reshaped.replace(
            'locales: {en: {}, de: {}}\n        script: "Pricing of',
            'locales: {en: {}, de: {}}\n        script: "New pricing of',
        ),
        encoding="utf-8",
    )
    planned = json.loads(specsync(["plan", "--format", "json"], project).stdout)
    assert planned["summary"] == {
        "create": 0,
        "update": 2,
        "reuse": 0,
        "unchanged": 3,
        "orphaned": 0,
        "uncertain": 0,
    }
    update = next(i for i in planned["items"] if i["id"] == "pricing/de")
    assert update["action"] == "update"
    assert update["changes"][0]["field"] == "text"
    assert update["diff"] == ["- Pricing of Acme in de.", "+ New pricing of Acme in de."]
    old_ids = tomllib.loads((project / "specsync.lock").read_text())["items"]["pricing/de"]
    applied = specsync(["apply", "--rate", "100", "--format", "json"], project)
    assert applied.returncode == 0, applied.stderr
    assert len(proxy.posts()) == 7
    report = json.loads(applied.stdout)
    assert sorted(r["id"] for r in report["submitted"]) == ["pricing/de", "pricing/en"]
    entry = tomllib.loads((project / "specsync.lock").read_text())["items"]["pricing/de"]
    assert entry["projectId"] != old_ids["projectId"]
    assert entry["history"][0]["projectId"] == old_ids["projectId"]


def test_markdown_plan_and_orphans(project: Path, proxy: Proxy) -> None:
    assert specsync(["apply", "--rate", "50"], project).returncode == 0
    manifest = project / "manifests" / "videos.yaml"
    manifest.write_text(
        MANIFEST.replace("      de: {}\n", "").replace("[en, ko, ja]", "[en, ko, ja, fr]"),
        encoding="utf-8",
    )
    markdown = specsync(["plan", "--format", "markdown"], project)
    assert markdown.returncode == 0
    assert "| `welcome/fr` | create |" in markdown.stdout
    assert "| `pricing/de` | orphaned |" in markdown.stdout
    # Orphans alone never make --detailed-exitcode say "changes"; forget drops them.
    assert specsync(["apply", "--rate", "50"], project).returncode == 0
    assert specsync(["plan", "--detailed-exitcode"], project).returncode == 0
    lock_before = tomllib.loads((project / "specsync.lock").read_text())
    forgot = specsync(["forget", "pricing/d*"], project)
    assert forgot.returncode == 0, forgot.stderr
    lock = tomllib.loads((project / "specsync.lock").read_text())
    assert "pricing/de" not in lock["items"]
    kept = lock["forgotten"]["pricing/de"]["history"][0]["projectId"]
    assert kept == lock_before["items"]["pricing/de"]["projectId"]
    assert specsync(["forget", "nothing/*"], project).returncode == 1


def test_replace_and_target(project: Path, proxy: Proxy) -> None:
    targeted = specsync(["apply", "--target", "welcome/*", "--rate", "50"], project)
    assert targeted.returncode == 0, targeted.stderr
    assert len(proxy.posts()) == 3
    assert specsync(["apply", "--rate", "50"], project).returncode == 0
    assert len(proxy.posts()) == 5
    replaced = specsync(
        ["apply", "--rate", "100", "--replace", "welcome/ko", "--format", "json"], project
    )
    assert replaced.returncode == 0
    assert [r["id"] for r in json.loads(replaced.stdout)["submitted"]] == ["welcome/ko"]
    assert len(proxy.posts()) == 6


def test_a_rejected_item_fails_and_the_rest_are_recorded(project: Path, proxy: Proxy) -> None:
    proxy.reject_marker = "(ko)"
    result = specsync(["apply", "--format", "json", "--rate", "50"], project)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [r["id"] for r in report["failed"]] == ["welcome/ko"]
    assert (
        "E4001" in report["failed"][0]["message"] or "bad script" in report["failed"][0]["message"]
    )
    assert len(report["submitted"]) == 4
    lock = tomllib.loads((project / "specsync.lock").read_text())
    assert "welcome/ko" not in lock["items"] and len(lock["items"]) == 4
    proxy.reject_marker = None
    again = specsync(["apply", "--rate", "100", "--format", "json"], project)
    assert [r["id"] for r in json.loads(again.stdout)["submitted"]] == ["welcome/ko"]


def test_the_canary_key_appears_only_in_the_authorization_header(
    project: Path, proxy: Proxy
) -> None:
    outputs = []
    for args in (("plan",), ("apply", "--rate", "50"), ("apply",), ("plan", "--format", "json")):
        result = specsync([*args], project)
        outputs += [result.stdout, result.stderr]
    wrong = specsync(
        ["apply", "--rate", "100"], project, env={**os.environ, "AISTUDIOS_API_KEY": CANARY + "x"}
    )
    outputs += [wrong.stdout, wrong.stderr]
    assert all(CANARY not in text for text in outputs)
    for path in project.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    for seen in proxy.seen:
        assert CANARY.encode() not in seen.body
        for name, value in seen.headers.items():
            if name.lower() != "authorization":
                assert CANARY not in value
    assert any(s.headers.get("Authorization") == CANARY for s in proxy.posts())


def test_missing_key_is_a_clear_error_before_any_work(tmp_path: Path, proxy: Proxy) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "v.yaml").write_text(MANIFEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AISTUDIOS_")}
    result = specsync(
        ["apply", "--rate", "100"], tmp_path, env={**env, "SPECSYNC_API_BASE": proxy.url}
    )
    assert result.returncode == 1
    assert "AISTUDIOS_API_KEY" in result.stderr
    assert_not_a_crash(result)
    assert proxy.seen == [] and not (tmp_path / "specsync.lock").exists()


def test_emulator_lockfile_is_not_taken_for_real_exports(project: Path, proxy: Proxy) -> None:
    # An emulator-marked specsync.lock, as earlier versions wrote with `apply --emulator`.
    fake = specsync(
        ["apply", "--rate", "100", "--emulator", "--lockfile", "specsync.lock"], project
    )
    assert fake.returncode == 0, fake.stderr
    assert "nothing is really exported" in fake.stderr
    assert tomllib.loads((project / "specsync.lock").read_text())["emulator"] is True
    real = specsync(["apply", "--rate", "100"], project)
    assert real.returncode == 1
    assert "--emulator" in real.stderr and "--lockfile" in real.stderr
    assert proxy.posts() == []


def test_examples_export_on_the_emulator_without_a_key(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AISTUDIOS_", "SPECSYNC_"))}
    applied = specsync(["apply", "--rate", "100", "--emulator"], examples, env=env)
    assert applied.returncode == 0, applied.stderr
    # The rehearsal has its own lockfile: the real record stays untouched.
    assert (examples / ".specsync" / "emulator.lock").exists()
    assert not (examples / "specsync.lock").exists()
    rehearsed = specsync(["plan", "--emulator", "--format", "json"], examples, env=env)
    planned = json.loads(rehearsed.stdout)
    assert planned["items"] and {i["action"] for i in planned["items"]} == {"unchanged"}
    real = json.loads(specsync(["plan", "--format", "json"], examples, env=env).stdout)
    assert {i["action"] for i in real["items"]} == {"create"}


def test_cost_guards_refuse_before_anything_is_sent(project: Path, proxy: Proxy) -> None:
    planned = json.loads(specsync(["plan", "--format", "json"], project).stdout)
    assert planned["estimate"]["exports"] == 5 and planned["estimate"]["minutes"] > 0
    too_many = specsync(["apply", "--rate", "100", "--max-items", "1"], project)
    assert too_many.returncode == 1
    assert "--max-items allows 1 (4 over)" in too_many.stderr
    too_long = specsync(["apply", "--rate", "100", "--max-minutes", "0.01"], project)
    assert too_long.returncode == 1 and "--max-minutes" in too_long.stderr
    assert proxy.seen == [] and not (project / "specsync.lock").exists()
    assert specsync(["apply", "--max-items", "5", "--rate", "50"], project).returncode == 0


def test_globs_that_match_nothing_are_errors_with_nothing_sent(project: Path, proxy: Proxy) -> None:
    for args in (
        ["apply", "--target", "welcom/*"],
        ["apply", "--replace", "nope/*"],
        ["render", "--target", "welcom/*"],
        ["plan", "--target", "welcom/*"],
    ):
        done = specsync([*args], project)
        assert done.returncode == 1, (args, done.stderr)
        assert "matches no item" in done.stderr
        assert_not_a_crash(done)
    assert proxy.seen == []
    assert not (project / "specsync.lock").exists()


def test_plan_and_apply_say_what_lies_outside_target(project: Path, proxy: Proxy) -> None:
    planned = specsync(["plan", "--target", "pricing/*"], project)
    assert planned.returncode == 0, planned.stderr
    assert "pending items lie outside --target" in planned.stderr
    assert "welcome" not in planned.stdout


def test_forget_dry_run_changes_nothing_and_a_typo_forgets_nothing(
    project: Path, proxy: Proxy
) -> None:
    assert specsync(["apply", "--rate", "100"], project).returncode == 0
    before = (project / "specsync.lock").read_bytes()
    dry = specsync(["forget", "--dry-run", "pricing/*"], project)
    assert dry.returncode == 0, dry.stderr
    assert "would forget pricing/" in dry.stderr
    assert (project / "specsync.lock").read_bytes() == before
    typo = specsync(["forget", "pricing/*", "welcom/*"], project)
    assert typo.returncode == 1 and "'welcom/*' matches no item" in typo.stderr
    assert (project / "specsync.lock").read_bytes() == before


def test_commands_in_a_subfolder_use_the_projects_lockfile(project: Path, proxy: Proxy) -> None:
    """`cd manifests && specsync apply .` used to write a second lockfile there and export
    everything again; the project root is found upwards, as git finds .git."""
    assert specsync(["apply", "--rate", "100"], project).returncode == 0
    sent = len(proxy.seen)
    inside = project / "manifests"
    for args in (["plan", "--detailed-exitcode"], ["plan", ".", "--detailed-exitcode"]):
        planned = specsync([*args], inside)
        assert planned.returncode == 0, (args, planned.stdout + planned.stderr)
        assert "5 unchanged" in planned.stdout
    applied = specsync(["apply", "--rate", "100", "."], inside)
    assert applied.returncode == 0, applied.stderr
    assert len(proxy.seen) == sent
    assert not (inside / "specsync.lock").exists()
    # --lockfile still wins.
    fresh = specsync(["plan", "--lockfile", "other.lock", "--detailed-exitcode"], inside)
    assert fresh.returncode == 2 and "5 to create" in fresh.stdout


def test_a_lockfile_of_another_user_above_is_not_the_project(tmp_path: Path) -> None:
    """Like git's safe.directory: a stray specsync.lock someone else owns, above the
    folder (say in /tmp), never becomes this project's lockfile."""
    from specsync.manifests.project_root import find_project_root

    project = tmp_path / "shared" / "project"
    project.mkdir(parents=True)
    planted = tmp_path / "shared" / "specsync.lock"
    planted.write_text("", encoding="utf-8")
    assert find_project_root(project) == tmp_path / "shared"
    try:
        os.chown(planted, 65534, 65534)  # nobody
    except PermissionError:
        pytest.skip("only root can give a file to another user")
    assert find_project_root(project) is None
