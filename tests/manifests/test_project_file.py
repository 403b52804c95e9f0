"""The project file: found per manifest, read once, its settings below the file's."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.manifests.pipeline import load_items, read_specs
from specsync.manifests.project_file import NO_PROJECT, ProjectFiles
from specsync.model import InputError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_each_manifest_takes_its_own_projects_file_once(tmp_path: Path) -> None:
    write(tmp_path / "a" / "specsync.yaml", "specsync: 1\nvars: {x: A}\n")
    one = write(tmp_path / "a" / "manifests" / "m.yaml", "")
    two = write(tmp_path / "a" / "manifests" / "deep" / "n.yaml", "")
    lone = write(tmp_path / "b" / "manifests" / "m.yaml", "")
    files = ProjectFiles(tmp_path)
    first = files.for_manifest(one)
    assert first is not None and first.vars == {"x": "A"}
    assert first.path == "a/specsync.yaml"
    assert files.for_manifest(two) is first  # read once
    assert files.for_manifest(lone) is NO_PROJECT
    assert files.problems == []


def test_a_broken_project_file_is_located_and_its_manifests_left_out(tmp_path: Path) -> None:
    write(tmp_path / "specsync.yaml", "specsync: 1\nvars: {locale: x}\ndefaults: {model: 5}\n")
    manifest = write(tmp_path / "manifests" / "m.yaml", "")
    files = ProjectFiles(tmp_path)
    assert files.for_manifest(manifest) is None
    assert sorted((str(p.location), p.code) for p in files.problems) == [
        ("specsync.yaml:2:8", "reserved-var"),
        ("specsync.yaml:3:19", "wrong-type"),
    ]


def test_a_project_file_without_the_version_key_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "specsync.yaml", "vars: {x: 1}\n")
    files = ProjectFiles(tmp_path)
    assert files.for_manifest(tmp_path / "manifests" / "m.yaml") is None
    assert "not a specsync project file" in files.problems[0].message


def test_precedence_project_then_file_then_video_then_locale(tmp_path: Path) -> None:
    write(
        tmp_path / "specsync.yaml",
        "specsync: 1\ndefaults: {model: P, locales: [en, ko], isExport: false}\n"
        "vars: {a: project, b: project, c: project, d: project}\n",
    )
    write(
        tmp_path / "manifests" / "m.yaml",
        "specsync: 1\ndefaults: {model: F}\nvars: {b: file, c: file, d: file}\nvideos:\n"
        "  v:\n    script: s\n    vars: {c: video, d: video}\n"
        "    locales: {en: {vars: {d: locale}}, ko: {model: L}}\n"
        "  w:\n    script: s\n",
    )
    read = read_specs(["manifests"], tmp_path)
    assert read.problems == []
    specs = {spec.id: spec for spec in read.specs}
    variables = specs["v/en"].variables
    assert (variables["a"], variables["b"], variables["c"], variables["d"]) == (
        "project",
        "file",
        "video",
        "locale",
    )
    assert specs["v/en"].fields["model"] == "F"
    assert specs["v/ko"].fields["model"] == "L"
    assert specs["v/en"].fields["isExport"] is False
    assert sorted(specs) == ["v/en", "v/ko", "w/en", "w/ko"]  # the project's locales


def test_search_skips_the_project_file_and_naming_it_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "specsync.yaml", "specsync: 1\n")
    write(tmp_path / "m.yaml", "specsync: 1\ndefaults: {model: M, locales: [en]}\nvideos: {}\n")
    assert read_specs(["."], tmp_path).problems == []
    problems = read_specs(["specsync.yaml"], tmp_path).problems
    assert [p.code for p in problems] == ["project-file-named"]


def test_a_broken_project_file_is_not_also_reported_as_a_folder_without_manifests(
    tmp_path: Path,
) -> None:
    write(tmp_path / "specsync.yaml", "specsync: 1\nignore: [5]\n")
    write(
        tmp_path / "manifests" / "m.yaml",
        "specsync: 1\ndefaults: {model: M, locales: [en]}\nvideos:\n  v:\n    script: Hi.\n",
    )
    with pytest.raises(InputError) as info:
        load_items([], cwd=tmp_path, use_cache=False)
    assert [str(p) for p in info.value.problems] == [
        'specsync.yaml:2:10: ignore must be text, got the number 5: quote it, e.g. "5"'
    ]
