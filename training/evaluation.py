"""Evaluation of conversion / ROI predictions against the baselines brand managers use.

Prediction frames (one row per collaboration) carry: campaign_id, creator_id, conversions
(realised), expected_conversions, expected_conversions_low/_high, cost, revenue_per_conversion,
realised_revenue, expected_revenue(_low/_high), predicted_roi, followers, engagement_rate,
tier_code and, on generated worlds, true_roi (truth expected_revenue / cost: the oracle).

Baselines (scores a brand manager ranks by today):
- followers: the follower count.
- engagement_rate: the median engagement rate (likes + comments) / followers.
- tier_rule: expected conversions = followers * published conversion rate of the tier
  (data.domain.CONVERSION_RATE_BY_TIER); ROI ranking by that times revenue per conversion / cost.
For the Poisson deviance each baseline score is turned into a count by one scale factor fitted
on the training rows (sum of conversions / sum of scores), the most a rule of thumb allows.
Rankings by followers and by engagement rate ignore cost, as the managers' rule does.

Metric names (all computed here, never by mlflow.models.evaluate):
poisson_deviance, spearman (predicted vs realised conversions over all test rows),
ndcg_at_10 (creators within a campaign ranked by expected conversions, gains = realised
conversions; mean over campaigns), ndcg_at_10_roi (ranked by predicted ROI, gains = realised
ROI), roi_captured_at_10 (true ROI of our top 10 per campaign / the oracle's top 10; needs
truth), conversion_interval_coverage / _width, revenue_interval_coverage.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.domain import CONVERSION_RATE_BY_TIER, TIERS
from training import metrics

TOP_K = 10


def _tier_conversion_rate(tier_code) -> np.ndarray:
    rates = np.array([CONVERSION_RATE_BY_TIER[t] for t in TIERS] + [np.nan])
    codes = np.asarray(tier_code, dtype="float64")
    index = np.where(np.isnan(codes), len(TIERS), codes).astype("int64")
    return rates[np.clip(index, 0, len(TIERS))]


def baseline_scores(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{baseline: (count-like score, ROI ranking score)} for each baseline."""
    followers = frame["followers"].to_numpy(dtype="float64")
    engagement = frame["engagement_rate"].to_numpy(dtype="float64")
    rule = followers * _tier_conversion_rate(frame["tier_code"])
    cost = frame["cost"].to_numpy(dtype="float64")
    value = frame["revenue_per_conversion"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rule_roi = np.where(cost > 0, rule * value / cost, np.nan)
    return {
        "followers": (followers, followers),
        "engagement_rate": (engagement * followers, engagement),
        "tier_rule": (rule, rule_roi),
    }


def ranking_score(score: np.ndarray) -> np.ndarray:
    # Unknown scores rank last rather than break the sort.
    return np.where(np.isfinite(score), score, -np.inf)


def realised_roi(frame: pd.DataFrame) -> np.ndarray:
    cost = frame["cost"].to_numpy(dtype="float64")
    revenue = frame["realised_revenue"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, revenue / cost, np.nan)


def ranking_metrics(frame: pd.DataFrame, count_score: np.ndarray, roi_score: np.ndarray,
                    prefix: str = "") -> dict[str, float]:
    """Spearman, NDCG@10 (conversions and ROI) and ROI captured for one ranking."""
    groups = frame["campaign_id"].to_numpy(dtype=object)
    y = frame["conversions"].to_numpy(dtype="float64")
    roi = realised_roi(frame)
    known = np.isfinite(roi)
    out = {
        f"{prefix}spearman": metrics.spearman(y, count_score),
        f"{prefix}ndcg_at_10": metrics.mean_ndcg_at_k(y, ranking_score(count_score), groups,
                                                      TOP_K),
        f"{prefix}ndcg_at_10_roi": metrics.mean_ndcg_at_k(
            roi[known], ranking_score(roi_score[known]), groups[known], TOP_K),
    }
    if "true_roi" in frame.columns and frame["true_roi"].notna().all():
        true_roi = frame["true_roi"].to_numpy(dtype="float64")
        out[f"{prefix}roi_captured_at_10"] = metrics.roi_captured(
            true_roi, ranking_score(roi_score), groups, TOP_K)
        # Campaigns hire 4-25 creators, so a top 10 is often most of the list: the top 3 tells
        # rankings apart better.
        out[f"{prefix}roi_captured_at_3"] = metrics.roi_captured(
            true_roi, ranking_score(roi_score), groups, 3)
    return out


def evaluate_predictions(test: pd.DataFrame, train: pd.DataFrame | None = None,
                         with_baselines: bool = True) -> dict[str, float]:
    """All conversion metrics of the model and (with `train` for the scale) the baselines."""
    y = test["conversions"].to_numpy(dtype="float64")
    mu = test["expected_conversions"].to_numpy(dtype="float64")
    out: dict[str, float] = {
        "n_test_collaborations": float(len(test)),
        "n_test_campaigns": float(test["campaign_id"].nunique()),
        "poisson_deviance": metrics.poisson_deviance(y, mu),
        "mean_conversions": float(np.mean(y)),
        "mean_expected_conversions": float(np.mean(mu)),
        # The level: 1 when the forecasts add up to what happened (noisy on few campaigns).
        "level_ratio": float(np.sum(mu) / np.sum(y)) if np.sum(y) > 0 else float("nan"),
        "conversion_interval_coverage": metrics.interval_coverage(
            y, test["expected_conversions_low"], test["expected_conversions_high"]),
        "conversion_interval_width": metrics.mean_interval_width(
            test["expected_conversions_low"], test["expected_conversions_high"]),
    }
    out["conversion_interval_coverage_worst_quintile"] = _worst_bin_coverage(
        y, mu, test["expected_conversions_low"].to_numpy(dtype="float64"),
        test["expected_conversions_high"].to_numpy(dtype="float64"))
    revenue = test["realised_revenue"].to_numpy(dtype="float64")
    known = np.isfinite(revenue) & test["expected_revenue_low"].notna().to_numpy()
    if known.any():
        out["revenue_interval_coverage"] = metrics.interval_coverage(
            revenue[known], test["expected_revenue_low"].to_numpy()[known],
            test["expected_revenue_high"].to_numpy()[known])
    roi = realised_roi(test)
    roi_known = np.isfinite(roi) & test["predicted_roi_low"].notna().to_numpy()
    if roi_known.any():
        out["roi_interval_coverage"] = metrics.interval_coverage(
            roi[roi_known], test["predicted_roi_low"].to_numpy()[roi_known],
            test["predicted_roi_high"].to_numpy()[roi_known])
    out.update(ranking_metrics(test, mu, test["predicted_roi"].to_numpy(dtype="float64")))
    if "true_expected_conversions" in test.columns:
        # The oracle: the generator's noise-free expectation, the floor no model can beat.
        out["oracle_poisson_deviance"] = metrics.poisson_deviance(
            y, test["true_expected_conversions"])
        out["oracle_ndcg_at_10"] = metrics.mean_ndcg_at_k(
            y, test["true_expected_conversions"].to_numpy(), test["campaign_id"].to_numpy(
                dtype=object), TOP_K)
    if with_baselines:
        out.update(_baseline_metrics(test, train))
    if "roi_captured_at_10" in out and "baseline_followers_roi_captured_at_10" in out:
        out["roi_captured_vs_followers"] = (out["roi_captured_at_10"]
                                            / out["baseline_followers_roi_captured_at_10"])
    return out


def _worst_bin_coverage(y, mu, low, high, n_bins: int = 5) -> float:
    """Lowest coverage over quintiles of the predicted mean (conditional coverage check)."""
    if len(y) < n_bins:
        return float("nan")
    order = np.argsort(mu, kind="stable")
    inside = (y >= low) & (y <= high)
    return float(min(np.mean(inside[part]) for part in np.array_split(order, n_bins)))


def _baseline_metrics(test: pd.DataFrame, train: pd.DataFrame | None) -> dict[str, float]:
    out = {}
    test_scores = baseline_scores(test)
    train_scores = baseline_scores(train) if train is not None else None
    y = test["conversions"].to_numpy(dtype="float64")
    for name, (count_score, roi_score) in test_scores.items():
        out.update(ranking_metrics(test, count_score, roi_score, prefix=f"baseline_{name}_"))
        if train_scores is not None:
            train_score = train_scores[name][0]
            usable = np.isfinite(train_score)
            total = float(np.sum(train_score[usable]))
            if total > 0:
                train_y = train["conversions"].to_numpy(dtype="float64")
                scale = float(np.sum(train_y[usable])) / total
                fill = float(np.nanmedian(train_score)) * scale
                mu = np.where(np.isfinite(count_score), count_score * scale, fill)
                out[f"baseline_{name}_poisson_deviance"] = metrics.poisson_deviance(y, mu)
    return out


def risk_metrics(labels: pd.DataFrame, predictions: pd.DataFrame) -> dict[str, float]:
    """Risk-model metrics on held-out audited creators.

    labels: authenticity_labels rows (creator_id, fake_follower_share, bought_followers);
    predictions: FakeFollowerRiskModel.predict output indexed by creator_id.
    """
    joined = labels.set_index("creator_id").join(predictions, how="inner")
    out: dict[str, float] = {"risk_n_test_creators": float(len(joined))}
    bought = joined[joined["bought_followers"].notna() & joined["fake_follower_risk"].notna()]
    if len(bought):
        y = bought["bought_followers"].astype("float64").to_numpy()
        p = bought["fake_follower_risk"].to_numpy(dtype="float64")
        out["risk_auc"] = metrics.roc_auc(y, p)
        out["risk_brier"] = metrics.brier_score(y, p)
        out["risk_ece"] = metrics.expected_calibration_error(y, p)
        out["risk_bought_rate"] = float(np.mean(y))
    share = joined[joined["fake_follower_share"].notna() & joined["fake_share"].notna()]
    if len(share):
        y = share["fake_follower_share"].to_numpy(dtype="float64")
        out["fake_share_mae"] = metrics.mean_absolute_error(y, share["fake_share"])
        out["fake_share_interval_coverage"] = metrics.interval_coverage(
            y, share["fake_share_low"], share["fake_share_high"])
        out["fake_share_interval_width"] = metrics.mean_interval_width(
            share["fake_share_low"], share["fake_share_high"])
        sample = share[share["fake_share_sample"].notna()]
        if len(sample):
            y_sample = sample["fake_follower_share"].to_numpy(dtype="float64")
            out["fake_share_mae_with_sample"] = metrics.mean_absolute_error(
                y_sample, sample["fake_share"])
            out["fake_share_sample_only_mae"] = metrics.mean_absolute_error(
                y_sample, sample["fake_share_sample"])
            out["fake_share_sample_only_coverage"] = metrics.interval_coverage(
                y_sample, sample["fake_share_sample_low"], sample["fake_share_sample_high"])
    return out
