"""Locale codes ignore case (BCP 47): one export per locale, sent in canonical case, and a
lockfile written before canonicalisation re-exports nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from specsync.model import build_request, fingerprint
from specsync.state.lockfile_data import Entry, Lockfile
from specsync.state.lockfile_write import write_lockfile
from tests.helpers import ROOT, run, specsync


def manifest(tmp_path: Path, locales: str, script: str = "Hello") -> None:
    folder = tmp_path / "manifests"
    folder.mkdir(exist_ok=True)
    (folder / "m.yaml").write_text(
        f"specsync: 1\ndefaults: {{model: M1}}\nvideos:\n  welcome:\n    script: {script}\n"
        f"    locales: {locales}\n",
        encoding="utf-8",
    )


def test_same_locale_in_two_cases_is_listed_twice(tmp_path: Path) -> None:
    for locales in ("[en, ko, EN]", "{en: {}, ko: {}, EN: {script: Hi}}"):
        manifest(tmp_path, locales)
        for command in (["validate"], ["apply", "--emulator", "--lockfile", "specsync.lock"]):
            result = specsync([*command], tmp_path)
            assert result.returncode == 1, result.stderr
            assert "manifests/m.yaml:6:" in result.stderr
            assert "locale 'EN' is listed twice for video 'welcome' (as 'en')" in result.stderr
        assert not (tmp_path / "specsync.lock").exists()  # nothing sent, nothing recorded


def test_requests_and_ids_carry_the_canonical_case(tmp_path: Path) -> None:
    manifest(tmp_path, "[EN, PT-br, zh-hant-tw, es-419]", script="'{{ locale }}'")
    result = specsync(["render", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    rendered = {r["id"]: r["request"] for r in json.loads(result.stdout)}
    assert sorted(rendered) == [
        "welcome/en",
        "welcome/es-419",
        "welcome/pt-BR",
        "welcome/zh-Hant-TW",
    ]
    assert rendered["welcome/pt-BR"]["language"] == "pt-BR"
    assert rendered["welcome/zh-Hant-TW"]["language"] == "zh-Hant-TW"
    # Templates see the code as written: upgrading changes no rendered text.
    assert rendered["welcome/pt-BR"]["text"] == "PT-br"


def legacy_lockfile(tmp_path: Path, written: dict[str, str]) -> bytes:
    """A lockfile as specsync wrote it before canonicalising: id and language as written.

    `written` maps each locale as written to its script's text.
    """
    entries = {}
    for locale, text in written.items():
        request = build_request(locale, text, {"model": "M1"})
        item_id = f"welcome/{locale}"
        entry = Entry(
            id=item_id,
            fingerprint=fingerprint(request),
            project_id=f"p-{locale}",
            task_id=f"t-{locale}",
            submitted_at="2026-11-01T00:00:00Z",
        )
        entries[item_id] = entry.with_request(request)
    write_lockfile(tmp_path / "specsync.lock", Lockfile(entries, emulator=True))
    return (tmp_path / "specsync.lock").read_bytes()


def plan(tmp_path: Path) -> dict[str, str]:
    result = specsync(["plan", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    return {item["id"]: item["action"] for item in json.loads(result.stdout)["items"]}


def test_lockfile_with_old_case_is_not_re_exported(tmp_path: Path) -> None:
    before = legacy_lockfile(tmp_path, {"pt-br": "Hello", "EN": "Hello", "ko": "Hello"})
    stamped = b""
    for locales in ("[pt-br, EN, ko]", "[pt-BR, en, ko]"):  # as before, then canonical
        manifest(tmp_path, locales)
        assert plan(tmp_path) == {
            "welcome/en": "unchanged",
            "welcome/ko": "unchanged",
            "welcome/pt-BR": "unchanged",
        }
        result = specsync(
            ["apply", "--rate", "100", "--emulator", "--lockfile", "specsync.lock"], tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "0 submitted" in result.stderr + result.stdout
        # The first apply after the upgrade records each old entry's resolution once
        # (docs/lockfile.md); every id stays, and nothing changes after that.
        after = (tmp_path / "specsync.lock").read_bytes()
        assert set(re.findall(rb'projectId = "([^"]*)"', before)) <= set(
            re.findall(rb'projectId = "([^"]*)"', after)
        )
        if locales == "[pt-BR, en, ko]":
            assert after == stamped
        stamped = before = after


def test_changed_script_under_old_case_updates_and_keeps_the_old_ids(tmp_path: Path) -> None:
    legacy_lockfile(tmp_path, {"pt-br": "Hello"})
    manifest(tmp_path, "[pt-br]", script="Olá")
    assert plan(tmp_path) == {"welcome/pt-BR": "update"}
    shown = specsync(["plan"], tmp_path)
    reason = shown.stdout + shown.stderr
    assert "text changed" in reason and "language" not in reason  # case is no change
    result = specsync(
        ["apply", "--rate", "100", "--emulator", "--lockfile", "specsync.lock"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    lock = (tmp_path / "specsync.lock").read_text(encoding="utf-8")
    assert '[items."welcome/pt-BR"]' in lock
    assert 'language = "pt-BR"' in lock
    assert 'projectId = "p-pt-br"' in lock  # the first export's ids are never dropped
    # The old entry, ids and all, stays in the file until `specsync forget` moves it.
    assert plan(tmp_path) == {"welcome/pt-BR": "unchanged", "welcome/pt-br": "orphaned"}


# The last commit before locale codes were canonicalised: its specsync writes the lockfile.
BEFORE_CANONICAL = "fd75c7834373c5d75c018fc913c3dd226aaab39d"


def test_lockfile_written_by_the_previous_specsync_is_not_re_exported(tmp_path: Path) -> None:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", f"{BEFORE_CANONICAL}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not commit:
        pytest.skip("the previous specsync's commit is not in this clone")
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "specsync", "schemas"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    project = tmp_path / "project"
    project.mkdir()
    manifest(project, "[pt-br, EN, zh-hant-tw, ko]")
    previous = run(
        [
            sys.executable,
            "-c",
            "from specsync.cli.main import main; main()",
            "apply",
            "--emulator",
            "--rate",  # the previous specsync's own pace would add ~0.5 s
            "100",
            "--lockfile",
            "specsync.lock",
        ],
        project,
        env={**os.environ, "PYTHONPATH": str(old)},
    )
    assert previous.returncode == 0, previous.stderr
    before = (project / "specsync.lock").read_bytes()
    assert b'[items."welcome/pt-br"]' in before  # as the previous specsync named it
    assert plan(project) == {
        "welcome/en": "unchanged",
        "welcome/ko": "unchanged",
        "welcome/pt-BR": "unchanged",
        "welcome/zh-Hant-TW": "unchanged",
    }
    result = specsync(
        ["apply", "--rate", "100", "--emulator", "--lockfile", "specsync.lock"], project
    )
    assert result.returncode == 0, result.stderr
    assert "0 submitted" in result.stdout + result.stderr
    # Rewritten once to record the resolution (docs/lockfile.md), every id kept; then stable.
    after = (project / "specsync.lock").read_bytes()
    assert set(re.findall(rb'projectId = "([^"]*)"', before)) <= set(
        re.findall(rb'projectId = "([^"]*)"', after)
    )
    again = specsync(
        ["apply", "--rate", "100", "--emulator", "--lockfile", "specsync.lock"], project
    )
    assert again.returncode == 0 and "0 submitted" in again.stdout + again.stderr
    assert (project / "specsync.lock").read_bytes() == after
