"""Saved plans through the installed CLI: `plan --out FILE`, then `apply --plan FILE`.

What was reviewed is what gets billed: the saved plan is sent exactly, and refused with
not one request (counted at a proxy in front of the emulator, `GET /` included) when the
lockfile, a rendered request or the specsync version changed since it was saved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import assert_not_a_crash, env_for, lock_items, specsync
from tests.helpers.disguised_service import disguised

MANIFEST = """specsync: 1
defaults: {{model: M1, locales: [en, de]}}
videos:
  welcome:
    script: "{script}"
    webhookUrl: {webhook}
  pricing: {{script: "Our prices are simple."}}
"""


def write_manifest(
    root: Path, script: str = "Hello and welcome.", webhook: str = "https://hooks.example/a"
) -> None:
    (root / "manifests").mkdir(exist_ok=True)
    text = MANIFEST.format(script=script, webhook=webhook)
    (root / "manifests" / "videos.yaml").write_text(text, "utf-8")


def save_plan(root: Path, env: dict[str, str], *extra: str) -> dict:
    saved = specsync(["plan", "--out", "reviewed.plan", *extra], root, env)
    assert saved.returncode == 0, saved.stderr
    assert "saved the plan to reviewed.plan" in saved.stderr
    return json.loads((root / "reviewed.plan").read_text("utf-8"))


def test_a_saved_plan_is_sent_exactly_and_then_is_spent(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    seen: list[str] = []
    with running_emulator(EmulatorConfig()) as emu, disguised(emu.url, seen) as url:
        env = env_for(url)
        document = save_plan(tmp_path, env)
        assert seen == []  # plan never touches the network
        assert sorted(i["id"] for i in document["items"]) == [
            "pricing/de",
            "pricing/en",
            "welcome/de",
            "welcome/en",
        ]
        welcome = next(i for i in document["items"] if i["id"] == "welcome/en")
        assert welcome["action"] == "create"
        assert welcome["request"]["text"] == "Hello and welcome."
        assert welcome["request"]["webhookUrl"] == "https://hooks.example/a"
        assert len(welcome["fingerprint"]) == 64
        assert document["specsyncVersion"]
        assert len(document["lockfileDigest"]) == len(document["manifestsDigest"]) == 64

        applied = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert applied.returncode == 0, applied.stderr
        sent = sorted(record["body"]["text"] for record in emu.records("export"))
        assert sent == sorted(i["request"]["text"] for i in document["items"])
        bodies = {
            r["body"]["language"] + r["body"]["text"]: r["body"] for r in emu.records("export")
        }
        assert bodies["enHello and welcome."] == welcome["request"]  # the very body reviewed
        assert set(lock_items(tmp_path)) == {i["id"] for i in document["items"]}

        # The same plan again: the lockfile changed (it recorded the exports): refused.
        before = list(seen)
        again = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert again.returncode == 1
        assert "out of date" in again.stderr and "specsync.lock" in again.stderr
        assert "Nothing was sent" in again.stderr
        assert_not_a_crash(again)
        assert seen == before and emu.export_count() == 4


def test_a_changed_manifest_or_lockfile_refuses_the_plan_with_no_request(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    seen: list[str] = []
    with running_emulator(EmulatorConfig()) as emu, disguised(emu.url, seen) as url:
        env = env_for(url)
        assert (
            specsync(["apply", "--rate", "100", "--target", "pricing/*"], tmp_path, env).returncode
            == 0
        )
        exported = emu.export_count()
        lockfile = (tmp_path / "specsync.lock").read_bytes()
        save_plan(tmp_path, env)

        # A script edited after review: named, refused, nothing sent, lockfile untouched.
        write_manifest(tmp_path, script="Hello and welcome back.")
        seen.clear()
        refused = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert refused.returncode == 1, refused.stderr
        assert "rendered manifests changed" in refused.stderr
        assert "welcome/de, welcome/en" in refused.stderr
        assert seen == [] and emu.export_count() == exported
        assert (tmp_path / "specsync.lock").read_bytes() == lockfile

        # Only the webhook changed: not a new video, but not the request reviewed either.
        write_manifest(tmp_path, webhook="https://hooks.example/b")
        refused = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert refused.returncode == 1 and "welcome/en" in refused.stderr
        assert seen == []

        # Manifests back as reviewed, but the lockfile changed: an entry was forgotten.
        write_manifest(tmp_path)
        assert specsync(["forget", "pricing/de"], tmp_path, env).returncode == 0
        refused = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert refused.returncode == 1 and "specsync.lock" in refused.stderr
        assert seen == [] and emu.export_count() == exported

        # Rewritten with the same exports (here: a blank line; a merge, a pull's hashes):
        # what apply would do is the same, so the plan holds.
        (tmp_path / "specsync.lock").write_bytes(lockfile.replace(b"# end", b"\n# end"))
        applied = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert applied.returncode == 0, applied.stderr
        assert emu.export_count() == exported + 2


def test_a_saved_plan_keeps_its_targets_and_reuses(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    with running_emulator(EmulatorConfig()) as emu, disguised(emu.url) as url:
        env = env_for(url)
        assert specsync(["apply", "--rate", "100"], tmp_path, env).returncode == 0
        first = lock_items(tmp_path)["welcome/en"]["projectId"]
        write_manifest(tmp_path, script="A new welcome.")
        assert specsync(["apply", "--rate", "100"], tmp_path, env).returncode == 0
        exported = emu.export_count()
        # Reverted to the first script: reuse for both locales, but the plan is limited.
        write_manifest(tmp_path)
        document = save_plan(tmp_path, env, "--target", "welcome/en")
        assert [(i["id"], i["action"]) for i in document["items"]] == [("welcome/en", "reuse")]
        assert document["items"][0]["projectId"] == first
        assert document["targets"] == ["welcome/en"]

        clash = specsync(
            ["apply", "--rate", "100", "--plan", "reviewed.plan", "--target", "welcome/de"],
            tmp_path,
            env,
        )
        assert clash.returncode == 1 and "--target" in clash.stderr
        applied = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert applied.returncode == 0, applied.stderr
        assert emu.export_count() == exported  # a reuse sends nothing
        items = lock_items(tmp_path)
        assert items["welcome/en"]["projectId"] == first
        assert items["welcome/de"]["projectId"] != first  # outside the plan: left as it was
        assert "1 more pending" in applied.stderr
        assert "resolution" not in applied.stderr  # nothing was stamped: no note about it


def test_a_saved_plan_that_cannot_be_read_is_a_clean_error(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    env = env_for("http://127.0.0.1:9")  # never reached
    cases = {
        "missing.plan": None,
        "broken.plan": b'{"format": "specsync-saved-plan",\n "items": [}',
        "latin1.plan": "caf\xe9".encode("latin-1"),
        "other.plan": b'{"format": "terraform"}',
        "future.plan": b'{"format": "specsync-saved-plan", "formatVersion": 99}',
    }
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    os.mkfifo(tmp_path / "fifo.plan")
    expected = {
        "missing.plan": "No such file",
        "broken.plan": "broken.plan:2:",
        "latin1.plan": "not UTF-8",
        "other.plan": "not a saved plan",
        "future.plan": "format version 99",
        "fifo.plan": "not a regular file",
    }
    for name, words in expected.items():
        result = specsync(["apply", "--rate", "100", "--plan", name], tmp_path, env)
        assert result.returncode == 1, (name, result.stderr)
        assert words in result.stderr, (name, result.stderr)
        assert_not_a_crash(result)
    assert not (tmp_path / "specsync.lock").exists()


def test_a_plan_from_another_specsync_version_is_refused(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    env = env_for("http://127.0.0.1:9")
    document = save_plan(tmp_path, env)
    document["specsyncVersion"] = "0.0.1"
    (tmp_path / "reviewed.plan").write_text(json.dumps(document), "utf-8")
    result = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
    assert result.returncode == 1
    assert "made by specsync 0.0.1" in result.stderr


def test_an_edited_saved_plan_is_refused_with_no_request(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    seen: list[str] = []
    with running_emulator(EmulatorConfig()) as emu, disguised(emu.url, seen) as url:
        env = env_for(url)
        document = save_plan(tmp_path, env)
        # The digests still match the manifests, but a request was changed in the file.
        document["items"][0]["request"]["text"] = "Something nobody reviewed."
        (tmp_path / "reviewed.plan").write_text(json.dumps(document), "utf-8")
        refused = specsync(["apply", "--rate", "100", "--plan", "reviewed.plan"], tmp_path, env)
        assert refused.returncode == 1
        assert (
            "no longer matches" in refused.stderr and document["items"][0]["id"] in refused.stderr
        )
        assert seen == [] and emu.export_count() == 0
        assert not (tmp_path / "specsync.lock").exists()
