import os

from data.machine import usable_cores


def test_usable_cores_are_the_process_affinity_where_the_platform_tells_it():
    if hasattr(os, "sched_getaffinity"):
        assert usable_cores() == len(os.sched_getaffinity(0))
    assert usable_cores() >= 1


def test_usable_cores_fall_back_to_the_machines_cores_then_to_one(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # e.g. macOS
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # undeterminable
    assert usable_cores() == 1
