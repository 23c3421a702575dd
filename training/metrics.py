"""Evaluation metrics, computed ourselves (mlflow.models.evaluate does not unwrap LightGBM).

All functions take plain arrays (and, for per-campaign ranking metrics, a group key) and return
floats; missing values in the inputs are an error unless a function says otherwise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

# Predicted means below this are clipped before the log in the Poisson deviance, so a model that
# predicts exactly zero where a conversion happened gets a large but finite penalty.
_MIN_MEAN = 1e-9


def poisson_deviance(y_true, y_mean) -> float:
    """Mean Poisson deviance 2 * mean(y log(y / mu) - (y - mu)), with 0 log 0 = 0."""
    y = np.asarray(y_true, dtype="float64")
    mu = np.maximum(np.asarray(y_mean, dtype="float64"), _MIN_MEAN)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_ratio = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2.0 * np.mean(y_log_ratio - (y - mu)))


def spearman(y_true, score) -> float:
    """Spearman rank correlation; NaN when either side is constant."""
    y = np.asarray(y_true, dtype="float64")
    s = np.asarray(score, dtype="float64")
    if len(y) < 2 or np.all(y == y[0]) or np.all(s == s[0]):
        return float("nan")
    return float(spearmanr(y, s).statistic)


def _dcg(gains_in_rank_order: np.ndarray) -> float:
    discounts = 1.0 / np.log2(np.arange(2, len(gains_in_rank_order) + 2))
    return float(np.sum(gains_in_rank_order * discounts))


def _top_k_order(score: np.ndarray, k: int) -> np.ndarray:
    # Stable sort on the negated score: ties keep input order, so results are deterministic.
    return np.argsort(-score, kind="stable")[:k]


def ndcg_at_k(relevance, score, k: int = 10) -> float:
    """NDCG@k of one ranked list, linear gains (relevance must be >= 0). NaN if all gains are 0."""
    rel = np.asarray(relevance, dtype="float64")
    s = np.asarray(score, dtype="float64")
    if np.any(rel < 0):
        raise ValueError("ndcg_at_k: relevance must be non-negative")
    ideal = _dcg(np.sort(rel)[::-1][:k])
    if ideal <= 0:
        return float("nan")
    return _dcg(rel[_top_k_order(s, k)]) / ideal


def _grouped(frame: pd.DataFrame, group: str):
    return frame.groupby(group, sort=True, observed=True)


def mean_ndcg_at_k(relevance, score, groups, k: int = 10) -> float:
    """Mean over groups (campaigns) of NDCG@k of the group's items ranked by score.

    Groups whose gains are all zero carry no ranking information and are skipped.
    """
    frame = pd.DataFrame({"rel": np.asarray(relevance, dtype="float64"),
                          "score": np.asarray(score, dtype="float64"),
                          "group": np.asarray(groups)})
    values = [ndcg_at_k(g["rel"].to_numpy(), g["score"].to_numpy(), k)
              for _, g in _grouped(frame, "group")]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def roi_captured(true_roi, score, groups, k: int = 10) -> float:
    """Share of the oracle's ROI captured by the top k per group.

    ROI captured = sum over groups of the true ROI of the k items ranked highest by `score`,
    divided by the same sum for the k items with the highest true ROI (the oracle).
    """
    frame = pd.DataFrame({"roi": np.asarray(true_roi, dtype="float64"),
                          "score": np.asarray(score, dtype="float64"),
                          "group": np.asarray(groups)})
    if frame["roi"].isna().any():
        raise ValueError("roi_captured: true ROI has missing values")
    ours = 0.0
    oracle = 0.0
    for _, g in _grouped(frame, "group"):
        roi = g["roi"].to_numpy()
        ours += float(roi[_top_k_order(g["score"].to_numpy(), k)].sum())
        oracle += float(np.sort(roi)[::-1][:k].sum())
    return ours / oracle if oracle > 0 else float("nan")


def roi_captured_curve(true_roi, score, groups, ks=(1, 3, 5, 10, 20)) -> dict[int, float]:
    """roi_captured for several shortlist sizes (the gain curve plotted per run)."""
    return {int(k): roi_captured(true_roi, score, groups, k) for k in ks}


def interval_coverage(y_true, low, high) -> float:
    """Share of observations inside [low, high] (bounds inclusive)."""
    y = np.asarray(y_true, dtype="float64")
    lo = np.asarray(low, dtype="float64")
    hi = np.asarray(high, dtype="float64")
    return float(np.mean((y >= lo) & (y <= hi)))


def mean_interval_width(low, high) -> float:
    return float(np.mean(np.asarray(high, dtype="float64") - np.asarray(low, dtype="float64")))


def roc_auc(y_true, p) -> float:
    """ROC AUC; NaN when only one class is present."""
    y = np.asarray(y_true, dtype="int64")
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p, dtype="float64")))


def brier_score(y_true, p) -> float:
    y = np.asarray(y_true, dtype="float64")
    return float(np.mean((np.asarray(p, dtype="float64") - y) ** 2))


def calibration_table(y_true, p, n_bins: int = 10) -> pd.DataFrame:
    """Observed frequency against mean predicted probability, in equal-width bins.

    Columns: bin_low, bin_high, mean_predicted, observed_rate, count (empty bins are dropped).
    """
    y = np.asarray(y_true, dtype="float64")
    prob = np.asarray(p, dtype="float64")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(prob, edges[1:-1]), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "p": prob, "y": y})
    table = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"),
                                     count=("y", "size"))
    table.insert(0, "bin_high", edges[table.index + 1])
    table.insert(0, "bin_low", edges[table.index])
    return table.reset_index(drop=True)


def expected_calibration_error(y_true, p, n_bins: int = 10) -> float:
    table = calibration_table(y_true, p, n_bins)
    weights = table["count"] / table["count"].sum()
    return float(np.sum(weights * np.abs(table["mean_predicted"] - table["observed_rate"])))


def mean_absolute_error(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, dtype="float64")
                                - np.asarray(y_pred, dtype="float64"))))
