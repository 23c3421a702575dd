"""The MLflow model registry for the ScoringBundle: registration, aliases, promotion, rollback.

Registered model "creatorscore": the pyfunc of `store.pyfunc` (contract records in, scores
out, our code and requirements inside, so it loads outside this repository); services in this
repository load the bundle itself with `load_champion` and call `ScoringBundle.score`.

Aliases: "champion" is what `score` and the service use; "challenger" marks the latest
candidate of `retrain`. Champion changes are recorded in the registered-model tag
"champion_history" (a JSON stack of versions, most recent last) and in version tags, so
`rollback` can return to the previous champion and every change is auditable. An alias is
always moved last, after everything else succeeded, so a failure never leaves the registry
pointing at a half-registered model.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from store.errors import RegistryError
from store.locking import store_lock
from store.tracking import configure_tracking, resolve_tracking_uri

MODEL_NAME = "creatorscore"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
CHECKSUM_TAG = "bundle_sha256"  # sha256 of the pickled bundle, recorded at registration
BUNDLE_FILE = "bundle.pkl"
_HISTORY_LIMIT = 40  # keeps the JSON tag well under MLflow's tag length limit


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str]

    @property
    def model_version(self) -> str:
        return f"{self.name}/{self.version}"


def _client(tracking_uri: str | None = None) -> mlflow.MlflowClient:
    uri = configure_tracking(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(model_uri: str, run_id: str | None, tags: dict[str, str] | None = None,
             tracking_uri: str | None = None) -> VersionInfo:
    """Register a logged model as a new version of "creatorscore" (no alias is moved)."""
    client = _client(tracking_uri)
    try:
        client.get_registered_model(MODEL_NAME)
    except MlflowException:
        client.create_registered_model(
            MODEL_NAME, description="creatorscore ScoringBundle: feature pipeline, follower-"
            "account classifier, fake-follower risk and conversion models.")
    tags = {k: str(v) for k, v in (tags or {}).items()}
    with tempfile.TemporaryDirectory() as tmp:
        tags[CHECKSUM_TAG] = _sha256(_bundle_file(_download(model_uri, tmp)))
    created = client.create_model_version(MODEL_NAME, source=model_uri, run_id=run_id,
                                          tags=tags)
    return _info(client.get_model_version(MODEL_NAME, created.version))


def _info(mv) -> VersionInfo:
    return VersionInfo(name=mv.name, version=str(mv.version), run_id=mv.run_id,
                       aliases=tuple(getattr(mv, "aliases", ()) or ()), tags=dict(mv.tags or {}))


def get_alias(alias: str, tracking_uri: str | None = None) -> VersionInfo | None:
    client = _client(tracking_uri)
    return _get_alias(client, alias)


def peek_alias(alias: str, tracking_uri: str | None = None) -> VersionInfo | None:
    """`get_alias` without touching mlflow's process-wide tracking URI: safe from a
    background thread (the service's champion watch) while other code uses mlflow."""
    uri = resolve_tracking_uri(tracking_uri)
    return _get_alias(mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), alias)


def _get_alias(client, alias: str) -> VersionInfo | None:
    try:
        return _info(client.get_model_version_by_alias(MODEL_NAME, alias))
    except MlflowException:
        return None


def _get_version(client, version: str) -> VersionInfo:
    try:
        return _info(client.get_model_version(MODEL_NAME, str(version)))
    except MlflowException as error:
        raise RegistryError(f"model {MODEL_NAME!r} has no version {version!r}") from error


def champion_history(tracking_uri: str | None = None) -> list[dict]:
    return _history(_client(tracking_uri))


def _history(client) -> list[dict]:
    try:
        model = client.get_registered_model(MODEL_NAME)
    except MlflowException:
        return []
    raw = (model.tags or {}).get(HISTORY_TAG)
    return json.loads(raw) if raw else []


def _write_history(client, history: list[dict]) -> None:
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG,
                                    json.dumps(history[-_HISTORY_LIMIT:]))


def tag_version(version: str, tags: dict[str, str], tracking_uri: str | None = None) -> None:
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, str(version), key, str(value))


def set_challenger(version: str, tracking_uri: str | None = None) -> VersionInfo:
    client = _client(tracking_uri)
    _get_version(client, version)
    client.set_model_version_tag(MODEL_NAME, str(version), "challenger_since", _now())
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, str(version))
    return _get_version(client, version)


class ChampionChanged(RegistryError):
    """A compare-and-set promotion found another champion than the one it compared against."""

    def __init__(self, expected: str | None, current: VersionInfo | None) -> None:
        self.expected, self.current = expected, current
        super().__init__(f"the champion is now version "
                         f"{current.version if current else None}, not {expected}")


def _reconciled(history: list[dict], champion: VersionInfo | None) -> list[dict]:
    """The history made consistent with the champion alias.

    The history is written before the alias moves, so a promotion killed in between leaves
    entries above the real champion: they never took effect and are dropped. A champion the
    history does not know (alias moved outside these commands) is recorded as observed."""
    if champion is None:
        return history
    versions = [entry["version"] for entry in history]
    if champion.version in versions:
        last = len(versions) - 1 - versions[::-1].index(champion.version)
        return history[:last + 1]
    return [*history, {"version": champion.version, "at": _now(), "reason": "observed"}]


def promote(version: str, reason: str = "manual", tracking_uri: str | None = None,
            if_champion: str | None = None) -> VersionInfo:
    """Make `version` the champion and push it on the champion history.

    Done under the store's lock. With `if_champion` (compare-and-set), only when the champion
    is still that version; else ChampionChanged is raised and nothing moves."""
    client = _client(tracking_uri)
    _get_version(client, version)
    version = str(version)
    with store_lock(tracking_uri):
        previous = _get_alias(client, CHAMPION)
        if if_champion is not None and (previous is None or previous.version != if_champion):
            raise ChampionChanged(if_champion, previous)
        if previous is not None and previous.version == version:
            return previous
        history = _reconciled(_history(client), previous)
        history.append({"version": version, "at": _now(), "reason": reason})
        # History and tags first, the alias last: a kill in between leaves the old champion
        # serving and an entry that `_reconciled` drops.
        _write_history(client, history)
        client.set_model_version_tag(MODEL_NAME, version, "promoted_at", _now())
        client.set_model_version_tag(MODEL_NAME, version, "promotion_reason", reason)
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    return _get_version(client, version)


def rollback(tracking_uri: str | None = None) -> tuple[VersionInfo, VersionInfo]:
    """Return the champion alias to the previous champion; returns (old, restored)."""
    client = _client(tracking_uri)
    with store_lock(tracking_uri):
        current = _get_alias(client, CHAMPION)
        if current is None:
            raise RegistryError("there is no champion to roll back; run `creatorscore train` "
                                "first")
        history = _reconciled(_history(client), current)
        while history and history[-1]["version"] == current.version:
            history.pop()
        if not history:
            raise RegistryError(
                f"champion version {current.version} has no previous champion to roll back to")
        previous = _get_version(client, history[-1]["version"])
        history[-1] = {**history[-1], "restored_at": _now()}
        _write_history(client, history)
        client.set_model_version_tag(MODEL_NAME, current.version, "rolled_back_at", _now())
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, previous.version)
    return current, _get_version(client, previous.version)


def load_bundle(model_uri: str):
    """The ScoringBundle inside a logged or registered creatorscore model (any MLflow URI or
    a local model directory)."""
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().bundle


def _download(model_uri: str, directory: str) -> Path:
    """The model's files copied into `directory` (never written beside the store's copy).
    MLflow's progress bar is off: it would print into the service's log at every load."""
    variable = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    previous = os.environ.get(variable)
    os.environ[variable] = "false"
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri,
                                                        dst_path=directory))
    finally:
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous


def _bundle_file(model_dir: Path) -> Path:
    found = sorted(model_dir.rglob(BUNDLE_FILE))
    if not found:
        raise RegistryError(f"the model files have no {BUNDLE_FILE}")
    return found[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(info: VersionInfo):
    """The version's bundle, loaded from a temporary copy of its files after checking them
    against the checksum recorded at registration: loading never writes into the store (a
    read-only store works) and a damaged or missing file is a RegistryError naming it."""
    what = f"model {info.model_version}"
    try:
        with tempfile.TemporaryDirectory(prefix="creatorscore-model-") as tmp:
            model_dir = _download(f"models:/{MODEL_NAME}/{info.version}", tmp)
            bundle_file = _bundle_file(model_dir)
            expected = info.tags.get(CHECKSUM_TAG)
            if expected is not None and _sha256(bundle_file) != expected:
                raise RegistryError(f"{what} is damaged: {BUNDLE_FILE} does not match the "
                                    "checksum recorded at registration")
            # The verified file itself: loading it through mlflow.pyfunc would also put the
            # model's code folder (deleted with `tmp`) on sys.path at every reload.
            with open(bundle_file, "rb") as handle:
                bundle = pickle.load(handle)
    except RegistryError as error:
        if what in str(error):
            raise
        raise RegistryError(f"{what} cannot be loaded: {error}") from error
    except MlflowException as error:
        raise RegistryError(f"{what} cannot be loaded: {error.message}") from error
    except Exception as error:  # noqa: BLE001 - unpickling can raise anything; one message
        raise RegistryError(f"{what} cannot be loaded ({type(error).__name__}: {error}); "
                            "its files are damaged or were written by incompatible code"
                            ) from error
    bundle.model_version = info.model_version
    return bundle


def training_metrics(info: VersionInfo, tracking_uri: str | None = None) -> dict[str, float]:
    """The metrics MLflow recorded for a version's training run ({} without a run)."""
    if not info.run_id:
        return {}
    run = _client(tracking_uri).get_run(info.run_id)
    return {key: float(value) for key, value in sorted(run.data.metrics.items())}


def load_champion(tracking_uri: str | None = None):
    """(bundle, VersionInfo) of the champion; RegistryError when there is none."""
    client = _client(tracking_uri)
    info = _get_alias(client, CHAMPION)
    if info is None:
        raise RegistryError("no champion model yet: run `creatorscore train --data DIR` first")
    return _load(info), info
