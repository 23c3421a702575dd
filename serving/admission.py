"""Admission control: a bounded amount of scoring work at a time, 503 past it.

Scoring is CPU-bound: on a worker, more requests at once only share the same cores, so
latency grows with the queue while throughput stays flat, and every admitted request holds
its body and its tables in memory. The middleware lets at most `max_concurrent` scoring
requests run and `max_queued` more wait (their bodies are not read while they wait); a
request beyond that is answered at once with 503 and `Retry-After`, which a client or a load
balancer can act on, instead of joining a queue that only grows.

The brand manager's page does the same work (serving.app: an upload is validated, a rank
scores every candidate, a server dataset is read and validated): those routes share the
slots, and a refused one gets a short HTML page saying to try again (with the same
`Retry-After`), not JSON a browser would show raw.

A request admitted while the worker already has scoring work is answered with
`Connection: close`: kept-alive connections stay on the worker that accepted them, and two
busy clients could share one worker while the other idled (see `_closing_connection`).

After a burst (no request left in the worker for IDLE_TRIM_S) the freed heap is handed back
to the system: glibc keeps the arenas of the request threads otherwise, and a worker stayed at
~1.9 GiB after load from ~340 MiB idle. Not after every request: a client sending requests one
after another empties the worker between them, and each trim made the next request fault its
memory in again.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import html
import json
import logging
import re

from serving.config import ServingConfig
from serving.middleware import PROTECTED_PATHS

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1
# How long a worker stays without scoring work before its freed heap goes back to the system.
IDLE_TRIM_S = 1.0
# The page's routes that score or validate (serving.app, mounted at BASE_PATH /app; a test
# checks the prefix): method, path.
PAGE_WORK = (("POST", re.compile(r"/app/upload")),
             ("POST", re.compile(r"/app/d/[^/]+/rank")),
             ("GET", re.compile(r"/app/data/[^/]+")))


def admitted_kind(scope) -> str | None:
    """"api" for a scoring route, "page" for the page's scoring routes, None for the rest
    (health, metrics, docs, the page's light routes: never queued or refused)."""
    if scope["type"] != "http":
        return None
    method, path = scope.get("method"), scope.get("path", "").rstrip("/")
    if method == "POST" and path in PROTECTED_PATHS:
        return "api"
    if any(method == wanted and pattern.fullmatch(path) for wanted, pattern in PAGE_WORK):
        return "page"
    return None


def _malloc_trim():
    """glibc's malloc_trim, or None on another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)


class AdmissionMiddleware:
    """At most `max_concurrent` scoring requests run and `max_queued` wait; the rest: 503."""

    def __init__(self, app, config: ServingConfig | None = None) -> None:
        self.app = app
        self.config = config or ServingConfig.from_env()
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop
        self._admitted = 0  # running + waiting (one event loop per worker: no lock needed)
        self.refused = 0
        self._idle_trim: asyncio.TimerHandle | None = None
        self.trims = 0

    @property
    def capacity(self) -> int:
        return self.config.max_concurrent + self.config.max_queued

    async def __call__(self, scope, receive, send) -> None:
        kind = admitted_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        if self._admitted >= self.capacity:
            self.refused += 1
            await _busy(send, self.config, page=kind == "page")
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent)
        if self._idle_trim is not None:
            self._idle_trim.cancel()
            self._idle_trim = None
        if self._admitted:
            send = _closing_connection(send)
        self._admitted += 1
        try:
            async with self._slots:
                await self.app(scope, receive, send)
        finally:
            self._admitted -= 1
            if self._admitted == 0:
                self._idle_trim = asyncio.get_running_loop().call_later(IDLE_TRIM_S,
                                                                        self._trim)

    def _trim(self) -> None:
        self._idle_trim = None
        self.trims += 1
        # Off the event loop: trimming a large heap takes milliseconds that other connections
        # would wait for.
        asyncio.get_running_loop().run_in_executor(None, release_memory)


def _closing_connection(send):
    """`send` with `Connection: close` on the answer: a client whose request arrived while this
    worker had scoring work on another connection reconnects for its next one, and the new
    connection goes to the worker that accepts it first: an idle one, whose event loop waits
    on the listening socket, more likely than this busy one. Kept-alive connections otherwise
    stay where they were accepted: two clients of 100-creator batches both on one of two
    workers made ~1,300 creators/s against ~2,500 spread (half the runs)."""

    async def closing(message):
        if message["type"] == "http.response.start":
            message = dict(message, headers=[*(message.get("headers") or ()),
                                             (b"connection", b"close")])
        await send(message)

    return closing


async def _busy(send, config: ServingConfig, page: bool = False) -> None:
    message = (f"{config.max_concurrent} request(s) running and {config.max_queued} waiting "
               f"(CREATORSCORE_MAX_CONCURRENT, CREATORSCORE_MAX_QUEUED); retry after "
               f"{RETRY_AFTER_S} s")
    if page:
        body = (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Busy - "
                f"creatorscore</title><h1>The service is busy</h1><p>Other rankings are "
                f"running. Go back and send the form again in a few seconds.</p>"
                f"<p><small>{html.escape(message)}</small></p></html>").encode()
        media_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": "service busy", "detail": [{
            "loc": [], "type": "busy", "msg": message}]}).encode()
        media_type = b"application/json"
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", media_type), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode())]})
    await send({"type": "http.response.body", "body": body})
