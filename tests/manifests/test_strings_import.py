"""Import writes only what it can place, keeps the file's comments, and refuses stale rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from specsync.manifests.strings_catalogue import read_catalogue
from specsync.manifests.strings_export import export_csv
from specsync.manifests.strings_import import import_csv
from specsync.model import InputError

MANIFEST = """\
# the catalogue
specsync: 1
defaults: {model: M1, locales: [en, KO]}   # shared
videos:
  hello:
    script: "=Hello {{ video }}"   # a formula-looking script
  bye:
    script: |
      Bye.
      See you.
    locales:
      en: {}
      KO:
        script: "안녕"  # reviewed
"""


def setup(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    path = tmp_path / "manifests" / "m.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def fill(tmp_path: Path, new: dict[str, str], current: dict[str, str] | None = None) -> Path:
    text = export_csv(read_catalogue(["manifests"], tmp_path))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        row["new"] = new.get(row["item"], "")
        if current and row["item"] in current:
            row["current"] = current[row["item"]]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "s.csv"
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return path


def test_export_guards_formulas_and_lists_template_sources(tmp_path: Path) -> None:
    setup(tmp_path)
    text = export_csv(read_catalogue(["manifests"], tmp_path), locales=["ko"])
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["item"], r["current"]) for r in rows] == [
        ("bye/ko", "안녕"),
        ("hello/ko", "'=Hello {{ video }}"),
    ]
    assert rows[0]["source"] == "Bye.\nSee you.\n"


def test_import_writes_overrides_and_keeps_comments(tmp_path: Path) -> None:
    path = setup(tmp_path)
    csv_path = fill(tmp_path, {"hello/ko": "=안녕하세요 {{ video }}", "bye/ko": "잘 가요\n또 봐요"})
    report = import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    assert report.problems == []
    assert sorted(report.written) == ["bye/ko", "hello/ko"]
    text = path.read_text(encoding="utf-8")
    for comment in ("# the catalogue", "# shared", "# a formula-looking script", "# reviewed"):
        assert comment in text
    entries = {e.id: e for e in read_catalogue(["manifests"], tmp_path)}
    assert entries["hello/ko"].current == "=안녕하세요 {{ video }}"  # the guard is removed
    assert entries["bye/ko"].current == "잘 가요\n또 봐요"
    assert entries["hello/en"].current == "=Hello {{ video }}"  # the other locale untouched
    assert entries["hello/ko"].own_script and not entries["hello/en"].own_script


def test_stale_and_unknown_rows_are_reported_and_the_rest_written(tmp_path: Path) -> None:
    path = setup(tmp_path)
    csv_path = fill(tmp_path, {"bye/en": "So long", "bye/ko": "x"}, current={"bye/ko": "old"})
    with csv_path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("ghost/en,en,,,Boo,\r\n")
    report = import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    assert report.written == ["bye/en"]
    messages = [str(p) for p in sorted(report.problems)]
    # Rows are named by the CSV line they start on (a multi-line cell spans several).
    assert messages[0].startswith("s.csv:7:1: bye/ko: the script changed since the export")
    assert messages[1] == "s.csv:12:1: no item 'ghost/en' in the manifests"
    assert "So long" in path.read_text(encoding="utf-8")


def test_an_override_shared_through_an_anchor_is_refused_and_the_rest_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "manifests").mkdir()
    path = tmp_path / "manifests" / "m.yaml"
    original = (
        "specsync: 1\r\n"
        "defaults:\r\n    model: M1\r\n    locales:\r\n      - en\r\n      - ko\r\n"
        "videos:\r\n"
        "    shared:\r\n        script: Hi\r\n"
        "        locales:\r\n            en: &same\r\n                vars: {x: 1}\r\n"
        "            ko: *same\r\n"
        "    plain:\r\n        script: Hi   # keep\r\n"
    )
    path.write_bytes(original.encode("utf-8"))
    csv_path = fill(tmp_path, {"shared/ko": "안녕", "plain/ko": "안녕"})
    report = import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    assert report.written == ["plain/ko"]
    assert [p.code for p in report.problems] == ["strings-not-written"]
    assert "YAML anchor" in report.problems[0].message
    text = path.read_bytes().decode("utf-8")
    # Only the new override differs; 4-space indentation, CRLF and the comment are kept.
    assert text == original + (
        "        locales:\r\n            en: {}\r\n            ko:\r\n"
        '                script: "안녕"\r\n'
    )


def test_a_csv_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    import pytest

    from specsync.model import InputError

    setup(tmp_path)
    os.mkfifo(tmp_path / "fifo.csv")
    catalogue = read_catalogue(["manifests"], tmp_path)
    for path, words in ((tmp_path / "fifo.csv", "a FIFO"), (Path("/dev/zero"), "device")):
        with pytest.raises(InputError, match=words):
            import_csv(path, str(path), catalogue)


# issue 25/27: separators, lost characters, cut-off cells, the where column ---------------


def resave(csv_path: Path, delimiter: str) -> None:
    """The sheet as a spreadsheet in a de/fr locale saves it (`;`), or as tab-separated."""
    text = csv_path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    csv_path.write_bytes(out.getvalue().encode("utf-8-sig"))


def test_a_sheet_saved_with_semicolons_or_tabs_imports(tmp_path: Path) -> None:
    for number, delimiter in enumerate((";", "\t")):
        here = tmp_path / str(number)
        here.mkdir()
        path = setup(here)
        csv_path = fill(here, {"bye/en": "So long; see you"})
        resave(csv_path, delimiter)
        report = import_csv(csv_path, "s.csv", read_catalogue(["manifests"], here))
        assert report.problems == [] and report.written == ["bye/en"], delimiter
        assert "So long; see you" in path.read_text(encoding="utf-8")


def test_characters_lost_to_a_legacy_encoding_are_named_as_such(tmp_path: Path) -> None:
    setup(tmp_path)
    csv_path = fill(tmp_path, {"bye/ko": "Bye"}, current={"bye/ko": "??"})
    report = import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    assert report.written == []
    [problem] = report.problems
    assert problem.code == "csv-encoding"
    assert "characters were lost by the spreadsheet" in problem.message
    assert "save it as CSV UTF-8" in problem.message
    assert "changed since the export" not in problem.message
    # Bytes of a legacy code page (Windows-1252 `é`): not UTF-8, located.
    csv_path.write_bytes(b"item,current,new\r\nbye/en,caf\xe9,x\r\n")
    try:
        import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    except InputError as error:
        assert str(error.problems[0]).startswith("s.csv:2:11: the file is not UTF-8 (byte 0xe9)")
        assert "legacy encoding" in str(error)
    else:
        raise AssertionError("a CP1252 sheet was read")


def test_a_csv_cut_off_inside_a_quoted_cell_is_refused_with_its_line(tmp_path: Path) -> None:
    path = setup(tmp_path)
    before = path.read_bytes()
    csv_path = fill(tmp_path, {"bye/en": "First line\nSecond line"})
    data = csv_path.read_bytes()
    cut = data[: data.index(b"Second li") + len(b"Second li")]
    csv_path.write_bytes(cut)
    try:
        import_csv(csv_path, "s.csv", read_catalogue(["manifests"], tmp_path))
    except InputError as error:
        [problem] = error.problems
        assert problem.location.line == 2  # the row the unclosed cell belongs to
        assert "never closed" in problem.message and "cut off" in problem.message
    else:
        raise AssertionError("a cut-off CSV was imported")
    assert path.read_bytes() == before


def test_the_where_column_is_guarded_too(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "=HYPERLINK(x)+B1.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  a: {script: Hi}\n"
    )
    # Run from inside the folder, the file name starts the `where` cell.
    text = export_csv(read_catalogue(["=HYPERLINK(x)+B1.yaml"], folder))
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["where"] == "'=HYPERLINK(x)+B1.yaml:4"
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
