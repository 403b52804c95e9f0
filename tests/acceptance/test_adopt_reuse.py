"""`specsync adopt` and plan's `reuse`, through the installed CLI against a real emulator.

Everyday use never pays twice: an uncertain export found in AI Studios is adopted (the next
apply sends nothing), and a script reverted to one exported before reuses that export.
Requests are counted on the emulator's own journal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import SPECSYNC, run, tomllib

from specsync.emulator import EmulatorConfig, running_emulator

MANIFEST = """specsync: 1
defaults: {{model: M1, locales: [en]}}
videos:
  welcome: {{script: "{script}"}}
  pricing: {{script: "Our prices are simple."}}
"""


def api_env(base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AISTUDIOS_APP_ID", None)
    env.pop("AISTUDIOS_USER_KEY", None)
    env["SPECSYNC_API_BASE"] = base_url
    env["AISTUDIOS_API_KEY"] = "test-key"
    return env


def project(tmp_path: Path, script: str = "Hello and welcome.") -> Path:
    (tmp_path / "manifests").mkdir(exist_ok=True)
    write_script(tmp_path, script)
    return tmp_path


def write_script(root: Path, script: str) -> None:
    (root / "manifests" / "videos.yaml").write_text(MANIFEST.format(script=script), "utf-8")


def lock_items(root: Path) -> dict:
    return tomllib.loads((root / "specsync.lock").read_text("utf-8"))["items"]


def plan_document(root: Path, env: dict[str, str]) -> dict:
    result = run([SPECSYNC, "plan", "--format", "json"], root, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def actions(document: dict) -> dict[str, str]:
    return {item["id"]: item["action"] for item in document["items"]}


def test_a_reverted_script_reuses_its_earlier_export_with_no_request(tmp_path: Path) -> None:
    root = project(tmp_path, "First words.")
    with running_emulator(EmulatorConfig(render_seconds=0.5)) as emu:
        env = api_env(emu.url)
        assert run([SPECSYNC, "apply"], root, env).returncode == 0
        first = lock_items(root)["welcome/en"]
        write_script(root, "Second words.")
        assert run([SPECSYNC, "apply"], root, env).returncode == 0
        second = lock_items(root)["welcome/en"]
        assert emu.export_count() == 3

        write_script(root, "First words.")  # the revert
        document = plan_document(root, env)
        welcome = next(i for i in document["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "reuse"
        assert welcome["projectId"] == first["projectId"]
        assert document["summary"]["reuse"] == 1
        assert document["estimate"]["exports"] == 0
        text = run([SPECSYNC, "plan"], root, env)
        assert "1 to reuse" in text.stdout and "< welcome/en  reuse" in text.stdout
        markdown = run([SPECSYNC, "plan", "--format", "markdown"], root, env)
        assert "| `welcome/en` | reuse |" in markdown.stdout
        assert run([SPECSYNC, "plan", "--detailed-exitcode"], root, env).returncode == 2

        applied = run([SPECSYNC, "apply", "--format", "json"], root, env)
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
