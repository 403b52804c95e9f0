from pathlib import Path

import pytest

from specsync.manifests.discovery import find_manifests, manifest_root
from specsync.model import InputError


def make(tmp_path: Path) -> None:
    (tmp_path / "manifests" / "sub").mkdir(parents=True)
    (tmp_path / "manifests" / "a.yaml").write_text("specsync: 1\nvideos: {}\n")
    (tmp_path / "manifests" / "sub" / "b.yml").write_text("specsync: 1\nvideos: {}\n")
    (tmp_path / "manifests" / "ci.yaml").write_text("on: push\njobs: !Ref [\n")  # unparseable
    (tmp_path / "manifests" / ".hidden").mkdir()
    (tmp_path / "manifests" / ".hidden" / "c.yaml").write_text("specsync: 1\n")


def test_default_folder_is_searched_recursively_skipping_other_yaml(tmp_path: Path) -> None:
    make(tmp_path)
    found = [display for _, display in find_manifests([], tmp_path)]
    assert found == ["manifests/a.yaml", "manifests/sub/b.yml"]


def test_same_file_twice_is_loaded_once(tmp_path: Path) -> None:
    make(tmp_path)
    found = find_manifests(["manifests", "manifests/a.yaml"], tmp_path)
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
    assert manifest_root([], "other", tmp_path) == (tmp_path / "other").resolve()
    assert manifest_root(["other"], None, tmp_path) == (tmp_path / "other").resolve()
    assert (
        manifest_root(["other", "manifests"], None, tmp_path) == (tmp_path / "manifests").resolve()
    )
    assert manifest_root([], None, tmp_path / "other") == (tmp_path / "other").resolve()
