"""BoundedCache: least-recently-used eviction within its bound, hit and miss counts."""
from __future__ import annotations

import pytest

from models.cache import BoundedCache


def test_evicts_the_least_recently_used_and_counts_lookups():
    cache = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent: "b" goes first
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get_many(["a", "b", "c"]) == [1, None, 3]
    assert (cache.hits, cache.misses) == (3, 1)


def test_refuses_an_empty_bound():
    with pytest.raises(ValueError, match="max_entries"):
        BoundedCache(0)
