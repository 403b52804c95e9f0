"""Issue 25, "adopt checks what it records", through the installed CLI: the ids go only into
a lockfile of the kind and host they came from, a failed export is refused (see also
test_first_real_export.py), and a credential is never recorded nor shown, --no-check too.
"""

from __future__ import annotations

from pathlib import Path

import requests

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import assert_not_a_crash, env_for, specsync

MANIFEST = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  welcome: {script: hi}\n"

REAL_LOCKFILE = (
    'version = 1\nfingerprint = "sha256-json-v2"\nemulator = false\n'
    'service = "api.example.com"\n\n'
    '[items."other/en"]\nfingerprint = "abc"\nprojectId = "p-real"\ntaskId = "t-real"\n'
)


def project(tmp_path: Path, lockfile: str | None = None) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "v.yaml").write_text(MANIFEST, "utf-8")
    if lockfile is not None:
        (tmp_path / "specsync.lock").write_text(lockfile, "utf-8")
    return tmp_path


def test_an_emulator_id_is_not_recorded_in_a_real_lockfile_of_another_host(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, REAL_LOCKFILE)
    before = (root / "specsync.lock").read_bytes()
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        env = env_for(emu.url)
        made = requests.post(
            emu.url + "/api/odin/v3/simple/custom",
            json={"language": "en", "text": "hi", "model": "M1"},
            headers={"Authorization": "k"},
            timeout=5,
        ).json()["data"]["projectId"]
        checked = specsync(["adopt", "welcome/en", "--project-id", made], root, env)
        unchecked = specsync(["adopt", "welcome/en", "--project-id", made, "--no-check"], root, env)
    for refused in (checked, unchecked):
        assert refused.returncode == 1
        assert "api.example.com" in refused.stderr
        assert_not_a_crash(refused)
    assert (root / "specsync.lock").read_bytes() == before


def test_an_emulator_answer_is_not_recorded_in_a_real_lockfile(tmp_path: Path) -> None:
    # A real lockfile without a host (written before hosts were recorded): the emulator's
    # own mark on the answer says its ids are not real exports.
    root = project(tmp_path, REAL_LOCKFILE.replace('service = "api.example.com"\n', ""))
    before = (root / "specsync.lock").read_bytes()
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        made = requests.post(
            emu.url + "/api/odin/v3/simple/custom",
            json={"language": "en", "text": "hi", "model": "M1"},
            headers={"Authorization": "k"},
            timeout=5,
        ).json()["data"]["projectId"]
        refused = specsync(["adopt", "welcome/en", "--project-id", made], root, env_for(emu.url))
    assert refused.returncode == 1, refused.stdout
    assert "real exports" in refused.stderr
    assert (root / "specsync.lock").read_bytes() == before


def test_the_api_key_as_a_project_id_is_refused_unshown_even_with_no_check(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    env = env_for("http://127.0.0.1:9")
    env["AISTUDIOS_API_KEY"] = "sk-live-0123456789abcdef"
    for extra in (["--no-check"], []):
        refused = specsync(
            ["adopt", "welcome/en", "--project-id", "sk-live-0123456789abcdef", *extra],
            root,
            env,
        )
        assert refused.returncode == 1
        assert "credentials" in refused.stderr
        assert "sk-live-0123456789abcdef" not in refused.stdout + refused.stderr
    assert not (root / "specsync.lock").exists()


def test_adopt_can_be_rehearsed_on_the_emulator(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert specsync(["apply", "--rate", "100", "--emulator"], root).returncode == 0
    rehearsal = root / ".specsync" / "emulator.lock"
    made = rehearsal.read_text("utf-8").split('projectId = "')[1].split('"')[0]
    adopted = specsync(["adopt", "welcome/en", "--project-id", made, "--emulator"], root)
    assert adopted.returncode == 0, adopted.stderr
    assert "credit charged" in adopted.stdout
    assert not (root / "specsync.lock").exists()
