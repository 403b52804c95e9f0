"""The client against a hostile server (tests/service/hostile_server.py): odd answers keep
their ids, nothing hangs past the request deadline, the key never comes back out."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from specsync.service.client import Client, ExportResult, request_deadline_from_env
from specsync.service.credentials import Credentials
from specsync.service.errors import AuthError, ConfigError
from tests.helpers.hostile_server import HostileServer, echo_key

REQUEST = {"language": "en", "text": "Sample Script", "model": "M000045058"}
KEY = "hostile-test-key-123"
HUGE = "9" * 5000


def export(server: HostileServer, **options: Any) -> ExportResult:
    credentials = options.pop("credentials", Credentials(api_key=KEY))
    with Client(server.url, credentials, sleep=lambda s: None, **options) as client:
        return client.export(REQUEST)


def answer(body: bytes | str, status: int = 200) -> HostileServer:
    return HostileServer(
        "answer", status=status, body=body.encode() if isinstance(body, str) else body
    )


# -- ids are never lost (case 1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "task_id"),
    [
        ('{"success": true, "data": {"projectId": "p-1"}}', ""),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": null}}', ""),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": 42}}', "42"),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": {"a": [1]}}}', '{"a":[1]}'),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": 1.50}}', "1.50"),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": true}}', "true"),
        (f'{{"success": true, "data": {{"projectId": "p-1", "taskId": {HUGE}}}}}', HUGE),
        (f'{{"success": true, "data": {{"projectId": "p-1", "taskId": "t", "n": {HUGE}}}}}', "t"),
        ('{"success": true, "data": {"projectId": "p-1", "taskId": "t", "n": 1e999}}', "t"),
        ('{"projectId": "p-1", "taskId": "t"}', "t"),
        ('{"success": true, "projectId": "p-1", "taskId": "t"}', "t"),
    ],
)
def test_an_accepted_answer_keeps_its_ids_whatever_else_it_holds(body: str, task_id: str) -> None:
    with answer(body) as server:
        result = export(server)
    assert (result.outcome, result.project_id, result.task_id) == ("accepted", "p-1", task_id)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("raw", "project_id"),
    [
        (b'{"projectId": "p\\ud800x", "taskId": "t"}', "p\\ud800x"),
        (b'{"projectId": "p\\u0000\\u001b[31m\\nx", "taskId": "t"}', "p\x00\x1b[31m\nx"),
        (b'{"projectId": "p\x01\x1b\tx", "taskId": "t"}', "p\x01\x1b\tx"),  # raw, not escaped
        (b'{"projectId": "p\xff\xfe", "taskId": "t"}', "p\\udcff\\udcfe"),  # not UTF-8
        (b'{"projectId": ' + HUGE.encode() + b', "taskId": "t"}', HUGE),
    ],
)
def test_odd_project_ids_are_kept_losslessly(raw: bytes, project_id: str) -> None:
    with answer(raw) as server:
        result = export(server)
    assert (result.outcome, result.project_id) == ("accepted", project_id)
    # Whatever was kept can be written as UTF-8 (journal, lockfile).
    project_id.encode("utf-8")


def test_200_with_success_false_is_a_definite_refusal_not_uncertain() -> None:
    body = '{"success": false, "error": {"code": "E42", "msg": "no credit"}}'
    with answer(body) as server:
        result = export(server)
    assert result.outcome == "failed"
    assert result.code == "E42"
    assert "no credit" in result.message


# -- the key never comes back out (case 6) -------------------------------------------------


def test_an_answer_echoing_the_key_as_projectid_is_uncertain_and_never_shows_it() -> None:
    with HostileServer("answer", body=echo_key) as server:
        result = export(server)
    assert server.requests[0].headers["Authorization"] == KEY
    assert result.outcome == "uncertain"
    assert result.project_id is None
    assert KEY not in repr(result)


def test_a_fetched_token_echoed_back_as_projectid_is_not_stored() -> None:
    token = "fetched-token-0123456789"

    def body(request: Any) -> bytes:
        if request.path.endswith("/auth/token"):
            return json.dumps({"success": True, "data": {"token": token}}).encode()
        return echo_key(request)

    with HostileServer("answer", body=body) as server:
        result = export(server, credentials=Credentials(app_id="app", user_key="user-key-1"))
    assert result.outcome == "uncertain"
    assert token not in repr(result)


def test_a_token_that_cannot_be_a_header_stops_the_run_before_any_export() -> None:
    body = json.dumps({"success": True, "data": {"token": "tok\r\nX-Evil: 1"}}).encode()
    with HostileServer("answer", body=body) as server, pytest.raises(AuthError) as error:
        export(server, credentials=Credentials(app_id="app", user_key="user-key-1"))
    assert "X-Evil" not in str(error.value)
    assert [r.path for r in server.requests] == ["/api/odin/v3/auth/token"]


# -- a total deadline per request (case 5) ---------------------------------------------------


def test_headers_trickled_a_byte_at_a_time_end_at_the_request_deadline_as_uncertain() -> None:
    with HostileServer("trickle", interval=0.05) as server:
        started = time.monotonic()
        result = export(server, request_deadline=1.0, read_timeout=30)
        elapsed = time.monotonic() - started
    assert result.outcome == "uncertain"
    assert "deadline" in result.message
    assert 0.9 < elapsed < 3.0
    assert len(server.requests) == 1  # never resubmitted


def test_a_reset_connection_after_sending_is_uncertain_and_not_resubmitted() -> None:
    with HostileServer("reset") as server:
        result = export(server)
    assert result.outcome == "uncertain"
    assert len(server.requests) == 1


def test_cancel_ends_a_request_in_flight_promptly_as_uncertain() -> None:
    with HostileServer("trickle", interval=0.05) as server:
        client = Client(server.url, Credentials(api_key=KEY), request_deadline=60)
        threading.Timer(0.3, client.cancel).start()
        started = time.monotonic()
        result = client.export(REQUEST)
        elapsed = time.monotonic() - started
        client.close()
    assert result.outcome == "uncertain"
    assert elapsed < 2.0


def test_cancel_during_a_retry_after_wait_ends_it_as_not_sent() -> None:
    with HostileServer("throttle", retry_after="30") as server:
        client = Client(server.url, Credentials(api_key=KEY))
        threading.Timer(0.3, client.cancel).start()
        started = time.monotonic()
        result = client.export(REQUEST)
        elapsed = time.monotonic() - started
        client.close()
    assert (result.outcome, result.not_sent) == ("failed", True)
    assert elapsed < 2.0
    assert len(server.requests) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_a_request_deadline_from_the_environment_must_be_finite_and_positive(
    value: str,
) -> None:
    with pytest.raises(ConfigError):
        request_deadline_from_env({"SPECSYNC_REQUEST_DEADLINE": value})
    assert request_deadline_from_env({"SPECSYNC_REQUEST_DEADLINE": "2.5"}) == 2.5
