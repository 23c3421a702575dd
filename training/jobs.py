"""Training, evaluation and retraining jobs: pure cores (Dataset in, fitted bundle and metrics
out) and thin MLflow adapters (`run_train`, `run_retrain`) used by the CLI.

Validation protocol (`train_and_evaluate`):
- campaigns are split in time (training.splits): the earliest ~60% of collaborations train the
  conversion model, the next ~20% calibrate its conformal intervals, the latest ~20% are the
  test set every reported conversion figure comes from;
- audited creators (authenticity_labels) are split at random: 75% train the risk model (which
  holds out a quarter of those for its own interval calibration), 25% are its test set;
- the feature pipeline is fitted on the whole dataset: it only learns unlabelled reference
  distributions (peer cohorts, vocabulary), never outcomes; collaboration features are computed
  as of each campaign's start date.
The registered bundle is the one evaluated (it is not refitted on the test slice), so the
figures logged with a version are the figures of that version.

Retraining (`retrain_and_compare`): the challenger is trained by the same protocol on the new
data; champion and challenger are then scored on the same holdout (the challenger's test
campaigns: the most recent ones) and the same held-out audited creators, and
`training.evaluation.decide_promotion` decides.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from data.dataset import Dataset
from models.bundle import EXPOSURE_FEATURE, PREDICTED_FAKE_SHARE, ScoringBundle
from models.conversion import ConversionModel
from models.fake_risk import FakeFollowerRiskModel
from training.evaluation import (
    PromotionDecision,
    decide_promotion,
    default_guardrails,
    evaluate_predictions,
    risk_metrics,
)
from training.splits import CampaignSplit, random_split_mask, time_split_campaigns

# Monotone constraints of the conversion model, where the domain is unambiguous: a better
# niche / brief / market fit and repeat partnerships never lower expected conversions; a larger
# fake share never raises them.
CONVERSION_MONOTONE = {
    "campaign_niche_share": 1,
    "campaign_niche_is_top": 1,
    "brief_similarity": 1,
    "country_match": 1,
    "repeat_partnerships": 1,
    PREDICTED_FAKE_SHARE: -1,
    "audience_fake_share": -1,
}

Progress = Callable[[str], None]


def _no_progress(_: str) -> None:
    return None


@dataclass
class TrainConfig:
    """Every knob of a training run (logged as MLflow params)."""

    seed: int = 0
    alpha: float = 0.1  # nominal miss rate of every interval (90% intervals)
    calibration_fraction: float = 0.2
    test_fraction: float = 0.2
    risk_test_fraction: float = 0.25
    # Tweedie (variance power 1.5) beat Poisson on held-out *Poisson* deviance on generated
    # worlds: attributed conversions are over-dispersed (clicks and conversion rates vary per
    # post), and small trees with large leaves keep the model from memorising creators.
    objective: str = "tweedie"
    tweedie_variance_power: float = 1.5
    conversion_rounds: int = 300
    conversion_learning_rate: float = 0.05
    conversion_num_leaves: int = 7
    # Minimum rows per leaf: n_train / 50 clipped to [20, conversion_max_min_leaf].
    conversion_max_min_leaf: int = 200
    risk_rounds: int = 200
    # LightGBM threads. 1 by default: on small data (and on busy CI runners) OpenMP threads
    # fighting for cores cost far more than they save; raise it for large datasets.
    num_threads: int = 1
    shared_dir: str | None = None  # real follower-account data (None = default location)


@dataclass
class TrainResult:
    bundle: ScoringBundle
    metrics: dict[str, float]
    config: TrainConfig
    split: CampaignSplit
    test_predictions: pd.DataFrame  # evaluation frame of the test collaborations
    train_predictions: pd.DataFrame  # the same for the training collaborations
    risk_test: pd.DataFrame  # risk predictions + labels of the held-out audited creators
    feature_frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    follower_info: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def labelled_collaborations(ds: Dataset) -> pd.DataFrame:
    """Collaborations with an observed conversion count (the conversion labels)."""
    if ds.collaborations is None or ds.campaigns is None:
        raise ValueError("training needs the campaigns and collaborations tables")
    collabs = ds.collaborations
    labelled = collabs[collabs["conversions"].notna()].reset_index(drop=True)
    if labelled.empty:
        raise ValueError("collaborations: no row has a conversions value to learn from")
    return labelled


def true_roi_lookup(truth: dict[str, pd.DataFrame] | None,
                    collaborations: pd.DataFrame) -> np.ndarray | None:
    """Oracle ROI per collaboration (truth expected_revenue / cost), or None without truth."""
    if not truth or "collaboration_truth" not in truth:
        return None
    table = truth["collaboration_truth"]
    revenue = table.set_index(["campaign_id", "creator_id"])["expected_revenue"]
    keys = pd.MultiIndex.from_arrays([collaborations["campaign_id"].astype(object),
                                      collaborations["creator_id"].astype(object)])
    expected = revenue.reindex(keys).to_numpy(dtype="float64")
    cost = collaborations["cost"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, expected / cost, 0.0)
    return None if np.isnan(roi).any() else roi


def prediction_frame(bundle: ScoringBundle, ds: Dataset, collaborations: pd.DataFrame,
                     X: pd.DataFrame | None = None,
                     truth: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Evaluation frame (see training.evaluation) of `bundle` on labelled collaborations.

    X: the collaboration features of `collaborations` computed by this bundle's pipeline
    (computed here when None).
    """
    planned = collaborations[["campaign_id", "creator_id", "compensation", "cost"]]
    if X is None:
        X = bundle.pipeline.transform_collaborations(ds, planned)
    table = bundle.score_features(ds, X, planned.reset_index(drop=True)).table
    conversions = collaborations["conversions"].to_numpy(dtype="float64")
    revenue = collaborations["revenue"].to_numpy(dtype="float64")
    value = table["revenue_per_conversion"].to_numpy(dtype="float64")
    frame = table[["campaign_id", "creator_id", "cost", "revenue_per_conversion",
                   "expected_conversions", "expected_conversions_low",
                   "expected_conversions_high", "expected_revenue", "expected_revenue_low",
                   "expected_revenue_high", "predicted_roi", "predicted_roi_low",
                   "predicted_roi_high", "fake_share"]].copy()
    frame["conversions"] = conversions
    frame["realised_revenue"] = np.where(np.isfinite(revenue), revenue, conversions * value)
    frame["followers"] = X["followers"].to_numpy()
    frame["engagement_rate"] = X["engagement_rate_median"].to_numpy()
    frame["tier_code"] = X["tier_code"].to_numpy()
    roi = true_roi_lookup(truth, collaborations)
    if roi is not None:
        frame["true_roi"] = roi
        table = truth["collaboration_truth"].set_index(["campaign_id", "creator_id"])
        if "expected_conversions" in table.columns:
            keys = pd.MultiIndex.from_arrays([collaborations["campaign_id"].astype(object),
                                              collaborations["creator_id"].astype(object)])
            frame["true_expected_conversions"] = table["expected_conversions"].reindex(
                keys).to_numpy(dtype="float64")
    return frame


def fit_follower_classifier(config: TrainConfig):
    from training.follower_accounts import train_default_follower_classifier

    return train_default_follower_classifier(shared_dir=config.shared_dir, seed=config.seed)


def train_and_evaluate(ds: Dataset, config: TrainConfig | None = None,
                       truth: dict[str, pd.DataFrame] | None = None,
                       follower_classifier=None, follower_info: dict | None = None,
                       progress: Progress = _no_progress) -> TrainResult:
    """Fit the whole bundle on `ds` by the validation protocol above and measure it."""
    from features import FEATURE_VERSION, FeaturePipeline
    from features.registry import model_inputs

    config = config or TrainConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    collabs = labelled_collaborations(ds)
    split = time_split_campaigns(ds.campaigns, collabs, config.calibration_fraction,
                                 config.test_fraction)
    if follower_classifier is None:
        progress("follower-account classifier")
        follower_classifier, follower_info = fit_follower_classifier(config)
    lap("follower_classifier")

    progress("feature pipeline")
    pipeline = FeaturePipeline(follower_scorer=follower_classifier).fit(ds)
    X_creators = pipeline.transform_creators(ds)
    lap("creator_features")

    progress("fake-follower risk model")
    labels = ds.authenticity_labels
    risk_model = FakeFollowerRiskModel(n_estimators=config.risk_rounds, alpha=config.alpha,
                                       seed=config.seed, num_threads=config.num_threads)
    if labels is not None and len(labels):
        test_mask = random_split_mask(len(labels), config.risk_test_fraction, config.seed)
        labels_train, labels_test = labels[~test_mask], labels[test_mask]
    else:
        labels_train = labels_test = None
    risk_model.fit(X_creators[model_inputs(X_creators.columns)], labels_train)
    lap("risk_model")

    progress("collaboration features")
    X_collab = pipeline.transform_collaborations(ds, collabs[["campaign_id", "creator_id",
                                                              "compensation", "cost"]])
    lap("collaboration_features")

    progress("conversion model")
    risk_collab = risk_model.predict(X_collab, num_threads=config.num_threads)
    from models.bundle import add_derived_features

    conv_X = add_derived_features(X_collab, risk_collab["fake_share"].to_numpy())
    slices = split.slice_of(collabs["campaign_id"].to_numpy(dtype=object))
    y = collabs["conversions"].to_numpy(dtype="float64")
    train_rows, cal_rows = slices == "train", slices == "calibration"
    min_leaf = int(np.clip(train_rows.sum() // 50, 20, config.conversion_max_min_leaf))
    conversion_model = ConversionModel(
        objective=config.objective, exposure_feature=EXPOSURE_FEATURE,
        monotone=CONVERSION_MONOTONE, n_estimators=config.conversion_rounds,
        params={"learning_rate": config.conversion_learning_rate,
                "num_leaves": config.conversion_num_leaves, "min_data_in_leaf": min_leaf},
        tweedie_variance_power=config.tweedie_variance_power,
        alpha=config.alpha, seed=config.seed, num_threads=config.num_threads)
    learnable = conv_X[model_inputs(conv_X.columns)]
    conversion_model.fit(learnable[train_rows], y[train_rows], learnable[cal_rows],
                         y[cal_rows])
    lap("conversion_model")

    revenue = collabs["revenue"].to_numpy(dtype="float64")
    sold = train_rows & (y > 0) & np.isfinite(revenue)
    revenue_per_conversion = (float(np.median(revenue[sold] / y[sold])) if sold.any()
                              else float("nan"))
    bundle = ScoringBundle(
        pipeline, follower_classifier, risk_model, conversion_model,
        revenue_per_conversion=revenue_per_conversion, feature_version=FEATURE_VERSION,
        num_threads=1,
        metadata={"train_config": asdict(config), "follower_info": _jsonable(follower_info),
                  "n_collaborations": int(len(collabs)), "n_creators": int(len(ds.creators))})

    progress("evaluation")
    test_rows = slices == "test"
    predictions = prediction_frame(bundle, ds, collabs, X_collab, truth)
    metrics = evaluate_predictions(predictions[test_rows], predictions[train_rows])
    metrics.update({f"calibration_{k}": v for k, v in _calibration_metrics(
        predictions[cal_rows]).items()})
    risk_test = pd.DataFrame()
    if labels_test is not None and len(labels_test):
        risk_test = risk_model.predict(X_creators.loc[labels_test["creator_id"].to_numpy()],
                                       num_threads=config.num_threads)
        metrics.update(risk_metrics(labels_test, risk_test))
        risk_test = labels_test.set_index("creator_id").join(risk_test, how="inner")
    metrics["n_train_collaborations"] = float(train_rows.sum())
    metrics["n_calibration_collaborations"] = float(cal_rows.sum())
    metrics.update(_follower_metrics(follower_info))
    lap("evaluation")
    metrics["training_seconds"] = float(sum(timings.values()))
    return TrainResult(
        bundle=bundle, metrics=metrics, config=config, split=split,
        test_predictions=predictions[test_rows].reset_index(drop=True),
        train_predictions=predictions[train_rows].reset_index(drop=True), risk_test=risk_test,
        feature_frames={"train": _with_target(conv_X[train_rows], y[train_rows]),
                        "test": _with_target(conv_X[test_rows], y[test_rows])},
        follower_info=follower_info or {}, timings=timings)


def _with_target(X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    frame = X.reset_index(drop=True)
    frame["conversions"] = y
    return frame


def _calibration_metrics(frame: pd.DataFrame) -> dict[str, float]:
    from training import metrics as m

    if frame.empty:
        return {}
    return {"conversion_interval_coverage": m.interval_coverage(
        frame["conversions"], frame["expected_conversions_low"],
        frame["expected_conversions_high"])}


def _follower_metrics(info: dict | None) -> dict[str, float]:
    out = {}
    for key, value in (info or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"follower_{key}"] = float(value)
    return out


def _jsonable(info: dict | None) -> dict:
    return {k: v for k, v in (info or {}).items()
            if isinstance(v, str | int | float | bool | type(None))}


# --- champion vs challenger ---------------------------------------------------------------------

@dataclass
class Comparison:
    champion: dict[str, float]
    challenger: dict[str, float]
    decision: PromotionDecision
    holdout_campaigns: tuple[str, ...]


def evaluate_on_holdout(bundle: ScoringBundle, ds: Dataset, holdout: pd.DataFrame,
                        train_reference: pd.DataFrame | None, labels: pd.DataFrame | None,
                        truth: dict[str, pd.DataFrame] | None = None) -> dict[str, float]:
    """Metrics of any bundle on the given holdout collaborations and audited creators."""
    frame = prediction_frame(bundle, ds, holdout, truth=truth)
    out = evaluate_predictions(frame, train_reference)
    if labels is not None and len(labels):
        X = bundle.pipeline.transform_creators(ds)
        risk = bundle.risk_model.predict(X.loc[labels["creator_id"].to_numpy()])
        out.update(risk_metrics(labels, risk))
    return out


def compare_on_holdout(champion: ScoringBundle, challenger: TrainResult, ds: Dataset,
                       truth: dict[str, pd.DataFrame] | None = None,
                       primary_metric: str = "poisson_deviance", min_improvement: float = 0.01,
                       guardrails=None, progress: Progress = _no_progress) -> Comparison:
    """Score champion and challenger on the challenger's test campaigns (the most recent) and
    its held-out audited creators; decide the promotion."""
    collabs = labelled_collaborations(ds)
    slices = challenger.split.slice_of(collabs["campaign_id"].to_numpy(dtype=object))
    holdout = collabs[slices == "test"].reset_index(drop=True)
    # Baseline count scales are fitted on the challenger's training collaborations.
    train_reference = challenger.train_predictions
    labels = None
    if not challenger.risk_test.empty:
        labels = challenger.risk_test.reset_index()[["creator_id", "fake_follower_share",
                                                    "bought_followers"]]
    progress("evaluating the champion on the holdout")
    champion_metrics = evaluate_on_holdout(champion, ds, holdout, train_reference, labels, truth)
    # The challenger was scored on these very rows while it was trained: reuse that.
    challenger_metrics = evaluate_predictions(challenger.test_predictions, train_reference)
    if labels is not None:
        challenger_metrics.update(risk_metrics(labels, challenger.risk_test.drop(
            columns=["fake_follower_share", "bought_followers"])))
    nominal = 1.0 - challenger.config.alpha
    decision = decide_promotion(champion_metrics, challenger_metrics, primary_metric,
                                min_improvement,
                                guardrails if guardrails is not None
                                else default_guardrails(nominal))
    return Comparison(champion_metrics, challenger_metrics, decision,
                      tuple(challenger.split.test))


# --- MLflow adapters -----------------------------------------------------------------------------

@dataclass
class RunOutcome:
    result: TrainResult
    run_id: str
    version: object  # training.registry.VersionInfo
    promoted: bool
    comparison: Comparison | None = None


def run_train(data_dir, config: TrainConfig | None = None, tracking_uri: str | None = None,
              progress: Progress = _no_progress, follower_classifier=None,
              follower_info: dict | None = None, log_plots: bool = True) -> RunOutcome:
    """`creatorscore train`: load, train everything in one MLflow run, register the bundle;
    the first registered version becomes champion (aliases move only after success)."""
    import mlflow

    from data.loader import load_dataset
    from training import registry, tracking

    uri = tracking.configure_tracking(tracking_uri)
    experiment_id = tracking.ensure_experiment(uri)
    progress("loading and validating the dataset")
    ds = load_dataset(data_dir)
    truth = tracking.load_truth(data_dir)
    result = train_and_evaluate(ds, config, truth, follower_classifier, follower_info, progress)
    progress("logging the run to MLflow")
    with mlflow.start_run(experiment_id=experiment_id, run_name="train") as run:
        model_info = tracking.log_training_run(result, data_dir, tags={"job": "train"},
                                               log_plots=log_plots)
    version = registry.register(model_info.model_uri, run.info.run_id,
                                tags={"job": "train", "feature_version":
                                      result.bundle.feature_version}, tracking_uri=uri)
    promoted = registry.get_alias(registry.CHAMPION, uri) is None
    if promoted:
        registry.promote(version.version, reason="first trained model", tracking_uri=uri)
    result.bundle.model_version = version.model_version
    return RunOutcome(result, run.info.run_id, version, promoted)


def run_retrain(data_dir, config: TrainConfig | None = None, tracking_uri: str | None = None,
                primary_metric: str = "poisson_deviance", min_improvement: float = 0.01,
                guardrails=None, retrain_follower_classifier: bool = False,
                progress: Progress = _no_progress, log_plots: bool = True) -> RunOutcome:
    """`creatorscore retrain`: validate the new data, train a challenger, compare it with the
    champion on the same most recent holdout and promote only if it is better.

    The champion's follower-account classifier is reused unless asked otherwise: it is trained
    on the labelled account data sets, not on the campaign data being retrained on.
    Nothing in the registry changes until the run has been logged and the version registered;
    then the challenger alias moves to the new version and, if the decision says so, the
    champion alias too.
    """
    import mlflow

    from data.loader import load_dataset
    from training import registry, tracking

    uri = tracking.configure_tracking(tracking_uri)
    experiment_id = tracking.ensure_experiment(uri)
    progress("loading the champion")
    champion, champion_info = registry.load_champion(uri)
    progress("loading and validating the dataset")
    ds = load_dataset(data_dir)
    truth = tracking.load_truth(data_dir)
    classifier = None if retrain_follower_classifier else champion.follower_classifier
    info = None if retrain_follower_classifier else {
        **champion.metadata.get("follower_info", {}), "reused_from": champion_info.model_version}
    result = train_and_evaluate(ds, config, truth, classifier, info, progress)
    comparison = compare_on_holdout(champion, result, ds, truth, primary_metric,
                                    min_improvement, guardrails, progress)
    progress("logging the run to MLflow")
    decision = comparison.decision
    with mlflow.start_run(experiment_id=experiment_id, run_name="retrain") as run:
        holdout = {f"holdout_challenger_{k}": v for k, v in comparison.challenger.items()}
        holdout.update({f"holdout_champion_{k}": v for k, v in comparison.champion.items()})
        model_info = tracking.log_training_run(
            result, data_dir, extra_metrics=holdout, log_plots=log_plots,
            tags={"job": "retrain", "champion_version": champion_info.version,
                  "decision": "promote" if decision.promote else "keep champion",
                  "decision_reasons": " | ".join(decision.reasons)[:4900],
                  "primary_metric": primary_metric, "min_improvement": str(min_improvement)})
    version = registry.register(model_info.model_uri, run.info.run_id,
                                tags={"job": "retrain", "decision": "promote" if
                                      decision.promote else "keep champion"}, tracking_uri=uri)
    registry.set_challenger(version.version, uri)
    if decision.promote:
        registry.promote(version.version, reason=f"retrain: {primary_metric} improved "
                         f"{100 * decision.improvement:.2f}%", tracking_uri=uri)
    result.bundle.model_version = version.model_version
    return RunOutcome(result, run.info.run_id, version, decision.promote, comparison)
