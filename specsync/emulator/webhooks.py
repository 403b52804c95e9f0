"""Webhook delivery: progress updates POSTed to `webhookUrl`, off the request threads.

Best effort, as the real service: each update is tried a few times with a short timeout,
only loopback receivers are ever contacted (the emulator must never reach out to the
internet), and nothing sent carries the API key. Every outcome is journalled.
"""

from __future__ import annotations

import functools
import heapq
import http.client
import ipaddress
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from specsync.emulator.export_log import WEBHOOK_EVENT, Journal
from specsync.emulator.ids import Project
from specsync.emulator.rendering import FAILURE_POINT

# Integers, as the webhook page documents `progress` and `credit` (docs/vendor.md).
PROGRESS_STEPS = (25, 50, 75)
# Credits a finished export reports; the vendor bills by video length, which the emulator
# does not model: one credit per export keeps sums easy to check.
CREDIT = 1
DELIVERY_TIMEOUT = 2.0
ATTEMPTS = 3
RETRY_DELAY = 0.5
NOT_LOOPBACK = "not delivered: not loopback"
QUEUE_FULL = "not delivered: too many webhooks pending"
# Updates waiting (scheduled, due, or being retried) at most. A receiver that stalls while
# exports keep coming would otherwise grow the queue without bound; beyond this cap a
# project's updates are dropped and journalled, as a busy real service may well do.
MAX_PENDING = 10_000


@dataclass(frozen=True)
class Delivery:
    url: str
    project_id: str  # for the journal only: the vendor's body does not carry it
    payload: dict[str, Any]
    final: bool
    attempt: int = 1


def progress_updates(
    project: Project, task_id: str, link: Callable[[float], str]
) -> list[tuple[float, dict[str, Any]]]:
    """(when, payload) of every update a project's receiver gets, the last one final.

    The bodies are the vendor's documented webhook shape: `progress` (an integer),
    `backendTaskId`, and at 100 `credit` (an integer) and `download_url` (snake case, no
    projectId, no signature).
    `link(when)` is the download URL as handed out at that moment (it expires). A failed
    render's last body carries an `error` like the API's refusals: the vendor documents
    none for webhooks, so this is the emulator's guess.
    """
    base: dict[str, Any] = {"backendTaskId": task_id}
    end = round(FAILURE_POINT * 100) if project.fails else 100
    updates: list[tuple[float, dict[str, Any]]] = []
    for step in PROGRESS_STEPS:
        if step >= end or project.render_seconds <= 0:
            break
        when = project.created + project.render_seconds * step / 100
        updates.append((when, {**base, "progress": step}))
    when = project.created + project.render_seconds * end / 100
    if project.fails:
        error = {"code": "render_failed", "msg": "render failed"}
        final = {**base, "progress": end, "error": error}
    else:
        final = {**base, "progress": 100, "credit": CREDIT, "download_url": link(when)}
    updates.append((when, final))
    return updates


@functools.lru_cache(maxsize=256)
def is_loopback_host(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address.

    Cached: a project's updates all go to one host, and a lookup may be slow.
    """
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


class WebhookDispatcher:
    """A timer thread releases due updates to a small pool of delivering threads."""

    def __init__(
        self, journal: Journal, *, workers: int = 4, max_pending: int = MAX_PENDING
    ) -> None:
        self._journal = journal
        self._queue: list[tuple[float, int, Delivery]] = []
        self._pending = 0  # updates in the queue or the pool, under self._wakeup
        self._max_pending = max_pending
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._closed = False
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="emulator-webhook")
        # No proxies: deliveries go straight to loopback whatever http_proxy says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._timer = threading.Thread(target=self._release_due, name="emulator-webhooks")
        self._timer.daemon = True
        self._timer.start()

    def schedule(
        self, url: str, project_id: str, updates: list[tuple[float, dict[str, Any]]]
    ) -> None:
        deliveries = [
            (when, Delivery(url, project_id, payload, final=number == len(updates)))
            for number, (when, payload) in enumerate(updates, start=1)
        ]
        with self._wakeup:
            full = self._pending + len(deliveries) > self._max_pending
            if not full:
                self._pending += len(deliveries)
                for when, delivery in deliveries:
                    heapq.heappush(self._queue, (when, next(self._order), delivery))
                self._wakeup.notify()
        if full:
            self._record(deliveries[-1][1], delivered=False, detail=QUEUE_FULL)

    @property
    def pending(self) -> int:
        with self._wakeup:
            return self._pending

    def close(self) -> None:
        """Stop: updates not yet due are dropped; deliveries under way finish."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        self._timer.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _release_due(self) -> None:
        with self._wakeup:
            while not self._closed:
                if not self._queue:
                    self._wakeup.wait()
                    continue
                wait = self._queue[0][0] - time.time()
                if wait > 0:
                    self._wakeup.wait(wait)
                    continue
                _, _, delivery = heapq.heappop(self._queue)
                self._pool.submit(self._deliver, delivery)

    def _deliver(self, delivery: Delivery) -> None:
        if not self._attempt(delivery):
            with self._wakeup:
                self._pending -= 1

    def _attempt(self, delivery: Delivery) -> bool:
        """Try once; True when the update stays pending (queued for a retry)."""
        host = urlsplit(delivery.url).hostname or ""
        if not is_loopback_host(host):
            # Said once per project, with its last update, rather than once per update.
            if delivery.final:
                self._record(delivery, delivered=False, detail=NOT_LOOPBACK)
            return False
        try:
            self._post(delivery)
        except (OSError, http.client.HTTPException, ValueError) as error:
            if isinstance(error, urllib.error.HTTPError):
                error.close()
            if delivery.attempt < ATTEMPTS:
                return self._retry(delivery)
            self._record(delivery, delivered=False, detail=f"not delivered: {error}")
            return False
        self._record(delivery, delivered=True, detail="delivered")
        return False

    def _post(self, delivery: Delivery) -> None:
        request = urllib.request.Request(
            delivery.url,
            data=json.dumps(delivery.payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": "specsync-emulator"},
            method="POST",
        )
        with self._opener.open(request, timeout=DELIVERY_TIMEOUT) as response:
            response.read()

    def _retry(self, delivery: Delivery) -> bool:
        when = time.time() + RETRY_DELAY * 2 ** (delivery.attempt - 1)
        with self._wakeup:
            if self._closed:
                return False
            again = replace(delivery, attempt=delivery.attempt + 1)
            heapq.heappush(self._queue, (when, next(self._order), again))
            self._wakeup.notify()
            return True

    def _record(self, delivery: Delivery, *, delivered: bool, detail: str) -> None:
        self._journal.record(
            WEBHOOK_EVENT,
            projectId=delivery.project_id,
            progress=delivery.payload["progress"],
            url=delivery.url,
            attempt=delivery.attempt,
            delivered=delivered,
            detail=detail,
        )
