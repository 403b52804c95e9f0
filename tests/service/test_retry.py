"""specsync.service.http.retry_plan: the parts of the retry plan that need no server.

How the client retries (what, how often, how long) is tested against servers in
test_client.py.
"""

from __future__ import annotations

import datetime

import pytest

from specsync.service.http.retry_plan import parse_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2026 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime.datetime(2026, 10, 21, 7, 28, 0, tzinfo=datetime.timezone.utc)
    assert parse_retry_after(header, now=now) == expected
