"""Lockfile writing: the format, determinism and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from specsync import atomic
from specsync.state.lockfile_data import Lockfile, empty
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import (
    submitted_entry,
    uncertain_entry,
    with_entries,
    with_state,
)
from specsync.state.lockfile_write import dumps, write_lockfile
from tests.helpers import tomllib
from tests.helpers.lockfile_samples import FP1, FP2, FP3, T0, T1, T2, sample


def write_text(tmp_path: Path, text: str, name: str = "specsync.lock") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# format ----------------------------------------------------------------------------------


def test_dumps_matches_the_documented_layout() -> None:
    en = submitted_entry(None, "onboarding/en", FP1, "p1", "t1", T0)
    en = submitted_entry(en, "onboarding/en", FP2, "p2", "t2", T1)
    ko = uncertain_entry(None, "onboarding/ko", FP3, T2)
    lock = with_state(with_entries(empty(), [en, ko]), "onboarding/en", "done")
    assert dumps(lock) == (
        "# specsync.lock: what specsync has exported. Written by specsync; commit it, "
        "do not edit it.\n"
        "# Docs: docs/lockfile.md\n"
        "version = 2\n"
        'fingerprint = "sha256-json-v2"\n'
        "emulator = false\n"
        "\n"
        '[items."onboarding/en"]\n'
        f'fingerprint = "{FP2}"\n'
        'projectId = "p2"\n'
        'taskId = "t2"\n'
        f'submittedAt = "{T1}"\n'
        'state = "done"\n'
        "history = [\n"
        f'  {{ projectId = "p1", taskId = "t1", submittedAt = "{T0}", fingerprint = "{FP1}" }},\n'
        "]\n"
        "\n"
        '[items."onboarding/ko"]\n'
        f'fingerprint = "{FP3}"\n'
        'state = "uncertain"\n'
        f'attemptedAt = "{T2}"\n'
        "\n"
        "# end of specsync.lock\n"
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    lock = sample()
    assert write_lockfile(path, lock) is True
    assert read_lockfile(path) == lock
    assert tomllib.loads(path.read_text(encoding="utf-8"))["version"] == 2


def test_emulator_flag_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    entry = submitted_entry(None, "a/en", FP1, "p", "t", T0)
    write_lockfile(path, with_entries(empty(emulator=True), [entry]))
    assert "emulator = true\n" in path.read_text(encoding="utf-8")
    assert read_lockfile(path).emulator is True


@pytest.mark.parametrize(
    "item_id",
    [
        'quote"d/en',
        "back\\slash/en",
        "new\nline/en",
        "tab\tand\x00nul\x1f\x7f/en",
        "비디오/ko",
        "emoji 🎬/ja",
        "\u2028sep/en",
    ],
)
def test_strange_ids_are_escaped_and_round_trip(tmp_path: Path, item_id: str) -> None:
    path = tmp_path / "specsync.lock"
    lock = with_entries(empty(), [submitted_entry(None, item_id, FP1, f"p {item_id}", "t", T0)])
    write_lockfile(path, lock)
    raw = path.read_bytes()
    assert raw.decode("utf-8").count("\n") == len(dumps(lock).split("\n")) - 1  # no raw newline
    assert b"\x00" not in raw and b"\x7f" not in raw
    if not item_id.isascii():
        assert item_id.split("/")[0].encode("utf-8") in raw  # kept as UTF-8, not escaped
    assert read_lockfile(path) == lock
    assert list(tomllib.loads(raw.decode("utf-8"))["items"]) == [item_id]


def test_items_sorted_by_code_point_and_file_ends_with_one_newline() -> None:
    entries = [
        submitted_entry(None, item_id, FP1, "p", "t", T0)
        for item_id in ["b/en", "a/ko", "B/en", "a/en", "é/en", "a-b/en"]
    ]
    text = dumps(with_entries(empty(), entries))
    ids = list(tomllib.loads(text)["items"])
    assert ids == sorted(ids) == ["B/en", "a-b/en", "a/en", "a/ko", "b/en", "é/en"]
    assert text.endswith('"\n\n# end of specsync.lock\n')
    assert "\n\n\n" not in text


def test_dumps_is_deterministic_whatever_the_insertion_order(tmp_path: Path) -> None:
    one = sample()
    two = Lockfile(dict(reversed(list(one.entries.items()))))
    assert dumps(one) == dumps(two)
    first, second = tmp_path / "1.lock", tmp_path / "2.lock"
    write_lockfile(first, one)
    write_lockfile(second, read_lockfile(first))
    assert first.read_bytes() == second.read_bytes()


def blocks(text: str) -> dict[str, str]:
    """Each item's block of text, by the header line that starts it."""
    found: dict[str, str] = {}
    for block in text.split("\n\n")[1:]:
        header = block.splitlines()[0]
        found[header] = block
    return found


def test_untouched_entries_stay_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, sample())
    before = blocks(path.read_text(encoding="utf-8"))
    lock = read_lockfile(path)
    ko = submitted_entry(lock.entries["onboarding/ko"], "onboarding/ko", FP1, "P-ko", "T-ko", T2)
    new = submitted_entry(None, "a-new/en", FP1, "P-new", "T-new", T2)
    lock = with_entries(lock, [ko, new])
    write_lockfile(path, lock)
    after = blocks(path.read_text(encoding="utf-8"))
    assert set(after) == set(before) | {'[items."a-new/en"]'}
    for header in ('[items."onboarding/en"]', '[items."welcome/de"]'):
        assert after[header] == before[header]
    assert after['[items."onboarding/ko"]'] != before['[items."onboarding/ko"]']


def test_lone_surrogates_are_refused_not_written() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        dumps(with_entries(empty(), [submitted_entry(None, "bad\udc80/en", FP1, "p", "t", T0)]))


def test_documented_example_is_a_valid_lockfile(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "lockfile.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    lock = read_lockfile(write_text(tmp_path, example))
    assert lock.entries["onboarding/ko"].state == "uncertain"
    assert len(lock.entries["onboarding/en"].history) == 1
    assert dumps(lock) == example  # the example is exactly what specsync writes


# atomic writes ---------------------------------------------------------------------------


def test_write_leaves_no_temp_files_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, sample())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_lockfile(path, with_entries(sample(), [submitted_entry(None, "z/en", FP1, "p", "t", T0)]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specsync.lock"]


def test_identical_write_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    assert write_lockfile(path, sample()) is True
    old = 1_000_000_000
    os.utime(path, (old, old))
    inode = path.stat().st_ino
    assert write_lockfile(path, read_lockfile(path)) is False
    assert path.stat().st_mtime == old and path.stat().st_ino == inode


def test_failed_write_removes_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, sample())
    before = path.read_bytes()

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_lockfile(path, empty())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specsync.lock"]


def test_write_through_a_symlink_replaces_the_target(tmp_path: Path) -> None:
    real = tmp_path / "real.lock"
    link = tmp_path / "specsync.lock"
    write_lockfile(real, empty())
    link.symlink_to(real)
    write_lockfile(link, sample())
    assert link.is_symlink() and read_lockfile(real) == sample()
