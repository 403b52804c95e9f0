"""urllib3 connections that keep the current attempt's deadline and can be cancelled
(`deadline`), mounted into a requests session through `DeadlineAdapter`.

Each connection opens its socket under the attempt (so a cancel can shut it down while
it connects or sets up TLS) and, once connected, reads and writes through a
`DeadlineSocket`. The socket is opened here rather than by urllib3's `create_connection`,
which gives no hold of the socket before its connect returns.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast

import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from urllib3.util.connection import allowed_gai_family

from specsync.service.http.deadline import DeadlineSocket, current_attempt

SocketOption = tuple[int, int, int | bytes]


def open_socket(
    address: tuple[str, int],
    timeout: float | None,
    source_address: tuple[str, int] | None,
    options: Sequence[SocketOption],
) -> socket.socket:
    """A socket connected to `address` (each address it resolves to in turn), within the
    connect timeout and the current attempt's deadline, shut down if it is cancelled."""
    host, port = address
    scope = current_attempt()
    error: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(
        host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            for option in options:
                sock.setsockopt(*option)
            if source_address:
                sock.bind(source_address)
            if scope is None:
                sock.settimeout(timeout)
                sock.connect(where)
                return sock
            sock.settimeout(scope.timeout_for(timeout)[0])
            scope.connecting(sock)  # until the connection's connect() ends
            sock.connect(where)
            # The TLS handshake that may follow gets what is left, as a whole.
            sock.settimeout(scope.timeout_for(timeout)[0])
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    raise error or OSError(f"no address found for {host}")


def _connect_timeout(connection: urllib3.connection.HTTPConnection) -> float | None:
    timeout = connection.timeout
    return timeout if isinstance(timeout, (int, float)) else None


def _new_conn(connection: urllib3.connection.HTTPConnection) -> socket.socket:
    """urllib3's `_new_conn` (the same errors for the same failures), on `open_socket`."""
    try:
        sock = open_socket(
            (connection.host, connection.port),
            _connect_timeout(connection),
            connection.source_address,
            connection.socket_options or (),
        )
    except socket.gaierror as error:
        raise urllib3.exceptions.NameResolutionError(connection.host, connection, error) from error
    except TimeoutError as error:
        raise urllib3.exceptions.ConnectTimeoutError(
            connection, f"Connection to {connection.host} timed out"
        ) from error
    except OSError as error:
        raise urllib3.exceptions.NewConnectionError(
            connection, f"Failed to establish a new connection: {error}"
        ) from error
    sys.audit("http.client.connect", connection, connection.host, connection.port)
    return sock


def _connect(connection: urllib3.connection.HTTPConnection, connect: Callable[[], None]) -> None:
    """urllib3's connect (TCP, then TLS for https), cancellable throughout; then reads
    and writes go through a DeadlineSocket."""
    scope = current_attempt()
    try:
        connect()
    finally:
        if scope is not None:
            scope.connected()
    if connection.sock is not None and not isinstance(connection.sock, DeadlineSocket):
        # A stand-in with the socket methods http.client and urllib3 use.
        connection.sock = cast(socket.socket, DeadlineSocket(connection.sock))


class DeadlineHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _new_conn(self)

    def connect(self) -> None:
        _connect(self, super().connect)


class DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _new_conn(self)

    def connect(self) -> None:
        _connect(self, super().connect)


class DeadlineHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections keep the attempt's deadline.

    `server_name`: connect to the URL's (pinned) address while TLS checks, and sends as
    SNI, this name.
    """

    def __init__(self, server_name: str | None = None, **kwargs: Any) -> None:
        self._server_name = server_name  # read by init_poolmanager, which __init__ calls
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._server_name is not None:
            kwargs["server_hostname"] = self._server_name
            kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.PoolManager:
        """Through an HTTP(S) proxy (HTTPS_PROXY) too: its connections keep the deadline.

        A SOCKS proxy's connections are urllib3's own (each read keeps the read timeout).
        """
        manager: urllib3.PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = dict(POOL_CLASSES)
        return manager


POOL_CLASSES: dict[str, type[urllib3.connectionpool.HTTPConnectionPool]] = {
    "http": DeadlineHTTPConnectionPool,
    "https": DeadlineHTTPSConnectionPool,
}
