"""Peer benchmarks: where a creator's headline metrics sit within its platform x tier cohort.

The reference distributions are the training creators' values (fitted once, stored with the
pipeline), so a score means the same thing in training and in service.
"""
from __future__ import annotations

import numpy as np

from data.domain import TIERS
from features.authenticity import ANOMALY_Z, MAD_TO_SIGMA

# Headline metrics benchmarked against the cohort; each gets `<metric>_cohort_percentile`.
BENCHMARKED_METRICS = (
    "engagement_rate_median",
    "engagement_rate_by_views_median",
    "views_per_follower_median",
)
# A robust z-score of log(likes per comment) is computed against the cohort as well.
LIKES_PER_COMMENT = "likes_per_comment"


def cohort_codes(platform_code: np.ndarray, tier_code: np.ndarray) -> np.ndarray:
    """One integer per platform x tier cohort; -1 when either is unknown."""
    platform_code = np.asarray(platform_code)
    tier_code = np.asarray(tier_code)
    known = (platform_code >= 0) & (tier_code >= 0)
    return np.where(known, platform_code * len(TIERS) + tier_code, -1).astype("int64")


class CohortReference:
    """Sorted reference values of each metric per cohort, fitted on training creators."""

    def fit(self, metrics: dict[str, np.ndarray], cohort: np.ndarray) -> CohortReference:
        self.sorted_values_: dict[str, dict[int, np.ndarray]] = {}
        self.cohort_size_: dict[int, int] = {}
        self.cohort_median_: dict[str, dict[int, float]] = {}
        for code in np.unique(cohort[cohort >= 0]):
            self.cohort_size_[int(code)] = int(np.sum(cohort == code))
        for name in (*BENCHMARKED_METRICS, LIKES_PER_COMMENT):
            values = np.asarray(metrics[name], dtype="float64")
            self.sorted_values_[name] = {}
            self.cohort_median_[name] = {}
            for code in self.cohort_size_:
                in_cohort = values[(cohort == code) & np.isfinite(values)]
                self.sorted_values_[name][code] = np.sort(in_cohort)
                self.cohort_median_[name][code] = (float(np.median(in_cohort)) if len(in_cohort)
                                                   else np.nan)
        lpc = np.log(np.where(metrics[LIKES_PER_COMMENT] > 0, metrics[LIKES_PER_COMMENT], np.nan))
        self.log_likes_per_comment_center_: dict[int, tuple[float, float]] = {}
        for code in self.cohort_size_:
            values = lpc[(cohort == code) & np.isfinite(lpc)]
            if len(values) >= 3:
                median = float(np.median(values))
                scale = MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
                self.log_likes_per_comment_center_[code] = (median, max(scale, 0.05))
        return self

    def transform(self, metrics: dict[str, np.ndarray], cohort: np.ndarray
                  ) -> dict[str, np.ndarray]:
        n = len(cohort)
        out: dict[str, np.ndarray] = {}
        # The cohorts present (one when scoring one creator), not every fitted one.
        present = np.unique(cohort[cohort >= 0]).tolist()
        size = np.zeros(n)
        for code in present:
            if code in self.cohort_size_:
                size[cohort == code] = self.cohort_size_[code]
        out["cohort_size"] = size
        for name in BENCHMARKED_METRICS:
            values = np.asarray(metrics[name], dtype="float64")
            percentile = np.full(n, np.nan)
            median = np.full(n, np.nan)
            for code in present:
                reference = self.sorted_values_[name].get(code)
                if reference is None or len(reference) == 0:
                    continue
                rows = np.flatnonzero(cohort == code)
                x = values[rows]
                below = np.searchsorted(reference, x, side="left")
                not_above = np.searchsorted(reference, x, side="right")
                percentile[rows] = np.where(
                    np.isnan(x), np.nan, 100.0 * (below + 0.5 * (not_above - below))
                    / len(reference))
                median[rows] = self.cohort_median_[name][code]
            out[f"{name}_cohort_percentile"] = percentile
            if name == "engagement_rate_median":
                with np.errstate(divide="ignore", invalid="ignore"):
                    out["engagement_rate_vs_cohort_median"] = np.where(
                        median > 0, values / median, np.nan)
        lpc = np.asarray(metrics[LIKES_PER_COMMENT], dtype="float64")
        z = np.full(n, np.nan)
        for code in present:
            if code not in self.log_likes_per_comment_center_:
                continue
            center, scale = self.log_likes_per_comment_center_[code]
            rows = np.flatnonzero((cohort == code) & (lpc > 0))
            z[rows] = (np.log(lpc[rows]) - center) / scale
        out["likes_per_comment_cohort_robust_z"] = z
        out["likes_per_comment_out_of_range"] = np.where(np.isnan(z), np.nan,
                                                         (np.abs(z) > ANOMALY_Z).astype("float64"))
        return out
