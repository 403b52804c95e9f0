"""`status` reading progress answers shaped as the vendor documents them."""

from __future__ import annotations

from specsync.service.errors import ClientError, RenderRefused
from specsync.service.status import ItemStatus, interpret, poll_one, show_progress

ITEM = ItemStatus("a/en", "p1", "submitted")  # type: ignore[arg-type]
URL = "https://cdn.example/v.mp4"


def test_an_unknown_word_at_100_with_a_url_is_done_and_the_word_is_kept() -> None:
    done = interpret(ITEM, {"progress": 100.0, "state": "finish", "downloadUrl": URL})
    assert (done.state, done.progress, done.download_url) == ("done", 100, URL)
    assert done.service_state == "finish"
    other = interpret(ITEM, {"progress": 100.0, "state": "zzz-new-word", "downloadUrl": URL})
    assert other.state == "done"


def test_100_without_a_url_keeps_polling() -> None:
    almost = interpret(ITEM, {"progress": 100.0, "state": "finish", "downloadUrl": None})
    assert almost.state == "rendering"
    assert almost.pending
    done_word_no_url = interpret(ITEM, {"state": "exported"})
    assert done_word_no_url.pending


def test_progress_stays_a_number_and_shows_sensibly() -> None:
    item = interpret(ITEM, {"progress": 37.5, "state": "processing"})
    assert (item.state, item.progress, item.service_state) == ("rendering", 37.5, "processing")
    assert show_progress(37.5) == "37.5%"
    assert show_progress(100) == "100%"
    assert show_progress(None) == "-"
    assert interpret(ITEM, {"progress": 250.0}).progress == 100
    assert interpret(ITEM, {"progress": float("nan")}).progress is None


def test_failure_only_from_a_known_failure_word_with_its_message() -> None:
    # The failure words are assumed (docs/vendor.md, "state words"): no page lists them.
    failed = interpret(ITEM, {"progress": 40.0, "state": "failed", "msg": "avatar error"})
    assert failed.state == "failed"
    assert failed.message is not None and "avatar error" in failed.message
    assert interpret(ITEM, {"progress": 40.0, "state": "weird"}).state == "rendering"
    assert interpret(ITEM, {"progress": 0.0, "state": "waiting"}).state == "submitted"


class _Refusing:
    def progress(self, project_id: str) -> dict[str, object]:
        raise RenderRefused("HTTP 200: render error (code RENDER_FAILED)", 200)


class _Broken:
    def progress(self, project_id: str) -> dict[str, object]:
        raise ClientError("connection refused")


def test_a_success_false_progress_answer_is_unknown_this_time_with_its_message() -> None:
    # Assumed (docs/vendor.md, row 19): no page defines it and the vendor's sample treats
    # it as a polling error, so it is never a permanent failure.
    unknown = poll_one(_Refusing(), ITEM)
    assert unknown.state == "submitted" and unknown.pending
    assert unknown.message is not None and "RENDER_FAILED" in unknown.message
    # An unreadable answer is not a failure either: pending, with the error shown.
    broken = poll_one(_Broken(), ITEM)
    assert broken.state == "submitted" and broken.pending
