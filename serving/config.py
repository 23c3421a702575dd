"""Service settings, read from environment variables once at start-up.

| variable | default | meaning |
|---|---|---|
| CREATORSCORE_API_KEY | unset | when set, scoring routes need it (header `X-API-Key` |
|   |   | or `Authorization: Bearer <key>`); health routes stay open |
| CREATORSCORE_MAX_CREATORS | 2000 | creators per /score or /rank request |
| CREATORSCORE_MAX_POSTS_PER_CREATOR | 500 | posts per creator |
| CREATORSCORE_MAX_ROWS_PER_CREATOR | 5000 | rows per creator of follower_history, |
|   |   | audience_sample and comments |
| CREATORSCORE_MAX_ACCOUNTS | 20000 | accounts per /audit_followers request |
| CREATORSCORE_MAX_BODY_BYTES | 33554432 | request body size (32 MiB; see the memory |
|   |   | budget in serving/README.md) |
| CREATORSCORE_MAX_TOP_K | 100 | explained candidates per /rank request |
| CREATORSCORE_FEATURE_CACHE_ROWS | 50000 | creator feature rows remembered (~1 KiB each; |
|   |   | serving/feature_cache.py) |
| CREATORSCORE_REQUEST_CACHE_SIZE | 32 | validated requests remembered with their features |
| CREATORSCORE_CANDIDATE_SETS | 64 | /rank candidate sets kept on disk for re-ranks by |
|   |   | `candidate_set` (serving/candidate_sets.py) |
| CREATORSCORE_CANDIDATE_DIR | temp dir | where they are kept: a directory the workers |
|   |   | (and replicas, on a shared volume) share, private to the service |
| CREATORSCORE_WORKERS | cores | worker processes of `serve` (each loads the champion) |
| CREATORSCORE_COMPILE_TREES | 1 | compile the follower classifier (models/compiled.py) |
| CREATORSCORE_MAX_CONCURRENT | 2 | scoring requests running at once per worker |
| CREATORSCORE_MAX_QUEUED | 16 | scoring requests waiting per worker; beyond: |
|   |   | 503 with Retry-After (serving/admission.py) |
| CREATORSCORE_RELOAD_INTERVAL | 30 | seconds between checks of the registry's champion |
|   |   | alias; a new champion is loaded and swapped in (0: never) |
| MLFLOW_TRACKING_URI | repo-local store | where the champion model is loaded from |

A limit exceeded is answered with 413 and the field path of the offending list.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from data.machine import usable_cores

DEFAULT_PORT = 3000

# The request limits: field name -> environment variable (defaults are the fields').
LIMIT_VARIABLES = {
    "max_creators": "CREATORSCORE_MAX_CREATORS",
    "max_posts_per_creator": "CREATORSCORE_MAX_POSTS_PER_CREATOR",
    "max_rows_per_creator": "CREATORSCORE_MAX_ROWS_PER_CREATOR",
    "max_accounts": "CREATORSCORE_MAX_ACCOUNTS",
    "max_body_bytes": "CREATORSCORE_MAX_BODY_BYTES",
    "max_top_k": "CREATORSCORE_MAX_TOP_K",
    "max_concurrent": "CREATORSCORE_MAX_CONCURRENT",
    "max_queued": "CREATORSCORE_MAX_QUEUED",
}
# The caches' bounds: field name -> environment variable (not request limits: not in `limits`).
CACHE_VARIABLES = {
    "feature_cache_rows": "CREATORSCORE_FEATURE_CACHE_ROWS",
    "request_cache_size": "CREATORSCORE_REQUEST_CACHE_SIZE",
    "candidate_sets": "CREATORSCORE_CANDIDATE_SETS",
}


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


DEFAULT_MAX_TOP_K = 100


def _positive_int(variable: str, raw: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r}: expected a whole number") from None
    if number < 1:
        raise ConfigError(f"{variable}={raw!r}: expected a number >= 1")
    return number


def default_workers(env: Mapping[str, str] | None = None) -> int:
    """CREATORSCORE_WORKERS, else one worker process per core (each request runs on one core:
    LightGBM and the features predict with one thread, so workers are what use the others)."""
    env = os.environ if env is None else env
    raw = env.get("CREATORSCORE_WORKERS", "").strip()
    if raw:
        return _positive_int("CREATORSCORE_WORKERS", raw)
    return usable_cores()


@dataclass(frozen=True)
class ServingConfig:
    api_key: str | None = None
    max_creators: int = 2_000
    max_posts_per_creator: int = 500
    max_rows_per_creator: int = 5_000
    max_accounts: int = 20_000
    max_body_bytes: int = 32 * 1024 * 1024
    max_top_k: int = DEFAULT_MAX_TOP_K
    feature_cache_rows: int = 50_000
    request_cache_size: int = 32
    candidate_sets: int = 64
    candidate_dir: str | None = None
    max_concurrent: int = 2
    max_queued: int = 16
    tracking_uri: str | None = None
    reload_interval_s: float = 30.0

    @property
    def limits(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in LIMIT_VARIABLES}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServingConfig:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, variable in (LIMIT_VARIABLES | CACHE_VARIABLES).items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue  # the field's default
            values[name] = _positive_int(variable, raw)
        api_key = env.get("CREATORSCORE_API_KEY", "").strip()
        tracking_uri = env.get("MLFLOW_TRACKING_URI", "").strip()
        candidate_dir = env.get("CREATORSCORE_CANDIDATE_DIR", "").strip()
        raw = env.get("CREATORSCORE_RELOAD_INTERVAL", "").strip()
        if raw:
            try:
                values["reload_interval_s"] = float(raw)
            except ValueError:
                raise ConfigError(f"CREATORSCORE_RELOAD_INTERVAL={raw!r}: expected a number "
                                  "of seconds") from None
            if not values["reload_interval_s"] >= 0:
                raise ConfigError(f"CREATORSCORE_RELOAD_INTERVAL={raw!r}: expected >= 0")
        return cls(api_key=api_key or None, tracking_uri=tracking_uri or None,
                   candidate_dir=candidate_dir or None, **values)
