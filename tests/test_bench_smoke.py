"""The benchmark scripts run end to end on tiny sizes, so they never rot unnoticed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.helpers import ROOT

BENCH = ROOT / "bench"


def _bench_script(name: str) -> ModuleType:
    """A script of bench/ (a folder of scripts, not a package), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_manifests = _bench_script("gen_manifests")


def _items(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(video, locale, script) of every item, expanded the simple way these files allow."""
    found = []
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for video, spec in document["videos"].items():
            locales = spec.get("locales", document["defaults"]["locales"])
            for locale in locales:
                override = locales[locale] if isinstance(locales, dict) else {}
                found.append((video, locale, override.get("script", spec.get("script"))))
    return found


def test_shared_set_has_the_asked_items_and_few_distinct_scripts(tmp_path: Path) -> None:
    paths = gen_manifests.generate(tmp_path, items=250, shape="shared")

    items = _items(paths)
    assert [p.name for p in paths] == [f"catalogue-000{i}.yaml" for i in range(3)]
    assert len(items) == 250
    assert len({(video, locale) for video, locale, _ in items}) == 250
    assert len({script for _, _, script in items}) == len(gen_manifests.SHARED_SCRIPTS)


def test_distinct_set_gives_every_item_its_own_script(tmp_path: Path) -> None:
    paths = gen_manifests.generate(tmp_path, items=200, shape="distinct")

    items = _items(paths)
    assert len(items) == 200
    assert len({script for _, _, script in items}) == 200
    # Multi-line block scalars: about 210 bytes of YAML per item.
    size = sum(p.stat().st_size for p in paths)
    assert 150 * 200 < size < 280 * 200


@pytest.mark.parametrize("shape", gen_manifests.SHAPES)
def test_scripts_are_shaped_as_real_manifests_write_them(tmp_path: Path, shape: str) -> None:
    paths = gen_manifests.generate(tmp_path, items=100, shape=shape)

    text = paths[0].read_text(encoding="utf-8")
    scripts = [script for _, _, script in _items(paths)]
    assert "script: |" in text and 'script: "' not in text
    assert all(script.count("\n") >= 2 for script in scripts)  # several lines each
    assert any("{% include 'snippets/outro.j2' %}" in script for script in scripts)
    assert (tmp_path / "snippets" / "outro.j2").is_file()
    if shape != "distinct":
        assert any("{%- for step in steps %}" in script for script in scripts)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = gen_manifests.generate(tmp_path / "a", items=100, shape="distinct")
    second = gen_manifests.generate(tmp_path / "b", items=100, shape="distinct")
    assert first[0].read_bytes() == second[0].read_bytes()


def test_measure_reports_exit_code_and_the_childs_peak_memory() -> None:
    child = "import sys; block = bytearray(60 * 1024 * 1024); sys.exit(4)"
    completed = subprocess.run(
        [sys.executable, str(BENCH / "measure.py"), "--", sys.executable, "-c", child],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert result["rc"] == 4
    assert result["peak_mib"] >= 60
    assert 0 < result["wall"] < 30


@pytest.mark.slow
def test_quick_run_gives_a_figure_or_not_implemented_for_every_row() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)["rows"]
    names = [row["benchmark"] for row in rows]
    assert names[:7] == [
        "validate 200 shared, cold",
        "validate 200 shared, warm",
        "validate 200 distinct, cold",
        "validate 200 distinct, warm",
        "validate 200 distinct-for, cold",
        "validate 200 distinct-for, warm",
        "validate one file (pre-commit)",
    ]
    assert any(name.startswith("apply 20 items") for name in names)
    assert any("only --rate" in name for name in names)
    assert any(name.endswith("lockfile written by apply, one CPU") for name in names)
    assert any(name.startswith("scaling: validate 100") for name in names)
    assert any(name.startswith("scaling: plan marginal time per item") for name in names)
    assert any(name.startswith("scaling: plan peak memory per added item") for name in names)
    # A figure, or a command that is not there yet; never a harness or command failure.
    broken = [row for row in rows if row["specsync"].startswith(("failed", "lockfile:"))]
    assert broken == []
    # check-jsonschema (installed by the test extra) is measured on the same files.
    validate_rows = [row for row in rows if row["benchmark"].startswith("validate")]
    assert all(row["baseline"].endswith(" s") for row in validate_rows)
