"""The training protocol as small steps: split, fit, calibrate, evaluate (a Dataset, or
TrainingData read in pieces of creators, in; fitted bundle and metrics out; no MLflow here,
see training.jobs).

- campaigns are split in time (training.splits): the earliest ~60% of collaborations train the
  conversion model, the next ~20% calibrate its conformal intervals, the latest ~20% are the
  test set every reported conversion figure comes from;
- audited creators (authenticity_labels) are split at random: 75% train the risk model (which
  holds out a quarter of those for its own interval calibration), 25% are its test set;
- the feature pipeline is fitted on the whole dataset (piece by piece when read in pieces: the
  same fit): it only learns unlabelled reference distributions (peer cohorts, vocabulary),
  never outcomes; collaboration features are computed as of each campaign's start date.
The registered bundle is the one evaluated (it is not refitted on the test slice), so the
figures logged with a version are the figures of that version.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from data.dataset import Dataset
from features import FEATURE_VERSION, FeaturePipeline, fit_in_pieces, transform_in_pieces
from features.catalogue import EXPOSURE_FEATURE, conversion_constraints, model_inputs
from models.bundle import ScoringBundle, add_derived_features
from models.compiled import compile_enabled
from models.conversion import DEFAULT_GLM_FEATURES, ConversionModel
from models.fake_risk import FakeFollowerRiskModel
from training import metrics
from training.evaluation import evaluate_predictions, risk_metrics
from training.follower_accounts import train_default_follower_classifier
from training.splits import CampaignSplit, random_split_mask, time_split_campaigns
from training.stress import PLAN_COLUMNS, evaluate_candidates, planned_with_candidates
from training.training_data import TrainingData

Progress = Callable[[str], None]

# From this many sampled accounts on, the follower classifier is compiled (models.compiled) for
# the run: the shipped classifier costs ~3 us an account in LightGBM and ~1 us compiled (63k
# accounts: 196 vs 56 ms, training/README), a 50k-creator world samples 3M accounts, and the
# compile (a few seconds, once per model: the library is kept in the cache directory) runs on
# the helper thread behind the feature pipeline's fit. Small worlds (tests) keep LightGBM: a
# compile would cost more than it saves.
COMPILE_MIN_ACCOUNTS = 500_000


def no_progress(_: str) -> None:
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
    # Chosen on the stress suite (scripts/stress_report.py, training/README.md).
    conversion_glm: bool = True  # log-linear part (models.conversion.DEFAULT_GLM_FEATURES)
    conversion_calibrate_level: bool = True  # level corrected on the calibration campaigns
    conversion_interval_bins: int = 5  # Mondrian bins of the conformal interval
    conversion_excluded_features: str = ""  # comma-separated features the model may not use
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
    planned = collaborations[PLAN_COLUMNS]
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
    """(classifier, info): the follower-account classifier on the labelled account data sets."""
    return train_default_follower_classifier(shared_dir=config.shared_dir, seed=config.seed)


def split_audited_creators(labels: pd.DataFrame | None, config: TrainConfig
                           ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(train, test) audited creators, split at random (risk_test_fraction to test)."""
    if labels is None or not len(labels):
        return None, None
    test_mask = random_split_mask(len(labels), config.risk_test_fraction, config.seed)
    return labels[~test_mask], labels[test_mask]


def fit_risk_model(X_creators: pd.DataFrame, labels_train: pd.DataFrame | None,
                   config: TrainConfig) -> FakeFollowerRiskModel:
    """The fake-follower risk model on the creator features of the audited training creators."""
    risk_model = FakeFollowerRiskModel(n_estimators=config.risk_rounds, alpha=config.alpha,
                                       seed=config.seed, num_threads=config.num_threads)
    return risk_model.fit(X_creators[model_inputs(X_creators.columns)], labels_train)


def fit_conversion_model(conv_X: pd.DataFrame, y: np.ndarray, train_rows: np.ndarray,
                         calibration_rows: np.ndarray, config: TrainConfig) -> ConversionModel:
    """The conversion model on the training rows, its intervals calibrated on the calibration
    rows; monotone constraints from the feature catalogue."""
    min_leaf = int(np.clip(train_rows.sum() // 50, 20, config.conversion_max_min_leaf))
    excluded = {c.strip() for c in config.conversion_excluded_features.split(",") if c.strip()}
    learnable = conv_X[[c for c in model_inputs(conv_X.columns) if c not in excluded]]
    conversion_model = ConversionModel(
        objective=config.objective, exposure_feature=EXPOSURE_FEATURE,
        monotone=conversion_constraints(learnable.columns),
        n_estimators=config.conversion_rounds,
        params={"learning_rate": config.conversion_learning_rate,
                "num_leaves": config.conversion_num_leaves, "min_data_in_leaf": min_leaf},
        tweedie_variance_power=config.tweedie_variance_power,
        # An excluded feature leaves the log-linear part too.
        glm_features=({name: form for name, form in DEFAULT_GLM_FEATURES.items()
                       if name in learnable.columns} if config.conversion_glm else None),
        calibrate_level=config.conversion_calibrate_level,
        interval_bins=config.conversion_interval_bins,
        alpha=config.alpha, seed=config.seed, num_threads=config.num_threads)
    return conversion_model.fit(learnable[train_rows], y[train_rows], learnable[calibration_rows],
                                y[calibration_rows])


def median_revenue_per_conversion(collabs: pd.DataFrame, rows: np.ndarray) -> float:
    """Median realised revenue per conversion over `rows` with sales (NaN when none)."""
    y = collabs["conversions"].to_numpy(dtype="float64")
    revenue = collabs["revenue"].to_numpy(dtype="float64")
    sold = rows & (y > 0) & np.isfinite(revenue)
    return float(np.median(revenue[sold] / y[sold])) if sold.any() else float("nan")


def held_out_campaigns(collabs: pd.DataFrame, slices: np.ndarray) -> np.ndarray:
    """The campaigns of the test collaborations, in order of appearance."""
    return collabs["campaign_id"][slices == "test"].unique()


def evaluate_bundle(bundle: ScoringBundle, ds: Dataset, collabs: pd.DataFrame,
                    X_collab: pd.DataFrame, slices: np.ndarray, X_creators: pd.DataFrame,
                    labels_test: pd.DataFrame | None, truth: dict[str, pd.DataFrame] | None,
                    config: TrainConfig, candidate_X: pd.DataFrame | None = None
                    ) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """(metrics, prediction frame of every labelled collaboration, risk test frame).
    candidate_X: the collaboration features of the test campaigns' candidates (see
    training.stress.candidate_frame), when already computed."""
    test_rows, train_rows, cal_rows = (slices == "test", slices == "train",
                                       slices == "calibration")
    predictions = prediction_frame(bundle, ds, collabs, X_collab, truth)
    scores = evaluate_predictions(predictions[test_rows], predictions[train_rows])
    scores.update({f"calibration_{k}": v for k, v in _calibration_metrics(
        predictions[cal_rows]).items()})
    risk_test = pd.DataFrame()
    if labels_test is not None and len(labels_test):
        risk_test = bundle.risk_model.predict(
            X_creators.loc[labels_test["creator_id"].to_numpy()], num_threads=config.num_threads)
        scores.update(risk_metrics(labels_test, risk_test))
        risk_test = labels_test.set_index("creator_id").join(risk_test, how="inner")
    # Generated worlds: every candidate of the test campaigns, hired or not, against truth.
    scores.update(evaluate_candidates(bundle, ds, truth, held_out_campaigns(collabs, slices),
                                      candidate_X))
    scores["n_train_collaborations"] = float(train_rows.sum())
    scores["n_calibration_collaborations"] = float(cal_rows.sum())
    return scores, predictions, risk_test


def train_and_evaluate(data: Dataset | TrainingData, config: TrainConfig | None = None,
                       truth: dict[str, pd.DataFrame] | None = None,
                       follower_classifier=None, follower_info: dict | None = None,
                       progress: Progress = no_progress) -> TrainResult:
    """Fit the whole bundle on `data` (a whole Dataset, or TrainingData read in pieces: the
    same bundle and figures) by the validation protocol above and measure it."""
    data = data if isinstance(data, TrainingData) else TrainingData.of_dataset(data)
    ds = data.tables  # campaigns, collaborations, authenticity labels
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
    slices = split.slice_of(collabs["campaign_id"].to_numpy(dtype=object))
    if follower_classifier is None:
        progress("follower-account classifier")
        follower_classifier, follower_info = fit_follower_classifier(config)
    lap("follower_classifier")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="training-helper") as helper:
        # Both cores at work: a large sample's follower classifier is compiled while the
        # pipeline learns its text model and cohorts (which audit no account).
        compiling = helper.submit(_compile_for_run, follower_classifier, data.n_audience)
        progress("feature pipeline")
        pipeline = fit_in_pieces(FeaturePipeline(follower_scorer=follower_classifier),
                                 data.pieces, data.n_pieces)
        lap("pipeline_fit")
        compiling.result()  # the helper's errors are raised here
        lap("follower_compile_wait")

        # Every creator's features, the labelled collaborations' and (generated worlds) the
        # test campaigns' candidates', piece by piece; within a piece every sampled account
        # is audited once, and the candidates are computed on the helper thread beside the
        # collaborations.
        progress("features")
        planned = planned_with_candidates("collaborations", collabs, truth,
                                          held_out_campaigns(collabs, slices))
        frames = transform_in_pieces(pipeline, data.pieces(), planned, helper)
        X_creators, X_collab = frames["creators"], frames["collaborations"]
        lap("features")

    progress("fake-follower risk model")
    labels_train, labels_test = split_audited_creators(ds.authenticity_labels, config)
    risk_model = fit_risk_model(X_creators, labels_train, config)
    lap("risk_model")

    progress("conversion model")
    risk_collab = risk_model.predict(X_collab, num_threads=config.num_threads)
    conv_X = add_derived_features(X_collab, risk_collab["fake_share"].to_numpy())
    y = collabs["conversions"].to_numpy(dtype="float64")
    train_rows, test_rows = slices == "train", slices == "test"
    conversion_model = fit_conversion_model(conv_X, y, train_rows, slices == "calibration",
                                            config)
    lap("conversion_model")

    bundle = ScoringBundle(
        pipeline, follower_classifier, risk_model, conversion_model,
        revenue_per_conversion=median_revenue_per_conversion(collabs, train_rows),
        feature_version=FEATURE_VERSION, num_threads=1,
        metadata={"train_config": asdict(config),
                  "follower_info": _jsonable(follower_info),
                  "n_collaborations": int(len(collabs)),
                  "n_creators": int(data.n_creators)})

    progress("evaluation")
    scores, predictions, risk_test = evaluate_bundle(
        bundle, ds, collabs, X_collab, slices, X_creators, labels_test, truth, config,
        frames.get("candidates"))
    scores.update(_follower_metrics(follower_info))
    lap("evaluation")
    scores["training_seconds"] = float(sum(timings.values()))
    return TrainResult(
        bundle=bundle, metrics=scores, config=config, split=split,
        test_predictions=predictions[test_rows].reset_index(drop=True),
        train_predictions=predictions[train_rows].reset_index(drop=True), risk_test=risk_test,
        feature_frames={"train": _with_target(conv_X[train_rows], y[train_rows]),
                        "test": _with_target(conv_X[test_rows], y[test_rows])},
        follower_info=follower_info or {}, timings=timings)


def _compile_for_run(follower_classifier, n_accounts: int) -> None:
    """Compile the follower classifier when the data samples COMPILE_MIN_ACCOUNTS accounts or
    more (and compiling is enabled: models.compiled.compile_enabled). When the compiled
    library cannot be built or checked, LightGBM predicts: the same numbers."""
    if n_accounts < COMPILE_MIN_ACCOUNTS or not compile_enabled() \
            or not hasattr(follower_classifier, "compile") or follower_classifier.is_compiled:
        return
    follower_classifier.compile()


def _with_target(X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    frame = X.reset_index(drop=True)
    frame["conversions"] = y
    return frame


def _calibration_metrics(frame: pd.DataFrame) -> dict[str, float]:
    if frame.empty:
        return {}
    return {"conversion_interval_coverage": metrics.interval_coverage(
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
