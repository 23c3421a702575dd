"""The service's memory of work already done: creator feature rows and whole validated requests.

Platforms re-score the same creators and brand managers re-rank the same candidates while they
move the budget; features of unchanged records are the same numbers (one creator alone gives
its row of a batch: the parity tests), so they are computed once.

Keys are content, never ids: a creator's key hashes its request records (profile and every
nested row, as sent) with the model and feature versions, and, for a campaign, the campaign
record and the creator's validated plan (compensation, cost). Changed data, a new champion or
a new feature version is a different key, so a cached row is never a stale answer.

- `rows`: feature rows by creator key, at most `max_rows` (CREATORSCORE_FEATURE_CACHE_ROWS;
  ~1 KiB a row), used when some creators of a request were seen before;
- `requests`: whole requests (every creator key in order, the campaign and the plans) that
  passed the contract validator, with their features, scores and the few tables the answer
  reads (at most `max_requests`, CREATORSCORE_REQUEST_CACHE_SIZE): the same request again
  skips validation (the same content passed it), features and models; a re-rank under another
  budget only selects again.

`observe(cache_name, hits, misses)`, when set, is told every lookup (the service turns it into
Prometheus counters on /metrics).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import pandas as pd
from pydantic import BaseModel

from data.dataset import Dataset
from models.cache import BoundedCache

Observer = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CachedRequest:
    """What answering a validated request needs again: its ids, the tables the answer and the
    money read (creators, campaigns, collaborations), its features and plans, and the scores
    already computed from them (by (explain, top_n); /rank's explained top rows by
    (objective, top_k, top_n)): the same models on the same features give the same numbers."""

    key: bytes  # the request's key (FeatureCache.request_key): a /rank's candidate set name
    creator_ids: list[str]
    campaign_id: str | None
    dataset: Dataset
    features: pd.DataFrame
    planned: pd.DataFrame | None
    scores: dict = field(default_factory=dict)
    explained: dict = field(default_factory=dict)


def _plain(value):
    if isinstance(value, BaseModel):  # the request's CreatorRecords: its fields are plain
        return value.__dict__
    raise NotImplementedError(f"cannot key a {type(value).__name__}")


# msgspec encodes a /rank's 1,000 creators (~25 MB of JSON) ~2.5x faster than pydantic.
_ENCODER = msgspec.json.Encoder(enc_hook=_plain)


def to_json(value) -> bytes:
    """The request value as JSON bytes (key order as received: a reordered record is a miss,
    never a wrong hit)."""
    return _ENCODER.encode(value)


def _digest(*parts: bytes) -> bytes:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))  # no two splits hash alike
        hasher.update(part)
    return hasher.digest()


class FeatureCache:
    """Creator feature rows and validated requests of one model version (see the module)."""

    def __init__(self, model_version: str, feature_version: str, max_rows: int = 50_000,
                 max_requests: int = 32, observe: Observer | None = None):
        self.version = f"{model_version}\n{feature_version}".encode()
        self.rows = BoundedCache(max_rows)
        self.requests = BoundedCache(max_requests)
        self.observe = observe

    def _lookup(self, name: str, cache: BoundedCache, keys: Sequence[bytes]) -> list:
        found = cache.get_many(keys)
        if self.observe is not None:
            hits = sum(value is not None for value in found)
            self.observe(name, hits, len(found) - hits)
        return found

    # -- keys ------------------------------------------------------------------------------
    def creator_keys(self, creators: Sequence) -> list[bytes]:
        """One key per creator of the request: its records as sent, with the versions. A body
        decoded by serving.request_body carries a digest of each creator's raw JSON: keyed by
        it, a request seen before is never decoded again."""
        digests = getattr(creators, "content_digests", None)
        if digests is not None:
            return [_digest(self.version, b"raw JSON", digest) for digest in digests]
        return [_digest(self.version, to_json(creator)) for creator in creators]

    def request_key(self, route: str, creator_keys: Sequence[bytes], campaign,
                    collaborations) -> bytes:
        return _digest(self.version, route.encode(), b"".join(creator_keys),
                       to_json(campaign), to_json(collaborations))

    def row_keys(self, creator_keys_by_id: dict[str, bytes], ids: np.ndarray, campaign,
                 planned: pd.DataFrame | None) -> list[bytes]:
        """The key of each feature row: the creator's key, and for a campaign the campaign
        record and the row's validated plan."""
        if planned is None:
            return [creator_keys_by_id[str(i)] for i in ids]
        scope = to_json(campaign)
        compensation = planned["compensation"].astype(object).tolist()
        cost = planned["cost"].to_numpy(dtype="float64").tobytes()
        return [_digest(creator_keys_by_id[str(i)], scope, str(c).encode(), cost[8 * k:8 * k + 8])
                for k, (i, c) in enumerate(zip(ids, compensation, strict=True))]

    # -- lookups ---------------------------------------------------------------------------
    def get_request(self, key: bytes) -> CachedRequest | None:
        return self._lookup("request", self.requests, [key])[0]

    def put_request(self, key: bytes, request: CachedRequest) -> None:
        self.requests.put(key, request)

    def get_rows(self, keys: Sequence[bytes]) -> list:
        return self._lookup("creator_features", self.rows, keys)

    def put_rows(self, keys: Sequence[bytes], values: np.ndarray) -> None:
        # Copies: a row must not keep the whole request's matrix alive.
        self.rows.put_many((key, values[i].copy()) for i, key in enumerate(keys))
