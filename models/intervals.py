"""Split-conformal prediction intervals.

A model is fitted on a training slice; its predictions on a separate calibration slice give
signed, scaled residuals r = (y - pred) / scale(pred). The interval for a new prediction is
[pred + q_low * scale(pred), pred + q_high * scale(pred)], where q_low and q_high are the
finite-sample-corrected alpha/2 and 1 - alpha/2 empirical quantiles of r. When the calibration
and test observations are exchangeable, each one-sided miss rate is at most alpha/2, so the
coverage is at least 1 - alpha (Lei et al. 2018, "Distribution-free predictive inference").

Scales:
- "poisson": sqrt(pred) (Pearson residual), so the width grows like a Poisson count's standard
  deviation.
- "negative_binomial": sqrt(pred + phi * pred^2), the standard deviation of an over-dispersed
  count; phi >= 0 is estimated by moments on the calibration slice,
  phi = max(0, sum((y - pred)^2 - pred) / sum(pred^2)). Used for conversions: attributed
  conversions vary far more than Poisson for large creators, and a sqrt(pred) scale leaves the
  largest predictions under-covered while over-covering the small ones. (Estimating this one
  parameter on the calibration slice is a slight departure from split-conformal's assumptions;
  the coverage by predicted-mean bin is measured and plotted with every run.)
- "binomial": sqrt(pred * (1 - pred)), for shares in [0, 1] (fake-follower share).
- "constant": 1 (plain residuals).

Mondrian bins (`n_bins` > 1): the calibration predictions are cut into `n_bins` groups of
equal size by their predicted value and each group gets its own q_low / q_high, so coverage
holds in every predicted-size bin, not only on average (Vovk et al. 2005, "Algorithmic
Learning in a Random World", conditional conformal). A new prediction takes the quantiles of
the bin its value falls in (the outer bins extend to +-infinity).

Campaigns are split in time, so later campaigns are not strictly exchangeable with the
calibration slice: the coverage actually reached on the later test campaigns is measured and
logged with every training run rather than assumed.
"""
from __future__ import annotations

import math

import numpy as np

from features.arrays import clip

SCALES = ("poisson", "negative_binomial", "binomial", "constant")
# Keeps the scale away from zero, so a prediction of exactly 0 still gets an interval.
_SCALE_FLOOR = {"poisson": 0.25, "negative_binomial": 0.25, "binomial": 0.02, "constant": 1.0}


def negative_binomial_dispersion(y: np.ndarray, pred: np.ndarray) -> float:
    """Moment estimate of phi in Var(y) = pred + phi * pred^2 (0 when not over-dispersed)."""
    mu = np.maximum(pred, 0.0)
    denominator = float(np.sum(mu * mu))
    if denominator <= 0:
        return 0.0
    return max(0.0, float(np.sum((y - mu) ** 2 - mu)) / denominator)


def _scale(pred: np.ndarray, kind: str, dispersion: float = 0.0) -> np.ndarray:
    if kind == "poisson":
        s = np.sqrt(np.maximum(pred, 0.0))
    elif kind == "negative_binomial":
        mu = np.maximum(pred, 0.0)
        s = np.sqrt(mu + dispersion * mu * mu)
    elif kind == "binomial":
        p = clip(pred, 0.0, 1.0)
        s = np.sqrt(p * (1.0 - p))
    elif kind == "constant":
        return np.ones_like(pred)
    else:
        raise ValueError(f"unknown interval scale {kind!r}; expected one of {SCALES}")
    return np.maximum(s, _SCALE_FLOOR[kind])


def conformal_quantile(scores: np.ndarray, level: float, upper: bool) -> float:
    """The finite-sample conformal quantile of calibration `scores` at `level`.

    Upper: the ceil((n + 1) * level)-th smallest score (+inf when that exceeds n).
    Lower: the floor((n + 1) * level)-th smallest score (-inf when that is 0).
    """
    sorted_scores = np.sort(np.asarray(scores, dtype="float64"))
    n = len(sorted_scores)
    if upper:
        rank = math.ceil((n + 1) * level)
        return float(sorted_scores[rank - 1]) if rank <= n else math.inf
    rank = math.floor((n + 1) * level)
    return float(sorted_scores[rank - 1]) if rank >= 1 else -math.inf


class SplitConformalInterval:
    """Split-conformal interval around point predictions, with scaled signed residuals.

    Parameters
    ----------
    alpha : nominal miss rate (0.1 gives 90% intervals).
    scale : "poisson", "negative_binomial", "binomial" or "constant" (see module docstring).
    lower_bound, upper_bound : the interval is clipped to these (e.g. 0 for counts, [0, 1] for
        shares).
    n_bins : Mondrian bins of the prediction (1: one pair of quantiles for everything).
    """

    def __init__(self, alpha: float = 0.1, scale: str = "poisson",
                 lower_bound: float | None = 0.0, upper_bound: float | None = None,
                 n_bins: int = 1):
        self.alpha = alpha
        self.scale = scale
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.n_bins = n_bins

    def fit(self, y_true, y_pred) -> SplitConformalInterval:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        y = np.asarray(y_true, dtype="float64")
        pred = np.asarray(y_pred, dtype="float64")
        if y.shape != pred.shape or y.ndim != 1:
            raise ValueError("y_true and y_pred must be 1-d arrays of the same length")
        if len(y) == 0 or np.isnan(y).any() or np.isnan(pred).any():
            raise ValueError("conformal calibration needs a non-empty slice without missing values")
        self.dispersion_ = (negative_binomial_dispersion(y, pred)
                            if self.scale == "negative_binomial" else 0.0)
        if self.n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {self.n_bins}")
        residuals = (y - pred) / _scale(pred, self.scale, self.dispersion_)
        self.q_low_ = conformal_quantile(residuals, self.alpha / 2, upper=False)
        self.q_high_ = conformal_quantile(residuals, 1 - self.alpha / 2, upper=True)
        # Inner edges between the Mondrian bins (none with one bin).
        self.bin_edges_ = np.quantile(pred, np.linspace(0, 1, self.n_bins + 1)[1:-1])
        bins = self._bin(pred)
        self.bin_q_low_ = np.array([conformal_quantile(residuals[bins == b], self.alpha / 2,
                                                       upper=False)
                                    for b in range(self.n_bins)])
        self.bin_q_high_ = np.array([conformal_quantile(residuals[bins == b],
                                                        1 - self.alpha / 2, upper=True)
                                     for b in range(self.n_bins)])
        self.n_calibration_ = len(y)
        return self

    def _bin(self, pred: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bin_edges_, pred, side="right")

    def predict_interval(self, y_pred) -> tuple[np.ndarray, np.ndarray]:
        pred = np.asarray(y_pred, dtype="float64")
        s = _scale(pred, self.scale, self.dispersion_)
        if getattr(self, "bin_edges_", None) is not None and len(self.bin_edges_):
            bins = self._bin(pred)
            q_low, q_high = self.bin_q_low_[bins], self.bin_q_high_[bins]
        else:
            q_low, q_high = self.q_low_, self.q_high_
        low = pred + q_low * s
        high = pred + q_high * s
        if self.lower_bound is not None:
            low = np.maximum(low, self.lower_bound)
            high = np.maximum(high, self.lower_bound)
        if self.upper_bound is not None:
            low = np.minimum(low, self.upper_bound)
            high = np.minimum(high, self.upper_bound)
        return low, high
