import hashlib
import json
import random

from specsync.model import Location, build_request, canonical_locale, fingerprint


def test_location_prints_path_line_column() -> None:
    assert str(Location("m.yaml", 3, 7)) == "m.yaml:3:7"
    assert Location("m.yaml", 3, 7).short == "m.yaml:3"


def test_build_request_keeps_seed_order_and_defaults_is_export() -> None:
    body = build_request("en", "Hi", {"model": "M1", "webhookUrl": None})
    assert list(body) == ["language", "text", "model", "isExport"]
    assert body["isExport"] is True


def test_fingerprint_ignores_webhook_but_not_text() -> None:
    base = build_request("en", "Hi", {"model": "M1"})
    with_hook = build_request("en", "Hi", {"model": "M1", "webhookUrl": "https://h.example/x"})
    assert fingerprint(base) == fingerprint(with_hook)
    assert fingerprint(base) != fingerprint(build_request("en", "Hi!", {"model": "M1"}))


def _canonical_fingerprint(request: dict[str, object]) -> str:
    """The scheme as documented (docs/lockfile.md): SHA-256 of json.dumps, keys sorted."""
    values = {name: request.get(name) for name in ("language", "text", "model", "isExport")}
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_fingerprint_is_the_documented_json_for_every_kind_of_text() -> None:
    # The spelled-out fast path must give what json.dumps gives, byte for byte: any
    # difference would re-export (and re-bill) every item of every existing lockfile.
    pieces = ["a", '"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "한", "😀", "\u2028", "/"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        request = {
            "language": rng.choice(["en", "pt-BR", text]),
            "text": text,
            "model": rng.choice(["M000045058", text]),
            "isExport": rng.choice([True, False]),
        }
        assert fingerprint(request) == _canonical_fingerprint(request)


def test_fingerprint_of_unusual_values_takes_the_general_path() -> None:
    for request in (
        {"language": "en", "text": "x", "model": "M1"},  # isExport missing
        {"language": "en", "text": "x", "model": "M1", "isExport": 1},
        {"language": "en", "text": "x", "model": None, "isExport": True},
    ):
        assert fingerprint(request) == _canonical_fingerprint(request)


def test_fingerprint_of_a_known_request_never_changes() -> None:
    request = build_request("en", "Hi!", {"model": "M1"})
    assert fingerprint(request) == _canonical_fingerprint(request)
    expected = hashlib.sha256(b'{"isExport":true,"language":"en","model":"M1","text":"Hi!"}')
    assert fingerprint(request) == expected.hexdigest()


def test_canonical_locale_changes_only_the_case() -> None:
    cases = {
        "en": "en",
        "EN": "en",
        "pt-br": "pt-BR",
        "PT-br": "pt-BR",
        "zh-hant-tw": "zh-Hant-TW",
        "ZH-HANT": "zh-Hant",
        "es-419": "es-419",
        "sl-rozaj-biske": "sl-rozaj-biske",
        "en-a-BBB-x-A-CCC": "en-a-bbb-x-a-ccc",
        "iw": "iw",  # a deprecated code stays as written: no mapping to `he`
    }
    assert {code: canonical_locale(code) for code in cases} == cases
