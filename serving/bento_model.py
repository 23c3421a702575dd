"""The champion inside a Bento: imported into the BentoML model store, loaded from it.

`creatorscore import-champion` copies the registry's champion (the MLflow pyfunc with its code
and requirements, see store.pyfunc) into the BentoML model store as `creatorscore:<version>`,
with the registered version, the training run's metrics and the version tags as metadata.
`bentoml build` (bentofile.yaml) then packs the service and that model into one Bento, which
serves without an MLflow store: the service loads the model from the Bento when it runs from
one (or when CREATORSCORE_MODEL_SOURCE=bento), else the champion of the MLflow registry.
"""
from __future__ import annotations

import os

import bentoml

from serving.config import ServingConfig
from serving.engine import ScoringEngine, engine_over
from store import registry
from store.tracking import configure_tracking

BENTO_MODEL_NAME = "creatorscore"
BENTO_MODEL_TAG = f"{BENTO_MODEL_NAME}:latest"
MODEL_SOURCE_VARIABLE = "CREATORSCORE_MODEL_SOURCE"


def champion_imported() -> bool:
    """Whether the BentoML model store (BENTOML_HOME, or the Bento's) holds an imported
    champion: `bentoml build` packs it only then, and BentoML serves a service declaring a
    model only when the model exists."""
    try:
        bentoml.models.get(BENTO_MODEL_TAG)
    except bentoml.exceptions.NotFound:
        return False
    return True


def model_source(served_from_bento: bool) -> str:
    """"bento" or "registry": the environment variable decides, else where the service runs."""
    source = os.environ.get(MODEL_SOURCE_VARIABLE, "").strip().lower()
    if source in ("bento", "registry"):
        return source
    return "bento" if served_from_bento else "registry"


def import_champion(tracking_uri: str | None = None) -> bentoml.Model:
    """Copy the registry's champion into the BentoML model store (BENTOML_HOME)."""
    info = registry.get_alias(registry.CHAMPION, tracking_uri)
    if info is None:
        raise registry.RegistryError("no champion model yet: run `creatorscore train --data "
                                     "DIR` first (or set MLFLOW_TRACKING_URI)")
    configure_tracking(tracking_uri)
    return bentoml.mlflow.import_model(
        BENTO_MODEL_NAME, f"models:/{registry.MODEL_NAME}/{info.version}",
        labels={"registered_model": info.name, "registered_version": info.version},
        metadata={"model_name": info.name, "version": info.version,
                  "run_id": info.run_id or "",
                  "training_metrics": registry.training_metrics(info, tracking_uri),
                  "version_tags": dict(info.tags)})


def load_engine_from_bento(model: bentoml.Model | None, config: ServingConfig,
                           cache_observer=None) -> ScoringEngine:
    """The engine over an imported champion (a model of the Bento or of the model store)."""
    if model is None:
        raise registry.RegistryError(
            f"{MODEL_SOURCE_VARIABLE}=bento but the BentoML model store has no "
            f"{BENTO_MODEL_TAG}: run `creatorscore import-champion` first")
    bundle = registry.load_bundle(model.path_of(bentoml.mlflow.MLFLOW_MODEL_FOLDER))
    meta = model.info.metadata
    bundle.model_version = f"{meta['model_name']}/{meta['version']}"
    return engine_over(bundle, meta["model_name"], str(meta["version"]), config,
                       training_metrics=dict(meta.get("training_metrics", {})),
                       version_tags=dict(meta.get("version_tags", {})),
                       cache_observer=cache_observer)
