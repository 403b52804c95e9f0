"""Start-up cost: the commands run on every commit import only what they use.

`validate` and `plan` never talk to the network, so they must not import requests (and
what it pulls in); valid manifests are checked without jsonschema, and nothing but apply
takes the apply lock (filelock). Observed with `python -X importtime` on the real CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NETWORK_AND_LOCKING = {"requests", "urllib3", "tenacity", "filelock"}
MANIFEST = (
    "specsync: 1\ndefaults: {model: M1, locales: [en, ko]}\n"
    "videos:\n  a: {script: 'Hi {{ video }}'}\n"
)


def imported(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specsync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    return result.returncode, names


def test_validate_and_plan_import_no_network_or_locking_code(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST, encoding="utf-8")
    for args in (["validate", "m.yaml"], ["plan", "m.yaml"], ["render", "m.yaml"]):
        code, names = imported(args, tmp_path)
        assert code == 0, args
        assert "yaml" in names  # the observation itself works
        assert not names & NETWORK_AND_LOCKING, (args, names & NETWORK_AND_LOCKING)
        assert "jsonschema" not in names, args
        # A script that only prints variables is joined without Jinja.
        assert "jinja2" not in names, args
        # Nor does any command load another command's module (the group is lazy).
        assert "specsync.cli.service_commands" not in names, args
        assert "specsync.cli.status_command" not in names, args


def test_jinja_is_imported_when_a_script_has_a_statement_and_no_rendered_text_is_cached(
    tmp_path: Path,
) -> None:
    templated = MANIFEST.replace("'Hi {{ video }}'", "'{% if true %}Hi{% endif %}'")
    (tmp_path / "m.yaml").write_text(templated, encoding="utf-8")
    code, names = imported(["validate", "--no-cache", "m.yaml"], tmp_path)
    assert code == 0
    assert "jinja2" in names


def test_jsonschema_is_imported_only_to_word_a_refusal(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("script:", "scirpt:"), encoding="utf-8")
    code, names = imported(["validate", "m.yaml"], tmp_path)
    assert code == 1
    assert "jsonschema" in names
    assert not names & NETWORK_AND_LOCKING


def test_a_warm_run_checks_known_language_codes_without_the_registry(tmp_path: Path) -> None:
    # langcodes' registry costs ~40 ms to import: two-letter codes (`en`, `pt-BR`) are
    # answered from a list checked against it; any other code found valid once is
    # remembered (in the authenticated cache); a refusal is always worked out and worded
    # afresh.
    (tmp_path / "m.yaml").write_text(MANIFEST, encoding="utf-8")
    code, names = imported(["validate", "m.yaml"], tmp_path)
    assert code == 0 and "langcodes" not in names
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("ko]", "haw]"), encoding="utf-8")
    first = imported(["validate", "m.yaml"], tmp_path)
    second = imported(["validate", "m.yaml"], tmp_path)
    assert first[0] == second[0] == 0
    assert "langcodes" in first[1] and "langcodes" not in second[1]
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("ko]", "jp]"), encoding="utf-8")
    for _ in range(2):
        code, names = imported(["validate", "m.yaml"], tmp_path)
        assert code == 1 and "langcodes" in names
