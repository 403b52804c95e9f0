"""Lockfile: format, determinism, atomic writes, located errors and the three-way merge."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from specsync.model import FINGERPRINT_SCHEME, InputError, Location, Problem
from specsync.state import lockfile as lf
from specsync.state.lockfile import (
    Entry,
    Lockfile,
    Submission,
    dumps,
    empty,
    merge,
    merge_text_files,
    read_lockfile,
    with_state,
    with_submission,
    with_uncertain,
    without,
    write_lockfile,
)

FP1 = "1" * 64
FP2 = "2" * 64
FP3 = "3" * 64
T0 = "2026-11-25T12:00:00Z"
T1 = "2026-11-25T12:05:00Z"
T2 = "2026-11-25T12:10:00Z"


def sample() -> Lockfile:
    lock = empty()
    lock = with_submission(lock, "onboarding/en", FP1, "P-en-1", "T-en-1", T0)
    lock = with_submission(lock, "onboarding/en", FP2, "P-en-2", "T-en-2", T1)
    lock = with_state(lock, "onboarding/en", "done")
    lock = with_uncertain(lock, "onboarding/ko", FP3, T2)
    lock = with_submission(lock, "welcome/de", FP1, "P-de", "T-de", T0)
    return with_state(lock, "welcome/de", "failed")


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_lockfile(path)
    return [str(p) for p in caught.value.problems]


def write_text(tmp_path: Path, text: str, name: str = "specsync.lock") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# format ----------------------------------------------------------------------------------


def test_dumps_matches_the_documented_layout() -> None:
    lock = empty()
    lock = with_submission(lock, "onboarding/en", FP1, "p1", "t1", T0)
    lock = with_submission(lock, "onboarding/en", FP2, "p2", "t2", T1)
    lock = with_state(lock, "onboarding/en", "done")
    lock = with_uncertain(lock, "onboarding/ko", FP3, T2)
    assert dumps(lock) == (
        "# specsync.lock: what specsync has exported. Written by specsync; commit it, "
        "do not edit it.\n"
        "# Docs: docs/lockfile.md\n"
        "version = 1\n"
        'fingerprint = "sha256-json-v1"\n'
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
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    lock = sample()
    assert write_lockfile(path, lock) is True
    assert read_lockfile(path) == lock
    assert lf.tomllib.loads(path.read_text(encoding="utf-8"))["version"] == 1


def test_emulator_flag_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, with_submission(empty(emulator=True), "a/en", FP1, "p", "t", T0))
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
    lock = with_submission(empty(), item_id, FP1, f"p {item_id}", "t", T0)
    write_lockfile(path, lock)
    raw = path.read_bytes()
    assert raw.decode("utf-8").count("\n") == len(dumps(lock).split("\n")) - 1  # no raw newline
    assert b"\x00" not in raw and b"\x7f" not in raw
    if not item_id.isascii():
        assert item_id.split("/")[0].encode("utf-8") in raw  # kept as UTF-8, not escaped
    assert read_lockfile(path) == lock
    assert list(lf.tomllib.loads(raw.decode("utf-8"))["items"]) == [item_id]


def test_items_sorted_by_code_point_and_file_ends_with_one_newline() -> None:
    lock = empty()
    for item_id in ["b/en", "a/ko", "B/en", "a/en", "é/en", "a-b/en"]:
        lock = with_submission(lock, item_id, FP1, "p", "t", T0)
    text = dumps(lock)
    ids = list(lf.tomllib.loads(text)["items"])
    assert ids == sorted(ids) == ["B/en", "a-b/en", "a/en", "a/ko", "b/en", "é/en"]
    assert text.endswith('"\n') and not text.endswith("\n\n")
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
    lock = with_submission(lock, "onboarding/ko", FP1, "P-ko", "T-ko", T2)
    lock = with_submission(lock, "a-new/en", FP1, "P-new", "T-new", T2)
    write_lockfile(path, lock)
    after = blocks(path.read_text(encoding="utf-8"))
    assert set(after) == set(before) | {'[items."a-new/en"]'}
    for header in ('[items."onboarding/en"]', '[items."welcome/de"]'):
        assert after[header] == before[header]
    assert after['[items."onboarding/ko"]'] != before['[items."onboarding/ko"]']


def test_lone_surrogates_are_refused_not_written() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        dumps(with_submission(empty(), "bad\udc80/en", FP1, "p", "t", T0))


def test_documented_example_is_a_valid_lockfile(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "lockfile.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    lock = read_lockfile(write_text(tmp_path, example))
    assert lock.entries["onboarding/ko"].state == "uncertain"
    assert len(lock.entries["onboarding/en"].history) == 1
    assert dumps(lock) == example  # the example is exactly what specsync writes


# updates ---------------------------------------------------------------------------------


def test_history_keeps_every_id_across_updates() -> None:
    lock = empty()
    for n in range(1, 5):
        lock = with_submission(lock, "a/en", str(n) * 64, f"P{n}", f"T{n}", f"t{n}")
    entry = lock.entries["a/en"]
    assert (entry.project_id, entry.task_id) == ("P4", "T4")
    assert [s.project_id for s in entry.history] == ["P1", "P2", "P3"]
    assert entry.history[0] == Submission("P1", "T1", "t1", "1" * 64)


def test_submission_clears_state_but_same_ids_again_keep_it() -> None:
    lock = with_state(with_submission(empty(), "a/en", FP1, "P1", "T1", T0), "a/en", "done")
    again = with_submission(lock, "a/en", FP1, "P1", "T1", T0)
    assert again == lock
    updated = with_submission(lock, "a/en", FP2, "P2", "T2", T1)
    assert updated.entries["a/en"].state is None


def test_uncertain_keeps_ids_and_history_records_their_fingerprint() -> None:
    lock = with_submission(empty(), "a/en", FP1, "P1", "T1", T0)
    lock = with_uncertain(lock, "a/en", FP2, T1)
    entry = lock.entries["a/en"]
    assert (entry.project_id, entry.task_id, entry.state) == ("P1", "T1", "uncertain")
    assert entry.fingerprint == FP2 and entry.attempted_at == T1
    assert entry.history == (Submission("P1", "T1", T0, FP1),)
    assert with_uncertain(lock, "a/en", FP2, T1) == lock  # idempotent
    resolved = with_submission(lock, "a/en", FP2, "P2", "T2", T2).entries["a/en"]
    assert resolved.history == (Submission("P1", "T1", T0, FP1),)
    assert resolved.state is None and resolved.attempted_at is None


def test_with_state_and_without() -> None:
    lock = sample()
    with pytest.raises(ValueError, match="unknown state"):
        with_state(lock, "welcome/de", "rendering")
    assert with_state(lock, "welcome/de", "failed") is lock
    assert set(without(lock, ["welcome/de", "missing/en"]).entries) == {
        "onboarding/en",
        "onboarding/ko",
    }
    with pytest.raises(TypeError):
        lock.entries["x"] = lock.entries["welcome/de"]  # type: ignore[index]


# atomic writes ---------------------------------------------------------------------------


def test_write_leaves_no_temp_files_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    write_lockfile(path, sample())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_lockfile(path, with_submission(sample(), "z/en", FP1, "p", "t", T0))
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

    monkeypatch.setattr(lf.os, "replace", broken_replace)
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


# reading: every refusal located ----------------------------------------------------------


def test_missing_and_empty_files_are_empty_lockfiles(tmp_path: Path) -> None:
    assert read_lockfile(tmp_path / "nope.lock") == empty()
    assert read_lockfile(write_text(tmp_path, "")) == empty()
    assert read_lockfile(write_text(tmp_path, "# only a comment\n")) == empty()


def test_invalid_toml_is_located(tmp_path: Path) -> None:
    path = write_text(tmp_path, 'version = 1\nfingerprint = "sha256-json-v1"\nemulator = \n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:")
    assert "invalid TOML" in problem


def test_duplicate_item_is_located(tmp_path: Path) -> None:
    block = f'[items."a/en"]\nfingerprint = "{FP1}"\n'
    path = write_text(tmp_path, f'version = 1\nfingerprint = "sha256-json-v1"\n\n{block}\n{block}')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:7:") and "twice" in problem


def test_unterminated_string_at_end_is_located(tmp_path: Path) -> None:
    path = write_text(tmp_path, 'version = 1\nfingerprint = "sha256')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:2:") and "invalid TOML" in problem


def test_git_conflict_markers(tmp_path: Path) -> None:
    ours = dumps(with_submission(empty(), "a/en", FP1, "P-ours", "T", T0))
    theirs = dumps(with_submission(empty(), "a/en", FP1, "P-theirs", "T", T0))
    head, block_ours = ours.split("\n\n", 1)
    _, block_theirs = theirs.split("\n\n", 1)
    text = f"{head}\n\n<<<<<<< HEAD\n{block_ours}=======\n{block_theirs}>>>>>>> branch\n"
    path = write_text(tmp_path, text)
    [problem] = problems_of(path)
    line = text.splitlines().index("<<<<<<< HEAD") + 1
    assert problem == (
        f"{path}:{line}:1: unresolved git merge conflict; "
        "run `specsync merge-driver` or resolve by hand"
    )


def test_newer_version_says_upgrade(tmp_path: Path) -> None:
    path = write_text(tmp_path, 'version = 2\nfingerprint = "sha256-json-v9"\n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:1:1: ")
    assert "written by a newer specsync: upgrade" in problem


def test_unknown_fingerprint_scheme(tmp_path: Path) -> None:
    path = write_text(tmp_path, '# c\nversion = 1\nfingerprint = "blake3-v2"\n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:1: unknown fingerprint scheme")
    assert "blake3-v2" in problem


def test_non_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "specsync.lock"
    path.write_bytes(b'version = 1\nfingerprint = "sha256-json-v1"\n# caf\xe9\n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:6: lockfile is not UTF-8")


def test_wrong_types_are_all_reported_at_their_headers(tmp_path: Path) -> None:
    text = (
        "version = 1\n"  # 1
        'fingerprint = "sha256-json-v1"\n'  # 2
        'emulator = "no"\n'  # 3
        "\n"  # 4
        '[items."a/en"]\n'  # 5
        'projectId = "p"\n'  # 6
        'taskId = "t"\n'  # 7
        "\n"  # 8
        "[items.'b/en']\n"  # 9
        "fingerprint = 7\n"  # 10
        "\n"  # 11
        '[items."c/en"]\n'  # 12
        'fingerprint = "x"\n'  # 13
        'state = "rendering"\n'  # 14
        "\n"  # 15
        '[ items . "d/en" ]  # spaced\n'  # 16
        'fingerprint = "x"\n'  # 17
        'history = [{ projectId = "p" }, 3]\n'  # 18
        "\n"  # 19
        '[items."e/en"]\n'  # 20
        'fingerprint = "x"\n'  # 21
        'projectId = "p"\n'  # 22
        "colour = 1\n"  # 23
    )
    path = write_text(tmp_path, text)
    problems = problems_of(path)
    assert problems == [
        f"{path}:3:1: `emulator` must be true or false, not a string",
        f'{path}:5:1: item "a/en": missing `fingerprint`',
        f'{path}:9:1: item "b/en": `fingerprint` must be a non-empty string, not an integer',
        f'{path}:12:1: item "c/en": unknown state "rendering" (expected one of '
        "done, failed, uncertain)",
        f'{path}:16:1: item "d/en": history entry 1: missing `taskId`',
        f'{path}:16:1: item "d/en": history entry 2 must be a table, not an integer',
        f'{path}:20:1: item "e/en": `projectId` and `taskId` go together',
        f'{path}:20:1: item "e/en": unknown key `colour`',
    ]


def test_missing_version_and_unknown_top_level_key(tmp_path: Path) -> None:
    path = write_text(tmp_path, 'fingerprint = "sha256-json-v1"\nextra = 1\n')
    assert problems_of(path) == [
        f"{path}: missing `version`",
        f"{path}:2:1: unknown key `extra`",
    ]


def test_version_of_wrong_type(tmp_path: Path) -> None:
    path = write_text(tmp_path, f'version = "1"\nfingerprint = "{FINGERPRINT_SCHEME}"\n')
    assert problems_of(path) == [f"{path}:1:1: `version` must be an integer, not a string"]


def test_directory_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "specsync.lock").mkdir()
    [problem] = problems_of(tmp_path / "specsync.lock")
    assert "cannot read lockfile" in problem


# merge -----------------------------------------------------------------------------------


def entry(item_id: str, project: str, fp: str = FP1, **kw: object) -> Entry:
    return Entry(item_id, fp, project, f"T-{project}", T0, **kw)  # type: ignore[arg-type]


def lock_of(*entries: Entry, emulator: bool = False) -> Lockfile:
    return Lockfile({e.id: e for e in entries}, emulator=emulator)


def test_merge_takes_a_clean_union_of_new_items() -> None:
    base = lock_of(entry("a/en", "P-a"))
    ours = lock_of(entry("a/en", "P-a"), entry("b/en", "P-b"))
    theirs = lock_of(entry("a/en", "P-a"), entry("c/en", "P-c"))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == []
    assert set(merged.entries) == {"a/en", "b/en", "c/en"}


def test_merge_one_side_changes_and_deletions() -> None:
    base = lock_of(entry("a/en", "P1"), entry("gone/en", "P-g"), entry("kept/en", "P-k"))
    ours = lock_of(entry("a/en", "P1"), entry("kept/en", "P-k2"))  # forgot gone, kept changed
    theirs = lock_of(entry("a/en", "P2"), entry("gone/en", "P-g"))  # updated a, forgot kept
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == []
    assert merged.entries["a/en"].project_id == "P2"
    assert "gone/en" not in merged.entries
    assert merged.entries["kept/en"].project_id == "P-k2"  # a change beats a deletion


def test_merge_same_project_joins_history_and_later_state_wins() -> None:
    old = Submission("P0", "T0", "2026-01-01T00:00:00Z", FP2)
    base = lock_of(entry("a/en", "P1", history=(old,)))
    ours = lock_of(entry("a/en", "P1", state="done", history=(old,)))
    theirs = lock_of(entry("a/en", "P1", history=(old, Submission("Px", "Tx", T1, FP3))))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == []
    result = merged.entries["a/en"]
    assert result.state == "done"
    assert [s.project_id for s in result.history] == ["P0", "Px"]


def test_merge_different_projects_is_a_conflict_that_keeps_both_ids(tmp_path: Path) -> None:
    base = lock_of()
    ours = lock_of(entry("a/en", "P-ours"))
    theirs = lock_of(entry("a/en", "P-theirs", FP2), emulator=True)
    merged, conflicts = merge(base, ours, theirs)
    [message] = conflicts
    assert '"a/en"' in message and "P-ours" in message and "P-theirs" in message
    result = merged.entries["a/en"]
    assert result.project_id == "P-ours"
    assert [s.project_id for s in result.history] == ["P-theirs"]
    assert result.history[0].fingerprint == FP2
    assert merged.emulator is True


def test_merge_uncertain_beats_done_for_the_same_project() -> None:
    base = lock_of(entry("a/en", "P1"))
    ours = lock_of(entry("a/en", "P1", state="done"))
    theirs = lock_of(entry("a/en", "P1", FP2, state="uncertain", attempted_at=T1))
    merged, conflicts = merge(base, ours, theirs)
    assert conflicts == []
    assert merged.entries["a/en"] == theirs.entries["a/en"]
    both_gone, _ = merge(base, lock_of(), lock_of())
    assert both_gone.entries == {}


def test_merge_text_files_writes_ours_and_marks_conflicts(tmp_path: Path) -> None:
    base, ours, theirs = tmp_path / "O", tmp_path / "A", tmp_path / "B"
    base.write_bytes(b"")
    write_lockfile(ours, lock_of(entry("a/en", "P-ours"), entry("b/en", "P-b")))
    write_lockfile(theirs, lock_of(entry("a/en", "P-theirs"), entry("c/en", "P-c")))
    conflicts = merge_text_files(base, ours, theirs)
    assert len(conflicts) == 1
    text = ours.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines.index('[items."a/en"]')
    assert lines[header - 1].startswith("# CONFLICT: ") and "P-theirs" in lines[header - 1]
    merged = read_lockfile(ours)  # comments are legal TOML
    assert set(merged.entries) == {"a/en", "b/en", "c/en"}
    assert "P-theirs" in text and "P-ours" in text


def test_merge_text_files_clean_with_missing_base(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "A", tmp_path / "B"
    write_lockfile(ours, lock_of(entry("b/en", "P-b")))
    write_lockfile(theirs, lock_of(entry("c/en", "P-c")))
    assert merge_text_files(tmp_path / "missing", ours, theirs) == []
    assert "CONFLICT" not in ours.read_text(encoding="utf-8")
    assert set(read_lockfile(ours).entries) == {"b/en", "c/en"}


def test_the_quick_entry_check_accepts_only_what_the_full_reader_accepts() -> None:
    # plan reads every entry through _well_formed_entry; anything it takes must be exactly
    # what _parse_entry makes of the table without a problem, and it must decline the rest.
    values: list[object] = [None, "", "x", "done", "uncertain", "bogus", True, 1, 1.5, [], {}]
    keys = ["fingerprint", "projectId", "taskId", "state", "isExport", "text", "model", "odd"]
    rng = random.Random(3)
    accepted = full_accepted = 0
    for _ in range(4000):
        table = {key: rng.choice(values) for key in rng.sample(keys, rng.randint(0, 6))}
        table = {key: value for key, value in table.items() if value is not None}
        problems: list[Problem] = []
        full = lf._parse_entry("v/en", table, Location("l"), problems)
        quick = lf._well_formed_entry("v/en", table)
        full_accepted += full is not None and not problems
        if quick is not None:
            accepted += 1
            assert not problems and quick == full, table
    # Without history every well-formed table takes the quick path.
    assert accepted == full_accepted > 30
