from specsync.model import Location, build_request, fingerprint


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
