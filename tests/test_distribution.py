"""The distribution users install: its own name on the package index, the `specsync` command.

`specsync` on PyPI is an unrelated project (it also installs a `specsync` command), so
`pip install specsync` must never be what our docs say.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.helpers import ROOT

DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "docs" / "ci.md",
    ROOT / "examples" / ".github" / "workflows" / "specsync.yml",
]


@pytest.mark.slow
def test_the_built_wheel_is_not_named_specsync(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        [entry_points] = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        headers = Parser().parsestr(archive.read(metadata).decode("utf-8"))
        scripts = archive.read(entry_points).decode("utf-8")
    assert headers["Name"] not in ("specsync", None)
    assert headers["Name"] == "specsync-videos"
    assert "specsync = specsync.cli.main:main" in scripts


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_no_document_installs_the_unrelated_specsync(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for bad in ("pip install specsync\n", "pip install specsync ", "pip install specsync=="):
        assert bad not in text, (path, bad)
