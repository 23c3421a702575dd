"""MLflow tracking configuration: where runs, artifacts and the model registry live.

Tracking URI: the environment variable MLFLOW_TRACKING_URI when set, else
sqlite:///<repo>/mlruns/mlflow.db (MLflow 3.13+ refuses a plain ./mlruns file store).
Artifacts: for a sqlite store, an `artifacts` folder next to the database file
(<repo>/mlruns/artifacts by default); for a tracking server, wherever the server puts them.
Every command resolves the URI through `configure_tracking`, so they all honour the variable.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

EXPERIMENT_NAME = "creatorscore"
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_tracking_uri() -> str:
    return f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """Explicit argument, else MLFLOW_TRACKING_URI, else the repository's sqlite store."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def artifact_root_for(tracking_uri: str) -> str | None:
    """The artifact location for new experiments, or None to let the server decide."""
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri[len("sqlite:///"):])
        return (db_path.parent / "artifacts").resolve().as_uri()
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        raise ValueError(
            f"tracking URI {tracking_uri!r} is a file store, which MLflow 3.13+ refuses; use "
            "sqlite:///path/to/mlflow.db or an http(s) tracking server")
    return None


def configure_tracking(tracking_uri: str | None = None) -> str:
    """Point mlflow at the resolved URI (creating the sqlite folder) and return the URI."""
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    artifact_root_for(uri)  # validates the scheme
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(tracking_uri: str, name: str = EXPERIMENT_NAME) -> str:
    """The experiment id of `name`, created with the artifact root above when missing."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_root_for(tracking_uri))


def quiet_mlflow() -> None:
    """Silence MLflow's chatty warnings and alembic logs for command-line use."""
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


# --- logging a training run ------------------------------------------------------------------

def load_truth(data_dir) -> dict | None:
    """The generator's truth tables (DIR/truth/<name>.csv|parquet), or None when absent."""
    import pandas as pd

    truth_dir = Path(data_dir) / "truth"
    if not truth_dir.is_dir():
        return None
    tables = {}
    for name in ("collaboration_truth", "creator_truth"):
        for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
            path = truth_dir / f"{name}{suffix}"
            if path.exists():
                frame = reader(path)
                for column in ("campaign_id", "creator_id"):
                    if column in frame.columns:
                        frame[column] = frame[column].astype("str")
                tables[name] = frame
                break
    return tables or None


def _finite_metrics(values: dict, prefix: str = "") -> dict[str, float]:
    import math

    return {f"{prefix}{k}": float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def log_training_run(result, data_dir: str | None = None, extra_metrics: dict | None = None,
                     tags: dict | None = None, log_plots: bool = True):
    """Log a TrainResult in the active MLflow run; returns the logged model's ModelInfo.

    Params (config, feature version, data sizes), metrics, the train / test feature frames as
    input datasets, the feature list and version, plots and the bundle as a pyfunc model.
    """
    import json
    from dataclasses import asdict

    import mlflow

    from training import plots
    from training.registry import log_bundle

    bundle = result.bundle
    params = {**asdict(result.config), "feature_version": bundle.feature_version,
              "n_conversion_features": len(bundle.conversion_model.feature_names_),
              "n_risk_features": len(bundle.risk_model.feature_names_),
              "follower_training_data": result.follower_info.get("training_data", "given"),
              "test_campaigns": len(result.split.test),
              "exposure_feature": bundle.conversion_model.exposure_feature,
              "data_dir": str(data_dir) if data_dir else None}
    mlflow.log_params({k: ("" if v is None else v) for k, v in params.items()})
    mlflow.log_metrics(_finite_metrics(result.metrics))
    if extra_metrics:
        mlflow.log_metrics(_finite_metrics(extra_metrics))
    mlflow.set_tags({"feature_version": bundle.feature_version, **(tags or {})})
    source = str(data_dir) if data_dir else None
    for context, frame in result.feature_frames.items():
        with warnings.catch_warnings():
            # A local path matches several equivalent MLflow dataset-source types.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source=source, targets="conversions",
                                              name=f"collaborations_{context}")
        mlflow.log_input(dataset, context="training" if context == "train" else context)
    mlflow.log_text(json.dumps({
        "feature_version": bundle.feature_version,
        "conversion_features": bundle.conversion_model.feature_names_,
        "risk_features": bundle.risk_model.feature_names_,
        "exposure_feature": bundle.conversion_model.exposure_feature,
        "monotone_constraints": bundle.conversion_model.monotone,
    }, indent=2), "features.json")
    mlflow.log_dict({k: v for k, v in result.metrics.items()}, "metrics.json")
    if log_plots:
        _log_plots(result, plots)
    return log_bundle(bundle, result.feature_frames["test"].drop(columns="conversions")
                      [bundle.pipeline.collaboration_feature_names_].head(20))


def _log_plots(result, plots) -> None:
    """Make, log and close one figure at a time (shap draws on the current figure)."""
    import mlflow

    def log(name: str, make) -> None:
        fig = make()
        try:
            mlflow.log_figure(fig, f"plots/{name}")
        finally:
            plots.close(fig)

    risk = result.risk_test
    if not risk.empty and risk["bought_followers"].notna().any():
        labelled = risk[risk["bought_followers"].notna() & risk["fake_follower_risk"].notna()]
        if len(labelled):
            log("risk_calibration.png", lambda: plots.calibration_figure(
                labelled["bought_followers"].astype("float64"), labelled["fake_follower_risk"]))
    conversion = result.bundle.conversion_model
    test_X = result.feature_frames["test"][conversion.feature_names_]
    log("shap_summary_conversion.png", lambda: plots.shap_summary_figure(
        conversion.booster_, test_X, seed=result.config.seed))
    log("roi_captured_curve.png", lambda: plots.roi_curve_figure(result.test_predictions))
    log("interval_coverage.png", lambda: plots.coverage_figure(
        result.test_predictions, risk, 1.0 - result.config.alpha))
