"""Lockfile reading: every refusal located at `path:line:col`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from specsync.model import FINGERPRINT_SCHEME, InputError, Location, Problem
from specsync.state import lockfile_read
from specsync.state.lockfile_data import empty
from specsync.state.lockfile_fields import well_formed_entry
from specsync.state.lockfile_quick import read_canonical
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import submitted_entry, uncertain_entry, with_entries, without
from specsync.state.lockfile_write import dumps
from tests.helpers import tomllib

FP1 = "1" * 64
T0 = "2026-11-25T12:00:00Z"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_lockfile(path)
    return [str(p) for p in caught.value.problems]


def write_text(tmp_path: Path, text: str, name: str = "specsync.lock") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# reading: every refusal located ----------------------------------------------------------


def test_a_missing_file_is_an_empty_lockfile(tmp_path: Path) -> None:
    assert read_lockfile(tmp_path / "nope.lock") == empty()


@pytest.mark.parametrize(
    ("text", "what"),
    [("", "is empty (0 bytes)"), (" \n\n", "only blank lines"), ("\ufeff\r\n", "only blank")],
)
def test_a_blank_lockfile_is_refused_not_read_as_none(tmp_path: Path, text: str, what: str) -> None:
    # A failed copy or a bad checkout leaves an empty file: read as "no lockfile", apply
    # would export (and bill) every item again.
    path = write_text(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:1:1: ")
    assert what in problem
    assert f"git checkout -- {path}" in problem and f"rm {path}" in problem
    # The merge driver's %O is the one place where git itself gives an empty file.
    assert read_lockfile(path, blank_is_empty=True) == empty()
    # Comments only is not empty: it is what a lockfile cut after its first lines looks like
    # (see test_a_comments_only_file_is_not_an_empty_lockfile).


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
    ours = dumps(with_entries(empty(), [submitted_entry(None, "a/en", FP1, "P-ours", "T", T0)]))
    theirs = dumps(with_entries(empty(), [submitted_entry(None, "a/en", FP1, "P-theirs", "T", T0)]))
    head, block_ours = ours.split("\n\n", 1)
    _, block_theirs = theirs.split("\n\n", 1)
    text = f"{head}\n\n<<<<<<< HEAD\n{block_ours}=======\n{block_theirs}>>>>>>> branch\n"
    path = write_text(tmp_path, text)
    [problem] = problems_of(path)
    line = text.splitlines().index("<<<<<<< HEAD") + 1
    assert problem.startswith(f"{path}:{line}:1: unresolved git merge conflict: ")
    # It says how to resolve, not only what is wrong (the hostile-conditions issue, case 7).
    assert "keeping both sides' entries" in problem
    assert "`specsync plan`" in problem and "merge driver" in problem


def test_newer_version_says_upgrade(tmp_path: Path) -> None:
    path = write_text(tmp_path, 'version = 3\nfingerprint = "sha256-json-v9"\n')
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
        f'{path}:9:1: item "b/en": has neither a `projectId` nor a `state`',
        f'{path}:12:1: item "c/en": unknown state "rendering" (expected one of '
        "done, failed, uncertain)",
        f'{path}:16:1: item "d/en": has neither a `projectId` nor a `state`',
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
    assert "lockfile is a folder, not a regular file" in problem


def test_the_quick_entry_check_accepts_only_what_the_full_reader_accepts() -> None:
    # plan reads every entry through well_formed_entry; anything it takes must be exactly
    # what _parse_entry makes of the table without a problem, and it must decline the rest.
    record = {"projectId": "P", "taskId": "T", "submittedAt": "S", "fingerprint": "F"}
    histories = [
        [record],
        [{**record, "state": "failed"}],
        [{"fingerprint": "F", "state": "uncertain", "attemptedAt": "A"}],
        [{"fingerprint": "F", "state": "done"}],  # no ids: not an uncertain attempt
        [{**record, "state": "uncertain"}],  # ids: not an attempt
        [{**record, "odd": 1}],
        [record, 1],
        [],
    ]
    values: list[object] = [None, "", "x", "done", "uncertain", "bogus", True, 1, 1.5, [], {}]
    values += histories
    keys = ["fingerprint", "projectId", "taskId", "state", "isExport", "text", "model", "odd"]
    keys += ["bytes", "sha256", "history"]
    good = {key: "x" for key in keys} | {"state": "done", "isExport": True, "bytes": 1}
    good |= {"sha256": "a" * 64, "history": [record], "odd": None}
    rng = random.Random(3)
    accepted = full_accepted = 0
    for _ in range(30000):
        table = {
            key: good.get(key) if rng.random() < 0.6 else rng.choice(values)
            for key in rng.sample(keys, rng.randint(0, 6))
        }
        table = {key: value for key, value in table.items() if value is not None}
        problems: list[Problem] = []
        full = lockfile_read._parse_entry("v/en", table, Location("l"), problems)
        quick = well_formed_entry("v/en", table)
        full_accepted += full is not None and not problems
        if quick is not None:
            accepted += 1
            assert not problems and quick == full, table
    # Every well-formed table takes the quick path, history or not.
    assert accepted == full_accepted > 30


def test_deep_nesting_is_a_located_input_error(tmp_path: Path) -> None:
    # tomllib recurses per level: 100k levels used to end in RecursionError (exit 3).
    path = write_text(tmp_path, 'version = 1\nfingerprint = "sha256-json-v1"\na = ' + "[" * 100_000)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:")
    assert "nested too deep" in problem


# truncation and empty entries (format version 2) -----------------------------------------


def _sample_text() -> str:
    en = submitted_entry(None, "a/en", FP1, "P-a", "T-a", T0)
    en = submitted_entry(en, "a/en", FP1, "P-a2", "T-a2", T0)
    ko = uncertain_entry(None, "a/ko", FP1, T0)
    lock = with_entries(empty(), [en, ko, submitted_entry(None, "b/en", FP1, "P-b", "T", T0)])
    return dumps(without(lock, ["b/en"]))


def test_a_lockfile_cut_at_any_line_boundary_is_refused_at_its_end(tmp_path: Path) -> None:
    text = _sample_text()
    assert text.endswith("\n\n# end of specsync.lock\n")
    lines = text.split("\n")
    for count in range(3, len(lines) - 2):  # from the first line after the comments
        cut = "\n".join(lines[:count]) + "\n"
        path = write_text(tmp_path, cut)
        problems = problems_of(path)
        assert len(problems) == 1, (count, problems)
        last = len(cut.rstrip("\n").split("\n"))
        if "invalid TOML" in problems[0]:  # cut inside the multi-line `history` array
            assert problems[0].startswith(f"{path}:{last + 1}:"), problems
            continue
        assert problems[0].startswith(f"{path}:{last}:1: the lockfile ends here"), problems
        assert "cut short" in problems[0]


def test_a_damaged_rehearsal_lockfile_is_deleted_not_restored_from_git(tmp_path: Path) -> None:
    # `.specsync/emulator.lock` is git-ignored: `git checkout` cannot bring it back, and
    # deleting it loses nothing real (the emulator's ids are throwaway).
    (tmp_path / ".specsync").mkdir()
    cut = "\n".join(_sample_text().split("\n")[:6]) + "\n"
    for text in (cut, ""):
        path = write_text(tmp_path, text, ".specsync/emulator.lock")
        [problem] = problems_of(path)
        assert f"delete it (`rm {path}`) and rehearse again" in problem, problem
        assert "git checkout" not in problem and "start over on purpose" not in problem
    # A real lockfile cut short is restored, never deleted: the ids before the cut are real.
    [problem] = problems_of(write_text(tmp_path, cut))
    assert "git checkout -- " in problem and "rm " not in problem


def test_the_end_line_may_lack_its_newline(tmp_path: Path) -> None:
    text = _sample_text()
    whole = read_lockfile(write_text(tmp_path, text))
    assert read_lockfile(write_text(tmp_path, text.rstrip("\n"))) == whole
    assert set(whole.entries) == {"a/en", "a/ko"} and set(whole.forgotten) == {"b/en"}


def test_a_version_1_lockfile_without_the_end_line_still_reads(tmp_path: Path) -> None:
    # Written by an older specsync: no end line, and none is asked for.
    text = _sample_text().replace("version = 2", "version = 1")
    text = text.removesuffix("\n# end of specsync.lock\n")
    lock = read_lockfile(write_text(tmp_path, text))
    assert set(lock.entries) == {"a/en", "a/ko"}
    assert read_canonical(text) == tomllib.loads(text)  # still the fast path


def test_a_comments_only_file_is_not_an_empty_lockfile(tmp_path: Path) -> None:
    # Cut after the two comment lines at the top: not "nothing exported yet".
    text = "".join(_sample_text().splitlines(keepends=True)[:2])
    problems = problems_of(write_text(tmp_path, text))
    assert any("missing `version`" in p for p in problems)


def test_an_entry_with_neither_project_id_nor_state_is_refused(tmp_path: Path) -> None:
    text = (
        'version = 2\nfingerprint = "sha256-json-v1"\nemulator = false\n\n'
        f'[items."a/en"]\nfingerprint = "{FP1}"\n\n# end of specsync.lock\n'
    )
    path = write_text(tmp_path, text)
    [problem] = problems_of(path)
    assert problem == f'{path}:5:1: item "a/en": has neither a `projectId` nor a `state`'


# the service host ------------------------------------------------------------------------


def test_the_service_host_round_trips_and_an_older_file_reads_without_it() -> None:
    from specsync.state.lockfile_data import Lockfile

    lock = Lockfile({}, emulator=False, service="app.aistudios.com")
    text = dumps(lock)
    assert 'emulator = false\nservice = "app.aistudios.com"\n' in text
    assert lockfile_read.parse_lockfile(text).service == "app.aistudios.com"
    older = text.replace('service = "app.aistudios.com"\n', "")
    assert lockfile_read.parse_lockfile(older).service == ""
    assert dumps(Lockfile({})) == older  # no key is written while the host is unknown


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("42", "not an integer"),
        ('"https://user:secret@app.aistudios.com/x?key=1"', "not other text"),
        ('"App.AIStudios.com"', "not other text"),
    ],
)
def test_a_service_that_is_no_host_name_is_refused_with_its_line(value: str, why: str) -> None:
    text = dumps(empty()).replace("emulator = false\n", f"emulator = false\nservice = {value}\n")
    line = text.splitlines().index(f"service = {value}") + 1
    with pytest.raises(InputError) as raised:
        lockfile_read.parse_lockfile(text, "specsync.lock")
    (problem,) = raised.value.problems
    assert problem.location.line == line
    assert "`service` must be a host name" in problem.message and why in problem.message
    assert "secret" not in problem.message


# pulled videos: sha256 and bytes ------------------------------------------------------------


def _pulled_text() -> str:
    from specsync.state.lockfile_update import with_download

    en = submitted_entry(None, "a/en", FP1, "P-a", "T-a", T0)
    lock = with_download(with_entries(empty(), [en]), "a/en", "P-a", "b" * 64, 4096)
    return dumps(lock)


def test_sha256_and_bytes_round_trip_on_the_fast_and_the_full_reader(tmp_path: Path) -> None:
    text = _pulled_text()
    assert f'sha256 = "{"b" * 64}"\nbytes = 4096\n' in text
    assert read_canonical(text) == tomllib.loads(text)  # the fast path takes it
    entry = lockfile_read.parse_lockfile(text).entries["a/en"]
    assert (entry.sha256, entry.size) == ("b" * 64, 4096)
    # A comment the fast path does not take sends the file to tomllib: same entry.
    slow = lockfile_read.parse_lockfile(text.replace("bytes = 4096", "bytes = 4_096"))
    assert slow.entries["a/en"] == entry


def test_a_lockfile_without_them_reads_as_before() -> None:
    text = dumps(with_entries(empty(), [submitted_entry(None, "a/en", FP1, "P", "T", T0)]))
    entry = lockfile_read.parse_lockfile(text).entries["a/en"]
    assert entry.sha256 is None and entry.size is None
    assert "sha256 = " not in text and "bytes = " not in text


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('sha256 = "xyz"', "`sha256` must be 64 lower-case hex digits"),
        (f'sha256 = "{"B" * 64}"', "`sha256` must be 64 lower-case hex digits"),
        ("bytes = -1", "`bytes` must be a whole number of bytes (0 or more), not -1"),
        ('bytes = "12"', "`bytes` must be a whole number of bytes (0 or more), not a string"),
        ("bytes = true", "`bytes` must be a whole number of bytes (0 or more), not a boolean"),
    ],
)
def test_a_bad_hash_or_size_is_refused_at_its_entry(line: str, why: str) -> None:
    text = _pulled_text()
    key = line.split(" ")[0]
    lines = [line if row.startswith(f"{key} = ") else row for row in text.split("\n")]
    with pytest.raises(InputError) as error:
        lockfile_read.parse_lockfile("\n".join(lines), "specsync.lock")
    [problem] = error.value.problems
    assert problem.location.line == 7 and why in problem.message  # the header


@pytest.mark.parametrize("marks", [0, 1, 2])
@pytest.mark.parametrize("bad", [b"", b"\xff", b"\xed\xa0\x80"])
def test_plans_reading_of_the_files_bytes_says_what_reading_it_whole_says(
    tmp_path: Path, marks: int, bad: bytes
) -> None:
    # plan skims the bytes of the entries it knows (they are not even decoded): a lockfile
    # behind byte order marks, or with a byte that is not UTF-8 in an entry plan knows,
    # must read (or be refused, at the same place) as when read whole.
    from specsync.state.lockfile_data import Entry, Lockfile

    entries = {
        f"v{i}/en": Entry(f"v{i}/en", "a" * 64, f"P{i}", "T", "2026").with_request(
            {"language": "en", "text": f"line {i}\nnext ünï", "model": "M1", "isExport": True}
        )
        for i in range(4)
    }
    data = "\ufeff".encode() * marks + dumps(Lockfile(entries)).encode()
    data = data.replace("ünï".encode(), "ünï".encode() + bad, 1)
    path = tmp_path / "specsync.lock"
    path.write_bytes(data)
    known = {key: "a" * 64 for key in entries}
    outcomes = []
    for hint in (None, known):
        try:
            outcomes.append(read_lockfile(path, hint))
        except InputError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]
    assert isinstance(outcomes[0], str) == bool(bad), outcomes[0]
    if not bad:  # and read the quick way: the entries plan knows are left unmade
        from specsync.state.lockfile_data import EntriesOnDemand

        assert isinstance(outcomes[1], Lockfile)
        assert isinstance(outcomes[1].entries, EntriesOnDemand)
