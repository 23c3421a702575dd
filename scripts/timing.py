"""Wall-time measurement shared by the benchmark scripts (run as `python scripts/<name>.py`,
which puts this directory on the import path)."""
from __future__ import annotations

import time
from collections.abc import Callable


def run_times(function: Callable[[], object], repeats: int) -> list[float]:
    """Seconds taken by each of `repeats` calls of `function`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times
