"""Reading manifests runs without the cyclic collector (it runs no user code and keeps what
it builds); rendering, where templates may make cycles, runs with it; and a caller that
lives on (a test session, a long `plan`) gets the collector back as it was."""

import gc
from pathlib import Path
from typing import Any

import pytest

from specsync.manifests import pipeline
from specsync.render import items as render_items_module

MANIFEST = """\
specsync: 1
defaults:
  model: M1
  locales: [en, ko]
vars:
  support: help@example.com
videos:
  intro:
    script: |
      Hi {{ name }}.
      {% for step in steps %}{{ loop.index }}. {{ step }} {% endfor %}
      {% include 'outro.j2' %}
    vars:
      name: Ada
      steps: [one, two]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "m.yaml").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "outro.j2").write_text("Write to {{ support }}.", encoding="utf-8")
    monkeypatch.setenv("SPECSYNC_SPLIT", "off")
    monkeypatch.setenv("SPECSYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPECSYNC_CACHE_KEY_FILE", str(tmp_path / "cache.key"))
    return tmp_path


def test_reading_runs_without_the_collector_and_rendering_with_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, bool] = {}
    read_files = pipeline.read_files
    render = render_items_module.render_items

    def reading(*args: Any, **kwargs: Any) -> Any:
        seen["reading"] = gc.isenabled()
        return read_files(*args, **kwargs)

    def rendering(*args: Any, **kwargs: Any) -> Any:
        seen["rendering"] = gc.isenabled()
        seen["read is frozen"] = gc.get_freeze_count() > 0
        return render(*args, **kwargs)

    monkeypatch.setattr(pipeline, "read_files", reading)
    monkeypatch.setattr(render_items_module, "render_items", rendering)
    assert gc.isenabled()
    items = pipeline.load_items([str(project / "m.yaml")], root=str(project), cwd=project)
    assert [item.request["text"] for item in items] == [
        "Hi Ada.\n1. one 2. two \nWrite to help@example.com.",
    ] * 2
    assert seen == {"reading": False, "rendering": True, "read is frozen": True}


def test_the_collector_is_as_it_was_after_a_run_and_after_a_failed_one(project: Path) -> None:
    assert gc.isenabled() and gc.get_freeze_count() == 0
    pipeline.load_items([str(project / "m.yaml")], root=str(project), cwd=project)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    (project / "m.yaml").write_text(MANIFEST.replace("{{ name }}", "{{ nme }}"), encoding="utf-8")
    with pytest.raises(pipeline.InputError):
        pipeline.load_items([str(project / "m.yaml")], root=str(project), cwd=project)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()  # a caller that turned it off keeps it off
    try:
        with pytest.raises(pipeline.InputError):
            pipeline.load_items([str(project / "m.yaml")], root=str(project), cwd=project)
        assert not gc.isenabled()
    finally:
        gc.enable()
