"""Candidate sets a /rank validated, kept for re-ranks by name, shared by the workers.

A brand manager moves the budget, the objective or top_k over the same candidates many times.
Sending the candidates again costs more than ranking them: a /rank of 1,000 candidates is a
~28 MB body, and reading, decoding and hashing it take ~60 ms before any ranking
(scripts/benchmark_service.py). So each /rank answer names its candidate set
(`candidate_set`), and a later /rank may send that name instead of `campaign`, `creators` and
`collaborations`: the service then only selects and explains again.

The name is the hex of the request's cache key (serving.feature_cache): a digest of the
creators' records as sent, the campaign, the plans, the model version, its bundle checksum and
the feature version. Other data or another model is another name, so a kept set never answers
for anything else.

Where a set is found: the worker's own request cache first, then this store, a directory shared
by the workers of a service (and by replicas, when it is on a shared volume): one file per set,
the validated tables the answer reads, the features and the scores already computed. At most
`max_sets` files are kept, the least recently used removed first. An unknown, evicted or
unreadable set is a 422 asking for the candidates again, never a 500.

The files are pickles, written and read only by the service, in a directory it creates
private to its user (mode 0700): a set holds pandas tables and the bundle's Scores, which
pickle keeps exactly. The directory must not be writable by anyone the service does not trust.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from serving.feature_cache import CachedRequest

logger = logging.getLogger(__name__)

NAME = re.compile(r"[0-9a-f]{32}")
SUFFIX = ".candidates"
# A write interrupted (a worker killed mid-write) leaves a temporary file: removed once it is
# this old, so no write in progress is touched.
STALE_TEMPORARY_S = 600.0


def default_directory() -> Path:
    """The service's directory when CREATORSCORE_CANDIDATE_DIR is not set: one per user under
    the system's temporary directory (set names carry the model checksum, so services of one
    user can share it)."""
    return Path(tempfile.gettempdir()) / f"creatorscore-candidate-sets-{os.getuid()}"


def is_name(value: object) -> bool:
    return isinstance(value, str) and NAME.fullmatch(value) is not None


class CandidateSetStore:
    """Validated candidate sets by name, in `directory`, at most `max_sets` (see the module).
    `scope` names the model (version, checksum, feature version): a set kept under one scope
    is never found under another, whatever name is asked for."""

    def __init__(self, directory: Path | str, max_sets: int, scope: bytes):
        self.directory = Path(directory)
        self.max_sets = max_sets
        self.scope = scope

    def _path(self, name: str) -> Path:
        file_name = hashlib.sha256(self.scope + b"\n" + name.encode()).hexdigest()[:40]
        return self.directory / f"{file_name}{SUFFIX}"

    def _trusted(self) -> bool:
        """The directory is the service user's and nobody else can write to it: a set file
        someone else could have written is never unpickled."""
        try:
            status = self.directory.stat()
        except FileNotFoundError:
            return False
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            logger.warning("candidate sets are not kept: %s is not private to this user "
                           "(owner %d, mode %o)", self.directory, status.st_uid,
                           status.st_mode & 0o777)
            return False
        return True

    def get(self, name: str) -> CachedRequest | None:
        """The set named `name`, or None when it is not kept (or cannot be read)."""
        if not is_name(name) or not self._trusted():
            return None
        path = self._path(name)
        try:
            with path.open("rb") as file:
                kept = pickle.load(file)
            os.utime(path)  # recently used: evicted last
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a damaged file is a missing set, not a 500
            logger.warning("could not read candidate set %s; it is dropped", name,
                           exc_info=True)
            path.unlink(missing_ok=True)
            return None
        return kept if isinstance(kept, CachedRequest) else None

    def put(self, name: str, request: CachedRequest) -> None:
        """Keep `request` as `name` unless it is kept already; a failure to write is logged,
        never raised (the answer does not depend on it)."""
        if not is_name(name):
            raise ValueError(f"not a candidate set name: {name!r}")
        path = self._path(name)
        if path.exists():
            return
        # Copies of the memo dicts: another request of this worker may add to them meanwhile.
        request = replace(request, scores=dict(request.scores),
                          explained=dict(request.explained))
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._trusted():
                return
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    pickle.dump(request, file, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, path)  # atomic: readers never see half a set
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self._evict()
        except Exception:  # noqa: BLE001 - see the docstring
            logger.warning("could not keep candidate set %s in %s", name, self.directory,
                           exc_info=True)

    def _evict(self) -> None:
        """Remove the least recently used sets beyond `max_sets`, and stale temporary files.
        Another worker may remove a file meanwhile: a file gone is skipped."""
        kept = []
        now = time.time()
        for path in self.directory.iterdir():
            try:
                modified = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if path.suffix == SUFFIX:
                kept.append((modified, path))
            elif path.suffix == ".tmp" and now - modified > STALE_TEMPORARY_S:
                path.unlink(missing_ok=True)
        kept.sort()
        for _, path in kept[:max(0, len(kept) - self.max_sets)]:
            path.unlink(missing_ok=True)

    def __len__(self) -> int:
        if not self.directory.is_dir():
            return 0
        return sum(1 for path in self.directory.iterdir() if path.suffix == SUFFIX)
