"""The emulator says what it is in every answer, so a client can tell fake ids from real."""

from __future__ import annotations

import socket

import requests

from specsync import __version__
from specsync.emulator import RunningEmulator

EXPORT = "/api/odin/v3/simple/custom"
SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_every_answer_says_it_comes_from_the_emulator(emulator: RunningEmulator) -> None:
    key = {"Authorization": "k"}
    answers = [
        requests.get(emulator.url + "/", timeout=5),
        requests.post(emulator.url + EXPORT, json=SAMPLE, headers=key, timeout=5),
        requests.post(emulator.url + EXPORT, json=SAMPLE, timeout=5),  # 401
        requests.get(emulator.url + "/no/such/path", timeout=5),  # 404
        requests.put(emulator.url + EXPORT, timeout=5),  # 405
    ]

    assert [a.status_code for a in answers] == [200, 200, 401, 404, 405]
    for answer in answers:
        assert answer.headers["X-Specsync-Emulator"] == "1"
        assert answer.headers["X-Specsync-Emulator-Version"] == __version__
    assert answers[0].json()["data"] == {
        "service": "specsync emulator",
        "emulator": True,
        "version": __version__,
        "status": "ok",
    }
    # Even a request http.server itself rejects (over 100 header lines).
    headers = b"".join(b"X-%d: 1\r\n" % n for n in range(101))
    raw = raw_exchange(emulator.url, b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    assert raw.startswith(b"HTTP/1.1 431")
    assert b"\r\nX-Specsync-Emulator: 1\r\n" in raw
