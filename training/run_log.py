"""Logging a training run in MLflow: params, metrics, input datasets, plots and the bundle."""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict

import mlflow

from store.pyfunc import example_input, log_model
from training import plots


def _finite_metrics(values: dict, prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def log_training_run(result, data_dir: str | None = None, extra_metrics: dict | None = None,
                     tags: dict | None = None, log_plots: bool = True, training_data=None):
    """Log a TrainResult in the active MLflow run; returns the logged model's ModelInfo.

    Params (config, feature version, data sizes), metrics, the train / test feature frames as
    input datasets, the feature list and version, plots and the bundle as a pyfunc model
    (`training_data`, a Dataset of the first creators trained on, gives its input example).
    """
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
        _log_plots(result)
    return log_model(bundle, example_input(training_data) if training_data is not None else None)


def _log_plots(result) -> None:
    """Make, log and close one figure at a time (shap draws on the current figure)."""
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
