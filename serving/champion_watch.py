"""Follow the registry's champion while serving: poll the alias, swap to a new champion.

A service used to answer with the champion it loaded at start for as long as it ran, with
nothing telling that the registry had moved on (a promotion, a rollback). A daemon thread now
reads the champion alias every `interval` seconds; when it names another version, that
version is loaded and verified (store.registry.load_champion) off the request path and handed
to `swap`, which replaces the engine in one assignment: requests already running finish with
the engine they started with, so none is dropped. A version that cannot be loaded is logged
once, in one line, and the service keeps answering with the one it has (its answers then say
they do not come from the registry's current champion).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from store import registry

logger = logging.getLogger(__name__)


class ChampionWatch:
    def __init__(self, tracking_uri: str | None, serving_version: str, interval: float,
                 load: Callable[[], object], swap: Callable[[object], None]) -> None:
        self.tracking_uri = tracking_uri
        self.serving_version = serving_version
        self.registry_version: str | None = serving_version
        self.interval = interval
        self._load, self._swap = load, swap
        self._failed_version: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_current(self) -> bool:
        """Whether the version answering is the registry's champion (as last polled)."""
        return self.registry_version == self.serving_version

    def start(self) -> ChampionWatch:
        if self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="champion-watch",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> bool:
        """Poll once; True when the engine was swapped."""
        try:
            info = registry.peek_alias(registry.CHAMPION, self.tracking_uri)
        except Exception as error:  # noqa: BLE001 - a store hiccup must not stop the watch
            logger.warning("champion watch: cannot read the registry: %s", error)
            return False
        self.registry_version = None if info is None else info.version
        if info is None or info.version == self.serving_version:
            return False
        if info.version == self._failed_version:
            return False  # already reported; retried when the alias moves again
        try:
            engine = self._load()
        except Exception as error:  # noqa: BLE001 - keep serving the loaded champion
            self._failed_version = info.version
            logger.error("champion watch: keeping %s; the new champion cannot be loaded: %s",
                         self.serving_version, str(error).splitlines()[0])
            return False
        self._swap(engine)
        logger.info("champion watch: now serving %s (was version %s)",
                    engine.provenance["model_version"], self.serving_version)
        self.serving_version = str(engine.version)
        return True
