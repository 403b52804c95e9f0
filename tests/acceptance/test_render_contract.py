"""Valid manifests using every rule of DESIGN section 2, rendered byte-exactly by the
installed `specsync` command, as a new user would run it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EXAMPLES, specsync

MAIN = """\
# yaml-language-server: $schema=../schemas/manifest.schema.json
specsync: 1
defaults:
  model: M000045058
  locales: [en, ko]
  webhookUrl: https://hooks.example.com/aistudios
vars:
  product: Acme Cloud
  plans: [Starter, Team]
videos:
  welcome:
    script: "Hi {{ name }}, welcome to {{ product }}."
    vars: {name: Ada}
    locales:
      en: {}
      ko:
        script: "{{ name }}님, {{ product }}에 오신 것을 환영합니다."
        vars: {name: 에이다}
        resolution: 4k
  plans:
    script: |
      {{ video }} ({{ locale }}): {{ plans|join(", ") }}.
      {% include "snippets/outro.j2" %}
"""

SECOND = (
    "specsync: 1\r\n"
    "defaults: {model: '0012', isExport: false}\r\n"
    "videos:\r\n"
    "  cafe:\r\n"
    '    script: "Cafe\\u0301 {{ locale }}  \\r\\n  "\r\n'
    "    locales: [fr, pt-BR]\r\n"
    "    workspaceId: ws-1\r\n"
)

OUTRO = "See you soon at {{ product }}!\r\n"


def write_project(root: Path) -> None:
    manifests = root / "manifests"
    (manifests / "snippets").mkdir(parents=True)
    (manifests / "nested").mkdir()
    (manifests / "main.yaml").write_text(MAIN, encoding="utf-8")
    (manifests / "nested" / "second.yml").write_bytes(SECOND.encode("utf-8"))
    (manifests / "snippets" / "outro.j2").write_bytes(OUTRO.encode("utf-8"))
    (manifests / "ci.yaml").write_text("on: push\njobs: {}\n", encoding="utf-8")
    # Other YAML beside the manifests is named in the project file (else it is an error).
    (root / "specsync.yaml").write_text("specsync: 1\nignore: [ci.yaml]\n", encoding="utf-8")


EXPECTED = [
    {
        "id": "cafe/fr",
        "request": {
            "language": "fr",
            "text": "Café fr",
            "model": "0012",
            "isExport": False,
            "workspaceId": "ws-1",
        },
        "source": "manifests/nested/second.yml:6",
    },
    {
        "id": "cafe/pt-BR",
        "request": {
            "language": "pt-BR",
            "text": "Café pt-BR",
            "model": "0012",
            "isExport": False,
            "workspaceId": "ws-1",
        },
        "source": "manifests/nested/second.yml:6",
    },
    {
        "id": "plans/en",
        "request": {
            "language": "en",
            "text": "plans (en): Starter, Team.\nSee you soon at Acme Cloud!",
            "model": "M000045058",
            "isExport": True,
            "webhookUrl": "https://hooks.example.com/aistudios",
        },
        "source": "manifests/main.yaml:20",
    },
    {
        "id": "plans/ko",
        "request": {
            "language": "ko",
            "text": "plans (ko): Starter, Team.\nSee you soon at Acme Cloud!",
            "model": "M000045058",
            "isExport": True,
            "webhookUrl": "https://hooks.example.com/aistudios",
        },
        "source": "manifests/main.yaml:20",
    },
    {
        "id": "welcome/en",
        "request": {
            "language": "en",
            "text": "Hi Ada, welcome to Acme Cloud.",
            "model": "M000045058",
            "isExport": True,
            "webhookUrl": "https://hooks.example.com/aistudios",
        },
        "source": "manifests/main.yaml:15",
    },
    {
        "id": "welcome/ko",
        "request": {
            "language": "ko",
            "text": "에이다님, Acme Cloud에 오신 것을 환영합니다.",
            "model": "M000045058",
            "isExport": True,
            "webhookUrl": "https://hooks.example.com/aistudios",
            "resolution": "4k",
        },
        "source": "manifests/main.yaml:16",
    },
]


def test_every_rule_renders_byte_exactly(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = specsync(["render", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED
    # Key order of each request is the export page's (docs/vendor.md), then the optional fields.
    for element, expected in zip(json.loads(result.stdout), EXPECTED, strict=True):
        assert list(element["request"]) == list(expected["request"])
        assert list(element) == ["id", "request", "source"]


def test_validate_and_target_and_text_output(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = specsync(["validate"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "6 items" in result.stderr
    picked = specsync(["render", "--format", "json", "--target", "welcome/*"], tmp_path)
    assert [e["id"] for e in json.loads(picked.stdout)] == ["welcome/en", "welcome/ko"]


def test_explicit_non_manifest_file_is_an_error(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = specsync(["validate", "manifests/ci.yaml"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("manifests/ci.yaml:1:1: ")


def test_schema_command_prints_draft_2020_12(tmp_path: Path) -> None:
    result = specsync(["schema"], tmp_path)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_examples_project_validates() -> None:
    result = specsync(["render", "--format", "json"], EXAMPLES)
    assert result.returncode == 0, result.stderr
    ids = [e["id"] for e in json.loads(result.stdout)]
    assert ids == sorted(ids) and any(i.endswith("/ko") for i in ids)
