"""Writing the translators' CSV (specsync/manifests/strings_export.py: write_export)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specsync.manifests.strings_export import write_export
from specsync.model import InputError


def test_the_csv_replaces_only_what_is_safe_to_replace(tmp_path: Path) -> None:
    write_export(tmp_path / "s.csv", b"item\r\n")
    write_export(tmp_path / "s.csv", b"item,new\r\n")  # an older export is replaced
    assert (tmp_path / "s.csv").read_bytes() == b"item,new\r\n"
    for name in ("specsync.lock", "a.yaml", "outro.j2"):
        (tmp_path / name).write_text("keep", "utf-8")
        with pytest.raises(InputError, match="refusing to replace"):
            write_export(tmp_path / name, b"item\r\n")
        assert (tmp_path / name).read_text("utf-8") == "keep"
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match="not a regular file"):
        write_export(tmp_path / "fifo.csv", b"item\r\n")
    with pytest.raises(InputError, match="cannot write"):
        write_export(tmp_path / "missing" / "s.csv", b"item\r\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.yaml",
        "fifo.csv",
        "outro.j2",
        "s.csv",
        "specsync.lock",
    ]  # no temp file left behind
