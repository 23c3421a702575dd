"""A bounded, thread-safe least-recently-used cache with hit and miss counters.

Used for follower-account probabilities (keyed by the account's feature row, so the same
account content is scored once whoever's audience it is in) and, by the service, for creator
feature rows (keyed by a hash of the creator's records and the model version). Keys are always
content, never names: changed data is a different key, so a cached answer is never stale.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence


class BoundedCache:
    """At most `max_entries` values; the least recently used go first. `hits` and `misses`
    count lookups since creation (a service exports them as metrics)."""

    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError(f"max_entries={max_entries}: expected >= 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Sequence[Hashable]) -> list:
        """The cached value of each key, None where absent (counted as a miss)."""
        out = []
        with self._lock:
            entries = self._entries
            for key in keys:
                value = entries.get(key)
                if value is not None:
                    entries.move_to_end(key)
                out.append(value)
            found = sum(value is not None for value in out)
            self.hits += found
            self.misses += len(out) - found
        return out

    def get(self, key: Hashable):
        return self.get_many([key])[0]

    def put_many(self, items: Iterable[tuple[Hashable, object]]) -> None:
        with self._lock:
            entries = self._entries
            for key, value in items:
                entries[key] = value
                entries.move_to_end(key)
            while len(entries) > self.max_entries:
                entries.popitem(last=False)

    def put(self, key: Hashable, value) -> None:
        self.put_many([(key, value)])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
