"""Issue 27's guardrails, through the installed CLI: nothing skipped in silence, nothing paid
for by mistake, every stop says the next step."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from specsync.emulator import RunningEmulator
from tests.helpers import SPECSYNC, env_for, run, specsync

GOOD = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  welcome: {script: Hi}\n"


def project(tmp_path: Path, manifest: str = GOOD) -> Path:
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "manifests" / "a.yaml").write_text(manifest, encoding="utf-8")
    return tmp_path


# nothing is skipped in silence --------------------------------------------------------


def test_a_manifest_without_its_marker_an_empty_file_and_an_empty_folder_fail(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    (tmp_path / "manifests" / "promo.yaml").write_text("videos:\n  promo: {script: Hi}\n")
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "manifests/promo.yaml:1:1: not a manifest (no `specsync: 1` line)" in result.stderr
    assert "add `specsync: 1` at its top" in result.stderr
    assert "list it under `ignore:` in specsync.yaml" in result.stderr

    (tmp_path / "manifests" / "promo.yaml").write_text("")
    result = specsync(["validate", "--format", "json"], tmp_path)
    assert result.returncode == 1
    problem = json.loads(result.stdout)["problems"][0]
    assert (problem["file"], problem["code"]) == ("manifests/promo.yaml", "not-a-manifest")
    assert "an empty file" in problem["message"]

    # Excluded by name in the project file: the run is valid again.
    (tmp_path / "specsync.yaml").write_text('specsync: 1\nignore: ["manifests/promo.yaml"]\n')
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid: 1 item from 1 video" in result.stderr

    (tmp_path / "empty").mkdir()
    result = specsync(["validate", "empty"], tmp_path)
    assert result.returncode == 1
    assert "empty: folder holds no manifest" in result.stderr
    assert "`specsync init` writes an example" in result.stderr


# nothing is paid for by mistake -------------------------------------------------------


def test_an_unknown_language_fails_naming_the_likely_one(tmp_path: Path) -> None:
    project(tmp_path, GOOD.replace("[en]", "[en, jp]"))
    for command in (["validate"], ["apply", "--emulator"]):
        result = specsync([*command], tmp_path)
        assert result.returncode == 1, result.stderr
        assert (
            "manifests/a.yaml:2:37: 'jp' is not a language code of the IANA registry "
            "(did you mean 'ja'?)" in result.stderr
        )
    assert not (tmp_path / "specsync.lock").exists()
    project(tmp_path, GOOD.replace("[en]", "{zh_CN: {}}"))
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1
    assert "(did you mean 'zh-CN'?)" in result.stderr


def test_an_untranslated_locale_warns_in_text_and_json(tmp_path: Path) -> None:
    project(tmp_path, GOOD.replace("[en]", "{en: {}, ja: {}}"))
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: 'welcome/ja' renders the same text as 'welcome/en'" in result.stderr
    assert "valid: 2 items from 1 video, 1 warning" in result.stderr
    document = json.loads(specsync(["validate", "--format", "json"], tmp_path).stdout)
    assert document["valid"] is True
    assert document["summary"]["warnings"] == 1
    assert [(w["code"], w["item"]) for w in document["warnings"]] == [
        ("untranslated-locale", "welcome/ja")
    ]
    assert "renders the same text" in specsync(["plan"], tmp_path).stderr

    (tmp_path / "specsync.yaml").write_text("specsync: 1\nchecks: {untranslated-locale: error}\n")
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1
    assert "1 problem in 1 file" in result.stderr
    (tmp_path / "specsync.yaml").write_text(
        "specsync: 1\nchecks: {untranslated-locale: {level: error, off-for: [wel*]}}\n"
    )
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def on_a_terminal(
    args: list[str], cwd: Path, env: dict[str, str], answer: str | None, deadline: float = 60
) -> tuple[int, str]:
    """Run `args` on a pseudo-terminal; type `answer` once the question shows."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    output = b""
    answered = False
    ends = time.monotonic() + deadline
    try:
        while time.monotonic() < ends:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if answer is not None and not answered and b"[y/N]" in output:
                os.write(main, answer.encode() + b"\r")
                answered = True
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=deadline), output.decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)


def test_apply_on_a_terminal_asks_and_sends_only_on_yes(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    two = "{script: Hi, locales: {en: {}, ko: {script: 안녕}}}"
    project(tmp_path, GOOD.replace("{script: Hi}", two))
    env = env_for(emulator.url)

    code, output = on_a_terminal([SPECSYNC, "apply"], tmp_path, env, "n")
    assert "Export 2 items, under a minute of video? [y/N]" in output, output
    assert code == 1, output
    assert "Nothing was sent" in output
    assert not (tmp_path / "specsync.lock").exists()
    assert emulator.export_count() == 0

    # A reviewed plan file is asked about too: the terminal may not be the reviewer.
    assert specsync(["plan", "--out", "reviewed.plan"], tmp_path, env).returncode == 0
    code, output = on_a_terminal([SPECSYNC, "apply", "--plan", "reviewed.plan"], tmp_path, env, "n")
    assert code == 1 and "Export 2 items" in output, output
    assert emulator.export_count() == 0

    code, output = on_a_terminal([SPECSYNC, "apply"], tmp_path, env, "y")
    assert code == 0, output
    assert emulator.export_count() == 2
    assert (tmp_path / "specsync.lock").exists()

    # Nothing to send: no question. --yes and --emulator never ask.
    code, output = on_a_terminal([SPECSYNC, "apply"], tmp_path, env, None)
    assert code == 0 and "[y/N]" not in output, output
    project(tmp_path, GOOD.replace("{script: Hi}", two.replace("Hi", "Hello")))
    code, output = on_a_terminal([SPECSYNC, "apply", "-y"], tmp_path, env, None)
    assert code == 0 and "[y/N]" not in output, output
    assert emulator.export_count() == 3


def test_end_of_input_at_the_question_is_a_no_not_an_interrupt(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    # Ctrl-D (end of input) answers the question: "no", exit 1. click.confirm read it as
    # Ctrl-C (exit 130, "interrupted"), which CI scripts treat as a cancelled job.
    project(tmp_path)
    code, output = on_a_terminal([SPECSYNC, "apply"], tmp_path, env_for(emulator.url), "\x04")
    assert code == 1, output
    assert "Nothing was sent" in output and "interrupted" not in output
    assert emulator.export_count() == 0
    assert not (tmp_path / "specsync.lock").exists()


def test_apply_without_a_terminal_never_asks(tmp_path: Path, emulator: RunningEmulator) -> None:
    project(tmp_path)
    result = specsync(["apply", "--rate", "100"], tmp_path, env=env_for(emulator.url))
    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stderr
    assert emulator.export_count() == 1


# every stop says the next step --------------------------------------------------------


def without_credentials() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AISTUDIOS_API_KEY", "AISTUDIOS_APP_ID", "AISTUDIOS_USER_KEY"):
        env.pop(name, None)
    return env


def test_no_credentials_names_the_emulator_and_doctor_runs_every_other_check(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    result = specsync(["apply", "--rate", "100"], tmp_path, env=without_credentials())
    assert result.returncode == 1
    assert "no API credentials" in result.stderr
    assert "`specsync apply --emulator`" in result.stderr
    assert "`specsync doctor`" in result.stderr

    doctor = specsync(["doctor"], tmp_path, env=without_credentials())
    assert doctor.returncode == 1
    lines = doctor.stdout.splitlines()
    assert "ok    manifests: 1 item from 1 video" in lines
    assert any(line.startswith("FAIL  credentials: no API credentials") for line in lines)
    assert "ok    lockfile: specsync.lock: none yet (the first apply writes it)" in lines
    assert "warn  model: not checked: needs the service" in lines
    document = json.loads(
        specsync(["doctor", "--format", "json"], tmp_path, env=without_credentials()).stdout
    )
    assert document["ok"] is False
    assert [c["name"] for c in document["checks"]] == [
        "manifests",
        "credentials",
        "lockfile",
        "model",
    ]


def test_doctor_on_the_emulator_names_its_key_and_warns_of_nothing(tmp_path: Path) -> None:
    project(tmp_path)
    result = specsync(["doctor", "--emulator"], tmp_path, env=without_credentials())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Credentials: the built-in emulator's own throwaway key" in result.stdout
    assert "AISTUDIOS_API_KEY" not in result.stdout
    assert "warn" not in result.stdout and "HTTP 404" not in result.stdout
    assert "All is well." in result.stdout


def test_doctor_fails_what_apply_refuses(tmp_path: Path) -> None:
    from tests.helpers.fake_service import fake_service, standalone_emulator

    project(tmp_path)
    with fake_service() as real:
        assert specsync(["apply", "--rate", "100"], tmp_path, env_for(real.url)).returncode == 0
        fine = specsync(["doctor"], tmp_path, env_for(real.url))
    assert "ok    lockfile: specsync.lock: 1 entry (real exports)" in fine.stdout
    # A lockfile recorded against another host: apply refuses it, so doctor fails it.
    with fake_service(host="127.0.0.2") as other:
        doctor = specsync(["doctor"], tmp_path, env_for(other.url))
    assert doctor.returncode == 1, doctor.stdout
    assert "FAIL  lockfile: specsync.lock records exports applied against 127.0.0.1" in (
        doctor.stdout
    )
    assert "All is well" not in doctor.stdout
    # An emulator reached through SPECSYNC_API_BASE, with a lockfile of real exports.
    with standalone_emulator() as url:
        doctor = specsync(["doctor"], tmp_path, env_for(url))
    assert doctor.returncode == 1, doctor.stdout
    assert "warn  API base: answers as a specsync emulator" in doctor.stdout
    assert "FAIL  lockfile: specsync.lock records real exports" in doctor.stdout, doctor.stdout


# strings: a de/fr spreadsheet's sheet, a folder the user cannot write to -----------------


def exported_sheet(tmp_path: Path) -> Path:
    project(tmp_path, GOOD.replace("[en]", "[en, ko]"))
    sheet = tmp_path / "strings.csv"
    done = specsync(["strings", "export", "--locale", "ko", "--out", str(sheet)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 1 row to" in done.stderr
    return sheet


def test_a_semicolon_separated_sheet_imports(tmp_path: Path) -> None:
    sheet = exported_sheet(tmp_path)
    text = sheet.read_text("utf-8-sig")
    # As a spreadsheet in a de/fr locale saves it: `;` between cells, the translation filled.
    sheet.write_text(text.replace(",", ";").replace(";Hi;;", ";Hi;안녕;"), "utf-8-sig")
    done = specsync(["strings", "import", str(sheet), "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ok": True,
        "written": ["welcome/ko"],
        "unchanged": 0,
        "files": ["manifests/a.yaml"],
        "problems": [],
    }
    assert "imported 1 script into 1 manifest" in done.stderr
    assert "안녕" in (tmp_path / "manifests" / "a.yaml").read_text("utf-8")


def test_import_into_a_folder_the_user_cannot_write_exits_1(tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    sheet = exported_sheet(tmp_path)
    sheet.write_text(sheet.read_text("utf-8-sig").replace(",Hi,,", ",Hi,안녕,"), "utf-8-sig")
    manifests = tmp_path / "manifests"
    before = (manifests / "a.yaml").read_bytes()
    manifests.chmod(0o555)
    try:
        # Root without CAP_DAC_OVERRIDE meets the folder's mode as any user would.
        done = run(
            [
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search",
                "--inh-caps=-dac_override,-dac_read_search",
                SPECSYNC,
                "strings",
                "import",
                str(sheet),
            ],
            tmp_path,
        )
    finally:
        manifests.chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr
    assert "its folder is not writable" in done.stderr
    assert (manifests / "a.yaml").read_bytes() == before


def test_status_prints_each_row_once_and_no_url_of_a_gone_emulator(tmp_path: Path) -> None:
    project(tmp_path)
    assert specsync(["apply", "--rate", "100", "--emulator"], tmp_path).returncode == 0
    done = specsync(["status", "--emulator"], tmp_path)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert output.count("welcome/en") == 1, output
    assert "/downloads/" not in output
    assert "1 item: " in done.stderr
    document = json.loads(specsync(["status", "--emulator", "--format", "json"], tmp_path).stdout)
    assert [item["downloadUrl"] for item in document["items"]] == [None]


def test_adopt_and_forget_report_json(tmp_path: Path) -> None:
    project(tmp_path)
    adopted = specsync(
        ["adopt", "welcome/en", "--project-id", "p-1", "--no-check", "--format", "json"],
        tmp_path,
        env=without_credentials(),
    )
    assert adopted.returncode == 0, adopted.stderr
    assert json.loads(adopted.stdout) == {
        "id": "welcome/en",
        "projectId": "p-1",
        "taskId": "unknown",
        "checked": False,
        "written": True,
        "replacedProjectId": None,
        "recovered": 0,
        # What the service said (None: not checked).
        "serviceState": None,
        "done": None,
        "creditCharged": None,
    }
    dry = specsync(["forget", "welcome/*", "--dry-run", "--format", "json"], tmp_path)
    assert json.loads(dry.stdout) == {
        "lockfile": "specsync.lock",
        "dryRun": True,
        "forgotten": ["welcome/en"],
        "recovered": 0,
    }
    assert "1 entry would be dropped" in dry.stderr
    done = specsync(["forget", "welcome/*", "--format", "json"], tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["dryRun"] is False
    assert "1 entry dropped" in done.stderr


def test_doctor_fails_a_journal_apply_would_refuse(tmp_path: Path) -> None:
    from tests.helpers.fake_service import fake_service

    project(tmp_path)
    journal = tmp_path / ".specsync" / "specsync.lock.journal"
    journal.parent.mkdir()
    # What a killed apply against 127.0.0.1 leaves: its first record names the service.
    journal.write_text('{"event":"service","emulator":false,"host":"127.0.0.1:9"}\n')
    with fake_service(host="127.0.0.2") as other:
        applied = specsync(["apply", "--rate", "100"], tmp_path, env_for(other.url))
        doctor = specsync(["doctor"], tmp_path, env_for(other.url))
        assert other.posts() == []
    assert applied.returncode == 1 and "journal of an interrupted apply" in applied.stderr
    assert doctor.returncode == 1
    assert "FAIL  lockfile: " in doctor.stdout
    assert "is the journal of an interrupted apply against 127.0.0.1:9" in doctor.stdout
