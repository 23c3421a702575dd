"""A store-level lock: one registry change (promotion, rollback, run clean-up) at a time.

For a sqlite store, an exclusive `flock` on `<database>.lock` beside the database: it holds
across processes on the machine that owns the store and is released by the kernel when its
holder dies, so a killed job never leaves the store locked. A tracking server has no shared
file; there the lock is a no-op and the compare-and-set of `registry.promote` is the guard.
"""
from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from pathlib import Path

from store.tracking import resolve_tracking_uri

LOCK_TIMEOUT_S = 600.0
_POLL_S = 0.05


# Re-entrant within a process: a retrain holding the lock calls `registry.promote`, which takes
# it again (a second flock of the same file in one process would wait for itself).
_held: dict[Path, tuple[threading.RLock, int]] = {}
_held_guard = threading.Lock()


class StoreLockTimeout(RuntimeError):
    """Another job held the store's lock longer than the timeout."""


def lock_path(tracking_uri: str | None = None) -> Path | None:
    uri = resolve_tracking_uri(tracking_uri)
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri[len("sqlite:///"):])
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def store_lock(tracking_uri: str | None = None, timeout: float = LOCK_TIMEOUT_S):
    """Hold the store's exclusive lock for the duration of the block (re-entrant)."""
    path = lock_path(tracking_uri)
    if path is None:
        yield
        return
    with _held_guard:
        thread_lock = _held.setdefault(path, (threading.RLock(), 0))[0]
    if not thread_lock.acquire(timeout=timeout):
        raise _timeout(path, timeout)
    try:
        with _held_guard:
            depth = _held[path][1]
            _held[path] = (thread_lock, depth + 1)
        if depth:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _timeout(path, timeout) from None
                    time.sleep(_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        with _held_guard:
            _held[path] = (thread_lock, _held[path][1] - 1)
        thread_lock.release()


def _timeout(path: Path, timeout: float) -> StoreLockTimeout:
    return StoreLockTimeout(f"another creatorscore job has held {path} for over "
                            f"{timeout:.0f} s; retry when it has finished")
