"""The HTTP server the tests' stand-ins (proxies, fakes) run on loopback."""

from __future__ import annotations

import sys
import traceback
from http.server import ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 (port 0: any free one) whose request errors do
    not land in a specsync run's captured stderr.

    Its threads run beside in-process specsync runs (tests.helpers.specsync), which capture
    sys.stderr, where socketserver prints a failed request's traceback. A client that went
    away (a killed or interrupted specsync) is expected and says nothing; anything else is
    printed to the test process's own stderr.
    """

    daemon_threads = True

    def __init__(self, handler: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        print(f"loopback server: error serving {client_address}", file=sys.__stderr__)
        traceback.print_exc(file=sys.__stderr__)
