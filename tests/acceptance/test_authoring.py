"""Authoring at scale (issue 20), through the installed CLI: the project file, the
translators' CSV round trip, every problem at once, snippet locations, validate's JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.helpers import assert_not_a_crash, specsync

ONBOARDING = """\
specsync: 1
defaults:
  locales: [en, ko, ja]
videos:
  welcome:
    script: "Hi {{ name }}, welcome to {{ product }}."
    vars: {name: Ada}
    locales:
      en: {}
      ko:
        # reviewed by Jin
        script: "{{ name }}님, {{ product }}에 오신 것을 환영합니다."  # keep the honorific
      ja:
"""
PROMO = """\
specsync: 1
videos:
  promo:
    script: "{{ product }} is {{ tagline }}."
    locales: [en, ko]
"""


def project(tmp_path: Path, product: str = "Acme Cloud") -> Path:
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "specsync.yaml").write_text(
        f"specsync: 1\ndefaults: {{model: M1}}\nvars:\n  product: {product}\n  tagline: fast\n",
        encoding="utf-8",
    )
    (tmp_path / "manifests" / "onboarding.yaml").write_text(ONBOARDING, encoding="utf-8")
    (tmp_path / "manifests" / "promo.yaml").write_text(PROMO, encoding="utf-8")
    return tmp_path


def rendered(cwd: Path, *args: str) -> dict[str, str]:
    result = specsync(["render", "--format", "json", *args], cwd)
    assert result.returncode == 0, result.stderr
    return {item["id"]: item["request"]["text"] for item in json.loads(result.stdout)}


def test_project_file_vars_and_defaults_reach_every_manifest(tmp_path: Path) -> None:
    project(tmp_path)
    texts = rendered(tmp_path)
    assert texts["promo/ko"] == "Acme Cloud is fast."
    assert texts["welcome/ja"] == "Hi Ada, welcome to Acme Cloud."
    # From a subfolder, and on one file alone (the pre-commit case), the same project file.
    assert rendered(tmp_path / "manifests")["promo/en"] == "Acme Cloud is fast."
    one = specsync(["validate", "manifests/promo.yaml"], tmp_path)
    assert one.returncode == 0, one.stderr
    # The file's vars win over the project's.
    promo = PROMO.replace("videos:", "vars: {tagline: faster}\nvideos:")
    (tmp_path / "manifests" / "promo.yaml").write_text(promo, encoding="utf-8")
    assert rendered(tmp_path)["promo/en"] == "Acme Cloud is faster."


def test_a_project_var_change_shows_in_the_plan_of_the_items_that_use_it(tmp_path: Path) -> None:
    project(tmp_path)
    applied = specsync(["apply", "--rate", "100", "--emulator"], tmp_path)
    assert applied.returncode == 0, applied.stderr
    (tmp_path / "specsync.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1}\nvars:\n  product: Acme Cloud\n  tagline: quick\n",
        encoding="utf-8",
    )
    plan = specsync(["plan", "--emulator", "--format", "json"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    actions = {i["id"]: i["action"] for i in json.loads(plan.stdout)["items"]}
    assert {k for k, v in actions.items() if v == "update"} == {"promo/en", "promo/ko"}


def test_the_project_file_is_never_a_manifest(tmp_path: Path) -> None:
    project(tmp_path)
    searched = specsync(["validate", "."], tmp_path)  # the root folder, searched
    assert searched.returncode == 0, searched.stderr
    named = specsync(["validate", "specsync.yaml", "manifests"], tmp_path)
    assert named.returncode == 1
    assert "specsync.yaml: specsync.yaml is the project file, not a manifest" in named.stderr


def test_a_bad_project_file_is_located_without_a_traceback(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "specsync.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, modle: M2}\nvars: {product: x}\n", encoding="utf-8"
    )
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1
    assert "specsync.yaml:2:23: unknown key 'modle' in defaults (did you mean 'model'?)" in (
        result.stderr
    )
    assert_not_a_crash(result)


def cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_fill_two_cells_import_then_plan_shows_exactly_those_updates(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    assert specsync(["apply", "--rate", "100", "--emulator"], tmp_path).returncode == 0
    exported = specsync(["strings", "export", "--out", "strings.csv"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    raw = (tmp_path / "strings.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so that spreadsheets read it as UTF-8
    rows = cells(raw.decode("utf-8-sig"))
    by_id = {row["item"]: row for row in rows}
    assert by_id["welcome/ko"]["current"].startswith("{{ name }}님")
    assert by_id["welcome/ko"]["source"] == "Hi {{ name }}, welcome to {{ product }}."
    by_id["welcome/ko"]["new"] = "{{ name }}님, {{ product }}에 다시 오신 것을 환영합니다."
    by_id["promo/ko"]["new"] = "{{ product }}는 {{ tagline }}합니다."
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / "strings.csv").write_bytes(out.getvalue().encode("utf-8-sig"))

    imported = specsync(["strings", "import", "strings.csv"], tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 scripts into 2 manifests" in imported.stderr
    onboarding = (tmp_path / "manifests" / "onboarding.yaml").read_text(encoding="utf-8")
    assert "# reviewed by Jin" in onboarding
    assert "# keep the honorific" in onboarding
    assert "다시 오신" in onboarding
    plan = specsync(["plan", "--emulator", "--format", "json"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    updates = sorted(i["id"] for i in document["items"] if i["action"] != "unchanged")
    assert updates == ["promo/ko", "welcome/ko"]
    assert document["summary"]["update"] == 2

    # The same CSV again: already in, nothing to do. A row edited meanwhile is refused.
    again = specsync(["strings", "import", "strings.csv"], tmp_path)
    assert again.returncode == 0, again.stderr
    by_id["promo/en"]["new"] = "changed"
    by_id["promo/en"]["current"] = "not what the manifest says"
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / "strings.csv").write_bytes(out.getvalue().encode("utf-8-sig"))
    stale = specsync(["strings", "import", "strings.csv"], tmp_path)
    assert stale.returncode == 1
    assert "strings.csv:" in stale.stderr
    assert "promo/en: the script changed since the export" in stale.stderr


def write_broken_set(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    (folder / "snippets").mkdir(parents=True)
    (folder / "a.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n"
        "  typo:\n    scrpt: Hi\n"
        '  bad-template:\n    script: "{{ oops( }}"\n',
        encoding="utf-8",
    )
    (folder / "b.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n"
        '  undefined:\n    script: "Hi {{ nme }}"\n    vars: {name: Ada}\n'
        "  outro:\n    script: \"{% include 'snippets/outro.j2' %}\"\n",
        encoding="utf-8",
    )
    (folder / "snippets" / "outro.j2").write_text("Bye.\nSee {{ you( }}\n", encoding="utf-8")


def test_every_problem_at_once_and_snippet_problems_in_the_snippet(tmp_path: Path) -> None:
    write_broken_set(tmp_path)
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("manifests/a.yaml:5:5: unknown key 'scrpt'") for line in lines)
    assert any(line.startswith("manifests/a.yaml:7:13: template syntax error") for line in lines)
    assert any(
        line.startswith("manifests/b.yaml:5:13: undefined: 'nme' is undefined (did you mean")
        for line in lines
    )
    assert any(
        line.startswith("manifests/snippets/outro.j2:2:5: template syntax") for line in lines
    )
    assert "  included from manifests/b.yaml:8:13" in lines
    assert lines[-1] == "4 problems in 3 files"
    assert_not_a_crash(result)


def test_validate_json_carries_every_problem_with_its_code(tmp_path: Path) -> None:
    write_broken_set(tmp_path)
    result = specsync(["validate", "--format", "json"], tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["summary"]["problems"] == 4
    found = {
        (p["file"], p["line"], p["column"], p["code"], p["item"]) for p in document["problems"]
    }
    assert found == {
        ("manifests/a.yaml", 5, 5, "unknown-key", None),
        ("manifests/a.yaml", 7, 13, "template-syntax", "bad-template/en"),
        ("manifests/b.yaml", 5, 13, "undefined-variable", "undefined/en"),
        ("manifests/snippets/outro.j2", 2, 5, "template-syntax", "outro/en"),
    }
    assert all(
        set(p) >= {"file", "line", "column", "code", "message", "item"}
        for p in document["problems"]
    )
    (tmp_path / "manifests" / "a.yaml").unlink()
    (tmp_path / "manifests" / "b.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  ok:\n    script: Hi\n",
        encoding="utf-8",
    )
    (tmp_path / "manifests" / "snippets" / "outro.j2").write_text("Bye.\n", encoding="utf-8")
    valid = specsync(["validate", "--format", "json"], tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout) == {
        "valid": True,
        "summary": {"problems": 0, "warnings": 0, "files": 0, "items": 1, "videos": 1},
        "problems": [],
        "warnings": [],
    }


def test_a_duplicate_key_does_not_stop_the_rest_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n"
        '  one:\n    script: Hi\n    script: Hello\n  two:\n    script: "{{ nope }}"\n',
        encoding="utf-8",
    )
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 1
    assert "manifests/m.yaml:6:5: duplicate key 'script' (first at line 5)" in result.stderr
    assert "manifests/m.yaml:8:13: undefined: 'nope' is undefined" in result.stderr
    assert result.stderr.splitlines()[-1] == "2 problems in 1 file"


def test_the_project_schema_is_printed_and_checks_a_project_file(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    result = specsync(["schema", "--project"], tmp_path)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"specsync": 1, "vars": {"x": [1]}, "defaults": {"model": "M"}})
    assert not validator.is_valid({"specsync": 1, "videos": {}})


def test_unused_snippets_are_checked_in_the_manifest_root_only(tmp_path: Path) -> None:
    # No manifests/ folder and a file named: the root falls back to the current folder,
    # which may be any checkout; its unrelated templates are not this run's business.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "broken.j2").write_text("{% if %}", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  v:\n    script: Hi\n",
        encoding="utf-8",
    )
    assert specsync(["validate", "m.yaml"], tmp_path).returncode == 0
    chosen = specsync(["validate", "--root", "elsewhere", "m.yaml"], tmp_path)
    assert chosen.returncode == 1
    assert "elsewhere/broken.j2:1:1: template syntax error" in chosen.stderr
