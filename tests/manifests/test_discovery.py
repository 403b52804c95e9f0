import os
import time
from pathlib import Path

import pytest

from specsync.manifests.discovery import IgnoredFn, manifest_root, search_manifests
from specsync.model import InputError


def find_manifests(
    paths: list[str], cwd: Path, ignored: IgnoredFn = lambda path: False
) -> list[tuple[Path, str]]:
    """The manifests search_manifests finds, its problems raised as a run reports them."""
    found, problems = search_manifests(paths, cwd, ignored)
    if problems:
        raise InputError(problems)
    return found


def ignoring_ci(path: Path) -> bool:
    return path.name == "ci.yaml"  # as the project file's `ignore: [ci.yaml]` would


def make(tmp_path: Path) -> None:
    (tmp_path / "manifests" / "sub").mkdir(parents=True)
    (tmp_path / "manifests" / "a.yaml").write_text("specsync: 1\nvideos: {}\n")
    (tmp_path / "manifests" / "sub" / "b.yml").write_text("specsync: 1\nvideos: {}\n")
    (tmp_path / "manifests" / "ci.yaml").write_text("on: push\njobs: !Ref [\n")  # unparseable
    (tmp_path / "manifests" / ".hidden").mkdir()
    (tmp_path / "manifests" / ".hidden" / "c.yaml").write_text("specsync: 1\n")
    (tmp_path / "manifests" / ".pre-commit-config.yaml").write_text("repos: []\n")  # hidden


def test_default_folder_is_searched_recursively_skipping_ignored_yaml(tmp_path: Path) -> None:
    make(tmp_path)
    found = [display for _, display in find_manifests([], tmp_path, ignoring_ci)]
    assert found == ["manifests/a.yaml", "manifests/sub/b.yml"]


def test_yaml_without_marker_is_an_error_unless_ignored(tmp_path: Path) -> None:
    make(tmp_path)
    (tmp_path / "manifests" / "empty.yml").write_text("# nothing yet\n\n")
    (tmp_path / "manifests" / "list.yaml").write_text("- specsync: 1\n")
    with pytest.raises(InputError) as info:
        find_manifests([], tmp_path)
    shown = [str(p) for p in info.value.problems]
    assert [p.code for p in info.value.problems] == ["not-a-manifest"] * 3
    assert shown[0].startswith("manifests/ci.yaml:1:1: not a manifest (no `specsync: 1` line)")
    assert shown[1].startswith("manifests/empty.yml:1:1: not a manifest (an empty file)")
    assert shown[2].startswith("manifests/list.yaml:1:1: not a manifest (no `specsync: 1`")
    assert all("list it under `ignore:` in specsync.yaml" in line for line in shown)


def test_a_folder_without_manifests_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "manifests" / "sub").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ci.yaml").write_text("on: push\n")
    for paths, where in (([], "manifests"), (["other"], "other")):
        with pytest.raises(InputError) as info:
            find_manifests(paths, tmp_path, ignoring_ci)
        assert [(str(p.location), p.code) for p in info.value.problems] == [(where, "no-manifests")]
        assert "holds no manifest" in info.value.problems[0].message


def test_same_file_twice_is_loaded_once(tmp_path: Path) -> None:
    make(tmp_path)
    found = find_manifests(["manifests", "manifests/a.yaml"], tmp_path, ignoring_ci)
    assert [d for _, d in found] == ["manifests/a.yaml", "manifests/sub/b.yml"]


def test_missing_default_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no manifests/ folder"):
        find_manifests([], tmp_path)
    with pytest.raises(InputError, match=r"nope\.yaml: no such file or folder"):
        find_manifests(["nope.yaml"], tmp_path)


def test_explicit_file_is_returned_for_the_loader_to_check(tmp_path: Path) -> None:
    make(tmp_path)
    found = find_manifests(["manifests/ci.yaml"], tmp_path)
    assert [d for _, d in found] == ["manifests/ci.yaml"]


def test_root_rules(tmp_path: Path) -> None:
    make(tmp_path)
    (tmp_path / "other").mkdir()
    assert manifest_root([], "other", tmp_path) == ((tmp_path / "other").resolve(), True)
    assert manifest_root(["other"], None, tmp_path) == ((tmp_path / "other").resolve(), True)
    assert manifest_root(["other", "manifests"], None, tmp_path) == (
        (tmp_path / "manifests").resolve(),
        True,
    )
    # The current folder as a last resort: not a chosen root (unused snippets unchecked).
    assert manifest_root([], None, tmp_path / "other") == ((tmp_path / "other").resolve(), False)


# hostile folders: big data files, FIFOs, broken links, unreadable entries -----------------


def test_big_sparse_data_file_is_decided_from_its_start(tmp_path: Path) -> None:
    make(tmp_path)
    with (tmp_path / "manifests" / "data.yaml").open("wb") as handle:
        handle.truncate(1024**3)  # 1 GiB of holes: reading it whole took 13 s and 1 GB
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        find_manifests([], tmp_path, ignoring_ci)
    elapsed = time.perf_counter() - started
    assert [str(p.location) for p in info.value.problems] == ["manifests/data.yaml:1:1"]
    assert elapsed < 2, elapsed


def test_marker_after_bom_quoted_or_past_a_chunk_is_found(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "bom.yaml").write_bytes(b"\xef\xbb\xbfspecsync: 1\nvideos: {}\n")
    (folder / "quoted.yaml").write_text('"specsync": 1\nvideos: {}\n')
    # The marker in the second chunk, and a line that straddles the first chunk's end.
    (folder / "late.yaml").write_text("# " + "x" * 300_000 + "\nvideos: {}\nspecsync: 1\n")
    (folder / "straddle.yaml").write_text("a" * (256 * 1024 - 4) + "specsync: 1\n")
    found = [display for _, display in find_manifests([], tmp_path, lambda p: "str" in p.name)]
    assert found == ["manifests/bom.yaml", "manifests/late.yaml", "manifests/quoted.yaml"]


def test_fifo_and_broken_link_in_a_searched_folder_are_problems(tmp_path: Path) -> None:
    make(tmp_path)
    os.mkfifo(tmp_path / "manifests" / "pipe.yaml")  # opening it to read would block
    (tmp_path / "manifests" / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(InputError) as info:
        find_manifests([], tmp_path, ignoring_ci)
    assert [str(p) for p in info.value.problems] == [
        "manifests/gone.yaml: cannot read: No such file or directory",
        "manifests/pipe.yaml: not a regular file (a FIFO)",
    ]


def test_fifo_device_and_broken_link_named_explicitly(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(InputError) as info:
        find_manifests(["pipe.yaml", "/dev/zero", "gone.yaml"], tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "/dev/zero: not a regular file (a character device)",
        f"gone.yaml: broken symbolic link (to {tmp_path / 'nowhere.yaml'})",
        "pipe.yaml: not a regular file (a FIFO)",
    ]


def test_manifest_saved_as_utf16_is_found_and_other_utf16_yaml_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "wide.yaml").write_bytes("specsync: 1\nvideos: {}\n".encode("utf-16"))
    (folder / "other.yaml").write_bytes("name: x\n".encode("utf-16"))
    found = find_manifests([], tmp_path, lambda p: p.name == "other.yaml")
    assert [display for _, display in found] == ["manifests/wide.yaml"]


def test_an_unreadable_file_hides_no_problem_of_the_manifests_beside_it(tmp_path: Path) -> None:
    from specsync.manifests.pipeline import load_items

    folder = tmp_path / "manifests"
    folder.mkdir()
    os.mkfifo(folder / "a-fifo.yaml")  # opening it to read would wait for a writer
    (folder / "b.yaml").write_bytes(
        b"specsync: 1\ndefaults: {model: M, locales: [en]}\nvideos:\n  v:\n    script: \xff\n"
    )
    with pytest.raises(InputError) as info:
        load_items([], cwd=tmp_path, use_cache=False)
    assert [str(p) for p in info.value.problems] == [
        "manifests/a-fifo.yaml: not a regular file (a FIFO)",
        "manifests/b.yaml:5:13: not valid UTF-8 (byte 0xff); save the file as UTF-8",
    ]
