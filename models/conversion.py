"""Conversion model: expected conversions of a (campaign, creator) collaboration, with interval.

Objective: LightGBM Poisson (default) or Tweedie on the collaboration's attributed conversions,
with exposure as an offset. The exposure is a pre-campaign estimate of the real audience the
collaboration can reach (the feature named in `exposure_feature`; the ScoringBundle uses the
estimated real followers as of the campaign start). The model is trained with
init_score = log(max(exposure, 1)) + base_log_rate_, where base_log_rate_ =
log(sum of training conversions / sum of training exposures) is the pooled conversion rate per
unit of exposure; the trees then learn multiplicative corrections to "conversions proportional
to exposure" (starting from the pooled rate matters: LightGBM caps each Poisson leaf step, so
trees starting from 0 would need hundreds of rounds just to reach a rate of 1e-5). The
prediction is exp(raw score + offset); LightGBM does not store init scores, so `predict` adds
the offset back itself. Missing exposures are filled with the median exposure seen in training
(`exposure_fill_`).

Monotone constraints apply where the domain is unambiguous (set by the caller per feature
name: +1 the prediction can only rise with the feature, -1 only fall).

Intervals: split-conformal (models.intervals, residuals scaled by a negative-binomial standard
deviation) on a calibration slice that the model did not train on; coverage on later campaigns
is measured by the training job.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.intervals import SplitConformalInterval
from models.matrix import FeatureMatrix, as_float_frame

DEFAULT_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 127,
}


class ConversionModel:
    """LightGBM count model with an exposure offset and split-conformal intervals.

    Parameters
    ----------
    objective : "poisson" or "tweedie".
    exposure_feature : column holding the pre-campaign exposure (None: no offset).
    monotone : {feature name: +1 / -1} monotone constraints.
    n_estimators, params : boosting rounds and LightGBM parameters (merged over DEFAULT_PARAMS).
    alpha : nominal miss rate of the intervals (0.1 = 90% intervals).
    tweedie_variance_power : used with objective "tweedie".
    interval_scale : residual scale of the conformal interval (models.intervals.SCALES).
    seed, num_threads : determinism and CPU use (num_threads 0 = LightGBM default).
    """

    def __init__(self, objective: str = "poisson", exposure_feature: str | None = None,
                 monotone: dict[str, int] | None = None, n_estimators: int = 300,
                 params: dict | None = None, alpha: float = 0.1,
                 tweedie_variance_power: float = 1.3, interval_scale: str = "negative_binomial",
                 seed: int = 0, num_threads: int = 0):
        self.objective = objective
        self.exposure_feature = exposure_feature
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.params = params
        self.alpha = alpha
        self.tweedie_variance_power = tweedie_variance_power
        self.interval_scale = interval_scale
        self.seed = seed
        self.num_threads = num_threads

    def _lgb_params(self, columns: list[str]) -> dict:
        if self.objective not in ("poisson", "tweedie"):
            raise ValueError(f"objective must be 'poisson' or 'tweedie', got {self.objective!r}")
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        params.update(objective=self.objective, seed=self.seed, deterministic=True,
                      force_col_wise=True, num_threads=self.num_threads, verbosity=-1)
        if self.objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        if self.monotone:
            unknown = sorted(set(self.monotone) - set(columns))
            if unknown:
                raise ValueError(f"monotone constraints name unknown features: {unknown}")
            params["monotone_constraints"] = [int(self.monotone.get(c, 0)) for c in columns]
            params["monotone_constraints_method"] = "intermediate"
        return params

    def log_exposure(self, X) -> np.ndarray:
        """log(max(exposure, 1)) per row (0 without an exposure feature)."""
        if self.exposure_feature is None:
            return np.zeros(len(X))
        exposure = FeatureMatrix.of(X).column(self.exposure_feature)
        fill = getattr(self, "exposure_fill_", np.nan)
        exposure = np.where(np.isnan(exposure), fill, exposure)
        return np.log(np.maximum(np.nan_to_num(exposure, nan=1.0), 1.0))

    def offset(self, X) -> np.ndarray:
        """The init score: log exposure + pooled log rate (see module docstring)."""
        return self.log_exposure(X) + self.base_log_rate_

    def fit(self, X: pd.DataFrame, y, X_calibration: pd.DataFrame | None = None,
            y_calibration=None) -> ConversionModel:
        """Fit on (X, y); calibrate the intervals on (X_calibration, y_calibration) if given."""
        y = np.asarray(y, dtype="float64")
        if np.isnan(y).any() or (y < 0).any():
            raise ValueError("conversions must be non-negative and present for every training row")
        X = as_float_frame(X)
        self.feature_names_ = list(X.columns)
        if self.exposure_feature is not None:
            if self.exposure_feature not in X.columns:
                raise ValueError(f"exposure feature {self.exposure_feature!r} not in the frame")
            self.exposure_fill_ = float(np.nanmedian(X[self.exposure_feature]))
        log_exposure = self.log_exposure(X)
        # The typical training exposure: explanations express a creator's exposure against it.
        self.log_exposure_reference_ = float(np.mean(log_exposure))
        total = max(float(y.sum()), 0.5)  # all-zero labels still give a finite rate
        self.base_log_rate_ = float(np.log(total / np.exp(log_exposure).sum()))
        train_set = lgb.Dataset(X, label=y, init_score=log_exposure + self.base_log_rate_,
                                free_raw_data=True)
        self.booster_ = lgb.train(self._lgb_params(self.feature_names_), train_set,
                                  num_boost_round=self.n_estimators)
        self.interval_ = None
        if X_calibration is not None:
            self.calibrate(X_calibration, y_calibration)
        return self

    def calibrate(self, X: pd.DataFrame, y) -> ConversionModel:
        """(Re)fit the conformal interval on a slice the booster did not train on."""
        self.interval_ = SplitConformalInterval(alpha=self.alpha, scale=self.interval_scale,
                                                lower_bound=0.0).fit(y, self.predict(X))
        return self

    def predict_raw(self, X, num_threads: int | None = None) -> np.ndarray:
        """log of the expected conversions (raw trees + exposure offset); X is a DataFrame or
        a FeatureMatrix."""
        matrix = FeatureMatrix.of(X)
        threads = self.num_threads if num_threads is None else num_threads
        raw = self.booster_.predict(matrix.select(self.feature_names_), raw_score=True,
                                    num_threads=threads)
        return raw + self.offset(matrix)

    def predict(self, X, num_threads: int | None = None) -> np.ndarray:
        """Expected conversions."""
        return np.exp(self.predict_raw(X, num_threads))

    def predict_interval(self, X, num_threads: int | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expected, low, high) conversions; needs a calibrated model."""
        if getattr(self, "interval_", None) is None:
            raise RuntimeError("ConversionModel has no calibrated interval: call calibrate()")
        mean = self.predict(X, num_threads)
        low, high = self.interval_.predict_interval(mean)
        return mean, low, high

    def feature_importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_).sort_values(ascending=False)
