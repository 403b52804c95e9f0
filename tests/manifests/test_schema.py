import json
import subprocess
import sys
from pathlib import Path

from specsync.manifests.load import parse_document
from specsync.manifests.schema import manifest_schema, schema_text, validate_document
from tests.helpers import ROOT, specsync

HEADER = "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"


def problems(text: str) -> list[str]:
    return [str(p) for p in validate_document(parse_document(text.encode(), "m.yaml"))]


def test_valid_manifest_has_no_problems() -> None:
    text = HEADER + "videos:\n  a:\n    script: hi\n    locales: {en: {}, ko: null}\n"
    assert problems(text) == []


def test_unknown_key_is_reported_at_the_key_with_a_suggestion() -> None:
    assert problems(HEADER + "videos:\n  welcome:\n    scirpt: hi\n") == [
        "m.yaml:5:5: unknown key 'scirpt' in video 'welcome' (did you mean 'script'?)"
    ]


def test_wrong_types_get_yaml_11_hints() -> None:
    assert problems(HEADER + "videos:\n  a: {script: x, model: 45058}\n") == [
        'm.yaml:4:25: model must be text, got the number 45058: quote it, e.g. "45058"'
    ]
    assert problems(HEADER + "videos:\n  a: {script: x, locales: [en, no]}\n") == [
        "m.yaml:4:32: locale must be text, got no, which YAML 1.1 reads as the boolean false: "
        'quote it, e.g. "no"'
    ]


def test_octal_looking_model_names_what_was_written() -> None:
    assert problems(HEADER + "videos:\n  a:\n    script: x\n    model: 0123\n") == [
        "m.yaml:6:12: model must be text, got 0123, which YAML 1.1 reads as the number 83: "
        'quote it, e.g. "0123"'
    ]
    text = "specsync: 1\ndefaults: {model: 0x1F, locales: [en]}\nvideos: {a: {script: x}}\n"
    assert problems(text) == [
        "m.yaml:2:19: model must be text, got 0x1F, which YAML 1.1 reads as the number 31: "
        'quote it, e.g. "0x1F"'
    ]


def test_shapes_of_ids_locales_and_urls() -> None:
    assert problems(HEADER + "videos:\n  'a/b': {script: x}\n")[0].startswith(
        "m.yaml:4:3: 'a/b' is not a video id"
    )
    assert problems(HEADER + "videos:\n  a: {script: x, locales: [english!]}\n") == [
        "m.yaml:4:28: 'english!' is not a locale code like en, ko, zh-CN or pt-BR"
    ]
    assert problems(HEADER + "videos:\n  a: {script: x, webhookUrl: 'ftp://x'}\n") == [
        "m.yaml:4:30: 'ftp://x' is not an absolute http(s) URL like "
        "https://hooks.example.com/aistudios"
    ]
    assert problems(HEADER + "videos:\n  a: {script: x, resolution: 8k}\n") == [
        "m.yaml:4:30: resolution must be one of 4k, 1080, 720, 480, got '8k'"
    ]


def test_locale_override_errors_come_from_the_mapping_branch() -> None:
    assert problems(HEADER + "videos:\n  a: {locales: {en: {scirpt: 1}}}\n") == [
        "m.yaml:4:22: unknown key 'scirpt' in video 'a' (did you mean 'script'?)"
    ]


def test_format_version() -> None:
    assert problems("specsync: 2\nvideos: {}\n") == [
        "m.yaml:1:11: manifest format 2 is newer than this specsync reads (1): upgrade specsync"
    ]
    assert problems("videos: {}\n")[0].startswith("m.yaml:1:1: not a specsync manifest")
    assert problems("specsync: 1\n") == ["m.yaml:1:1: missing required key 'videos'"]


def test_schema_is_draft_2020_12_and_the_cli_prints_it(tmp_path: Path) -> None:
    assert manifest_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    printing = specsync(["schema"], tmp_path)
    assert printing.returncode == 0, printing.stderr
    out = printing.stdout
    assert json.loads(out) == manifest_schema()
    assert out == schema_text() == (ROOT / "schemas" / "manifest.schema.json").read_text()
    printed = tmp_path / "schema.json"
    printed.write_text(out)
    check = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--check-metaschema", str(printed)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_examples_pass_check_jsonschema_too() -> None:
    files = sorted(str(p) for p in (ROOT / "examples" / "manifests").rglob("*.y*ml"))
    files = [f for f in files if "reviewers" not in f]
    check = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--schemafile",
            str(ROOT / "schemas" / "manifest.schema.json"),
            *files,
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_huge_values_are_shortened_in_messages() -> None:
    long_code = "en" + "-aa" * 1000  # the shape of a locale code, 3,002 characters long
    (message,) = problems(HEADER + f"videos:\n  a: {{script: x, locales: [{long_code}]}}\n")
    assert message.startswith("m.yaml:4:28: 'en-aa-aa")
    assert message.endswith("…' is not a locale code like en, ko, zh-CN or pt-BR")
    long_key = long_code[:302]  # a plain YAML key is at most 1,024 characters
    (message,) = problems(HEADER + f"videos:\n  a: {{script: x, locales: {{{long_key}: {{}}}}}}\n")
    assert message.endswith("…' is too long (at most 64 characters)")
    assert len(message) < 200


def test_a_problem_in_one_video_leaves_the_others_usable() -> None:
    from specsync.manifests.load import parse_document
    from specsync.manifests.schema import check_document

    doc = parse_document(
        b"specsync: 1\nvideos:\n  ok: {script: s}\n  bad: {scrpt: s}\n  'no space': {}\n",
        "m.yaml",
    )
    checked = check_document(doc)
    assert checked.bad_videos == {"bad", "no space"} and not checked.whole_file
    assert {p.code for p in checked.problems} == {"unknown-key", "invalid-value"}
    outside = check_document(parse_document(b"specsync: 1\ndefaults: {x: 1}\nvideos: {}\n", "m"))
    assert outside.whole_file
