"""Servers started by tests: a free port, a process in its own session (stopped with its whole
group), and a wait until a URL answers 200."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen | None = None, log: Path | None = None,
                  timeout: float = 180) -> None:
    """Poll `url` until it answers 200; fail early (with the log's tail) if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"the server exited with code {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.5)


@contextlib.contextmanager
def server(args: list[str], env: dict, cwd: Path, log: Path, ready_url: str):
    """Start `args` in its own session, wait for `ready_url`, stop the group at exit."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=True)
    try:
        wait_until_up(ready_url, process, log)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
