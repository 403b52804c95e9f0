"""The distribution users install: its own name on the package index, the `specsync` command.

`specsync` on PyPI is an unrelated project (it also installs a `specsync` command), so
`pip install specsync` must never be what our docs say.
"""

from __future__ import annotations

import shutil
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
    # From a copy without build/ and egg-info: setuptools would reuse a stale build/lib.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".ci-venv", "build", "*.egg-info", "__pycache__", ".*cache"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(tmp_path)],
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
        archive_names = archive.namelist()
    assert headers["Name"] not in ("specsync", None)
    assert headers["Name"] == "specsync-videos"
    assert "specsync = specsync.cli.main:main" in scripts
    # Every module and data file of the source tree ships: a sub-package missing from
    # pyproject's list installs a `specsync` that crashes on import (it happened once).
    shipped = set(archive_names)
    source = {
        str(path.relative_to(ROOT)).replace("\\", "/")
        for path in (ROOT / "specsync").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert sorted(source - shipped) == []
    schemas = {f"specsync/schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}
    assert schemas and sorted(schemas - shipped) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_no_document_installs_the_unrelated_specsync(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for bad in ("pip install specsync\n", "pip install specsync ", "pip install specsync=="):
        assert bad not in text, (path, bad)
