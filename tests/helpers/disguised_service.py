"""An emulator disguised as the real service, for tests that need real-looking answers.

The emulator marks every answer with `X-Specsync-Emulator` and apply then treats the run
as an emulator run. Tests of what a *real* apply does (refusing an emulator's journal or
lockfile, recording real ids) put this loopback proxy in front of an emulator: it passes
requests and answers through and drops the emulator's identity headers, as a real service
would answer.
"""

from __future__ import annotations

import http.client
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.helpers.loopback import LoopbackServer

# Hop-by-hop headers and the emulator's identity are not passed on.
_DROPPED = {"x-specsync-emulator", "x-specsync-emulator-version", "connection", "host"}
_DROPPED |= {"transfer-encoding", "content-length", "keep-alive"}


@contextmanager
def disguised(emulator_url: str, seen: list[str] | None = None) -> Iterator[str]:
    """The URL of a proxy to `emulator_url` whose answers carry no emulator mark.

    `seen`, when given, gets "METHOD /path" of every request that reached the proxy.
    """
    target = urlsplit(emulator_url)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if seen is not None:
                seen.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROPPED}
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                reply = connection.getresponse()
                payload = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in _DROPPED:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = LoopbackServer(Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def relay(handler: BaseHTTPRequestHandler, upstream: str, body: bytes) -> None:
    """Forward the request `handler` is serving (its body already read) to `upstream` and
    write the answer back as JSON, error statuses included: the plain pass-through the test
    proxies share."""
    request = urllib.request.Request(
        upstream + handler.path,
        data=body if handler.command == "POST" else None,
        method=handler.command,
        headers={k: v for k, v in handler.headers.items() if k.lower() != "host"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            status, payload = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
