"""The MLflow model registry for the ScoringBundle: registration, aliases, promotion, rollback.

Registered model "creatorscore": a pyfunc whose artifact is the pickled ScoringBundle. Its
pyfunc `predict` takes the all-float64 collaboration feature matrix and returns the model
outputs (pandas 3 "str"/category columns break MLflow signatures, so the signature has only
float64 columns); services load the bundle itself with `load_champion` and call
`ScoringBundle.score`.

Aliases: "champion" is what `score` and the service use; "challenger" marks the latest
candidate of `retrain`. Champion changes are recorded in the registered-model tag
"champion_history" (a JSON stack of versions, most recent last) and in version tags, so
`rollback` can return to the previous champion and every change is auditable. An alias is
always moved last, after everything else succeeded, so a failure never leaves the registry
pointing at a half-registered model.
"""
from __future__ import annotations

import json
import pickle
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from store.tracking import configure_tracking

MODEL_NAME = "creatorscore"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
_HISTORY_LIMIT = 40  # keeps the JSON tag well under MLflow's tag length limit


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (no champion, unknown version, ...)."""


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


class ScoringBundlePyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc face of a ScoringBundle: float64 feature matrix in, float64 predictions out."""

    def load_context(self, context) -> None:
        with open(context.artifacts["bundle"], "rb") as handle:
            self.bundle = pickle.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.bundle.predict_matrix(model_input)


def _client(tracking_uri: str | None = None) -> mlflow.MlflowClient:
    uri = configure_tracking(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_bundle(bundle, input_example: pd.DataFrame, name: str = "model"):
    """Log the bundle as a pyfunc model in the active run; returns the ModelInfo."""
    example = input_example.astype("float64")
    signature = infer_signature(example, bundle.predict_matrix(example))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.pkl"
        with open(path, "wb") as handle:
            pickle.dump(bundle, handle, protocol=pickle.HIGHEST_PROTOCOL)
        # Explicit requirements: inferring them would re-import the model in a subprocess.
        return mlflow.pyfunc.log_model(
            name=name, python_model=ScoringBundlePyfunc(), artifacts={"bundle": str(path)},
            signature=signature, input_example=example.head(3),
            pip_requirements=_pip_requirements())


def _pip_requirements() -> list[str]:
    pins = []
    for package in ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "scipy", "shap"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


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
    created = client.create_model_version(MODEL_NAME, source=model_uri, run_id=run_id,
                                          tags={k: str(v) for k, v in (tags or {}).items()})
    return _info(client.get_model_version(MODEL_NAME, created.version))


def _info(mv) -> VersionInfo:
    return VersionInfo(name=mv.name, version=str(mv.version), run_id=mv.run_id,
                       aliases=tuple(getattr(mv, "aliases", ()) or ()), tags=dict(mv.tags or {}))


def get_alias(alias: str, tracking_uri: str | None = None) -> VersionInfo | None:
    client = _client(tracking_uri)
    return _get_alias(client, alias)


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


def set_challenger(version: str, tracking_uri: str | None = None) -> VersionInfo:
    client = _client(tracking_uri)
    _get_version(client, version)
    client.set_model_version_tag(MODEL_NAME, str(version), "challenger_since", _now())
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, str(version))
    return _get_version(client, version)


def promote(version: str, reason: str = "manual", tracking_uri: str | None = None) -> VersionInfo:
    """Make `version` the champion and push it on the champion history."""
    client = _client(tracking_uri)
    _get_version(client, version)
    version = str(version)
    previous = _get_alias(client, CHAMPION)
    if previous is not None and previous.version == version:
        return previous
    history = _history(client)
    if previous is not None and (not history or history[-1]["version"] != previous.version):
        # The champion alias was moved outside these commands: record it so rollback works.
        history.append({"version": previous.version, "at": _now(), "reason": "observed"})
    history.append({"version": version, "at": _now(), "reason": reason})
    client.set_model_version_tag(MODEL_NAME, version, "promoted_at", _now())
    client.set_model_version_tag(MODEL_NAME, version, "promotion_reason", reason)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    _write_history(client, history)
    return _get_version(client, version)


def rollback(tracking_uri: str | None = None) -> tuple[VersionInfo, VersionInfo]:
    """Return the champion alias to the previous champion; returns (old, restored)."""
    client = _client(tracking_uri)
    current = _get_alias(client, CHAMPION)
    if current is None:
        raise RegistryError("there is no champion to roll back; run `creatorscore train` first")
    history = _history(client)
    while history and history[-1]["version"] == current.version:
        history.pop()
    if not history:
        raise RegistryError(
            f"champion version {current.version} has no previous champion to roll back to")
    previous = _get_version(client, history[-1]["version"])
    client.set_model_version_tag(MODEL_NAME, current.version, "rolled_back_at", _now())
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, previous.version)
    history[-1] = {**history[-1], "restored_at": _now()}
    _write_history(client, history)
    return current, _get_version(client, previous.version)


def _load(info: VersionInfo):
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{info.version}")
    bundle = model.unwrap_python_model().bundle
    bundle.model_version = info.model_version
    return bundle


def load_champion(tracking_uri: str | None = None):
    """(bundle, VersionInfo) of the champion; RegistryError when there is none."""
    client = _client(tracking_uri)
    info = _get_alias(client, CHAMPION)
    if info is None:
        raise RegistryError("no champion model yet: run `creatorscore train --data DIR` first")
    return _load(info), info
