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

Campaigns are split in time, so later campaigns are not strictly exchangeable with the
calibration slice: the coverage actually reached on the later test campaigns is measured and
logged with every training run rather than assumed.
"""
from __future__ import annotations

import math

import numpy as np

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
        p = np.clip(pred, 0.0, 1.0)
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
    """

    def __init__(self, alpha: float = 0.1, scale: str = "poisson",
                 lower_bound: float | None = 0.0, upper_bound: float | None = None):
        self.alpha = alpha
        self.scale = scale
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

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
        residuals = (y - pred) / _scale(pred, self.scale, self.dispersion_)
        self.q_low_ = conformal_quantile(residuals, self.alpha / 2, upper=False)
        self.q_high_ = conformal_quantile(residuals, 1 - self.alpha / 2, upper=True)
        self.n_calibration_ = len(y)
        return self

    def predict_interval(self, y_pred) -> tuple[np.ndarray, np.ndarray]:
        pred = np.asarray(y_pred, dtype="float64")
        s = _scale(pred, self.scale, self.dispersion_)
        low = pred + self.q_low_ * s
        high = pred + self.q_high_ * s
        if self.lower_bound is not None:
            low = np.maximum(low, self.lower_bound)
            high = np.maximum(high, self.lower_bound)
        if self.upper_bound is not None:
            low = np.minimum(low, self.upper_bound)
            high = np.minimum(high, self.upper_bound)
        return low, high
