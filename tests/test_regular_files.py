"""specsync.regular_files: a path that must be a regular file is opened without blocking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specsync.regular_files import NotRegular, files_stamp, open_regular, read_regular


def test_a_fifo_opened_for_writing_with_no_reader_is_named_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "journal.jsonl"
    os.mkfifo(fifo)

    with pytest.raises(NotRegular, match=r"not a regular file \(a FIFO\)"):
        open_regular(fifo, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def test_a_fifo_opened_for_reading_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "script.j2"
    os.mkfifo(fifo)

    with pytest.raises(NotRegular, match="a FIFO"):
        read_regular(fifo)


def test_a_symlink_is_refused_when_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to("real")

    with pytest.raises(NotRegular, match="a symbolic link"):
        open_regular(tmp_path / "link", follow=False)
    os.close(open_regular(tmp_path / "link"))  # followed: the regular file behind it


def test_a_regular_file_is_read_and_created(tmp_path: Path) -> None:
    fd = open_regular(tmp_path / "new", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"ids")
    os.close(fd)

    assert read_regular(tmp_path / "new") == b"ids"


def test_a_files_stamp_changes_when_a_file_does_and_names_a_missing_one(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("x = 1\n", encoding="utf-8")
    before = files_stamp(module, tmp_path / "gone.py")
    assert before.startswith("module.py:6:") and before.endswith("|gone.py:?")
    module.write_text("x = 12\n", encoding="utf-8")
    assert files_stamp(module, tmp_path / "gone.py") != before
