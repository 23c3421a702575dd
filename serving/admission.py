"""Admission control: a bounded amount of scoring work at a time, 503 past it.

Scoring is CPU-bound: on a worker, more requests at once only share the same cores, so
latency grows with the queue while throughput stays flat, and every admitted request holds
its body and its tables in memory. The middleware lets at most `max_concurrent` scoring
requests run and `max_queued` more wait (their bodies are not read while they wait); a
request beyond that is answered at once with 503 and `Retry-After`, which a client or a load
balancer can act on, instead of joining a queue that only grows.

After a burst (no request left in the worker) the freed heap is handed back to the system:
glibc keeps the arenas of the request threads otherwise, and a worker stayed at ~1.9 GiB
after load from ~340 MiB idle.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import logging

from serving.config import ServingConfig
from serving.middleware import PROTECTED_PATHS

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1


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

    @property
    def capacity(self) -> int:
        return self.config.max_concurrent + self.config.max_queued

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or \
                scope.get("path", "").rstrip("/") not in PROTECTED_PATHS:
            await self.app(scope, receive, send)
            return
        if self._admitted >= self.capacity:
            self.refused += 1
            await _busy(send, self.config)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent)
        self._admitted += 1
        try:
            async with self._slots:
                await self.app(scope, receive, send)
        finally:
            self._admitted -= 1
            if self._admitted == 0:
                # Off the event loop: trimming a large heap takes milliseconds that other
                # connections would wait for.
                asyncio.get_running_loop().run_in_executor(None, release_memory)


async def _busy(send, config: ServingConfig) -> None:
    body = json.dumps({"error": "service busy", "detail": [{
        "loc": [], "type": "busy",
        "msg": f"{config.max_concurrent} request(s) running and {config.max_queued} waiting "
               f"(CREATORSCORE_MAX_CONCURRENT, CREATORSCORE_MAX_QUEUED); retry after "
               f"{RETRY_AFTER_S} s"}]}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode())]})
    await send({"type": "http.response.body", "body": body})
