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

Optional log-linear part (`glm_features`): a Poisson GLM of the rate per unit of exposure on a
few documented transforms of well-understood features (log sizes, shares, flags, one-hot
codes), fitted first; its linear predictor joins the offset and the trees learn what it misses.
Trees are constant outside the range they saw, so where a new world's creators or campaigns
fall outside the training range (larger creators, other prices) the log-linear trend
extrapolates instead of a flat leaf.

Level calibration (`calibrate_level`): the calibration campaigns come after the training ones,
so the ratio of their realised to their predicted conversions (sum over sum) corrects a drift
of the level; the correction multiplies every prediction and the intervals are calibrated on
the corrected predictions.

Intervals: split-conformal (models.intervals, residuals scaled by a negative-binomial standard
deviation) on a calibration slice that the model did not train on; coverage on later campaigns
is measured by the training job.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import PoissonRegressor

from models.explain import contributions as tree_contributions
from models.intervals import SplitConformalInterval
from models.matrix import FeatureMatrix, as_float_frame

GLM_TRANSFORMS = ("log", "linear", "onehot")
# The log-linear part's inputs: sizes on the log scale (a conversion rate scales as a power of
# reach), fit and market shares and flags as they are, codes one-hot. Named after the
# collaboration features (features.FEATURES) and the bundle's derived columns.
DEFAULT_GLM_FEATURES = {
    "estimated_real_followers": "log",
    "views_per_follower_median": "log",
    "engagement_rate_median": "log",
    "campaign_niche_share": "linear",
    "campaign_niche_is_top": "linear",
    "brief_similarity": "linear",
    "country_match": "linear",
    "log_product_price": "linear",
    "repeat_partnerships": "linear",
    "predicted_fake_share": "linear",
    "compensation_code": "onehot",
    "tier_code": "onehot",
    "platform_code": "onehot",
}

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


class LogLinearRate:
    """Poisson GLM of conversions per unit of exposure on transformed features.

    Parameters
    ----------
    features : {feature name: "log" (log(max(x, floor)) with floor the training 1st
        percentile of the positive values), "linear", or "onehot" (integer codes seen in
        training; others fall to the reference)}. Missing values take the training median
        ("onehot": the reference) and add a missing flag when training had any.
    alpha : L2 penalty of the standardised coefficients.
    """

    def __init__(self, features: dict[str, str], alpha: float = 1e-3):
        self.features = features
        self.alpha = alpha

    def _raw_design(self, matrix: FeatureMatrix) -> tuple[np.ndarray, list[str]]:
        """(transformed columns before standardising, the feature each column belongs to)."""
        columns, owners = [], []
        for name, kind in self.features.items():
            x = matrix.column(name)
            missing = np.isnan(x)
            if kind == "onehot":
                columns += [(x == code).astype("float64") for code in self.codes_[name]]
                owners += [name] * len(self.codes_[name])
            else:
                filled = np.where(missing, self.fill_[name], x)
                if kind == "log":
                    filled = np.log(np.maximum(filled, self.floor_[name]))
                columns.append(filled)
                owners.append(name)
            if self.missing_flag_[name]:
                columns.append(missing.astype("float64"))
                owners.append(name)
        design = np.column_stack(columns) if columns else np.zeros((len(matrix), 0))
        return design, owners

    def _design(self, matrix: FeatureMatrix) -> np.ndarray:
        return (self._raw_design(matrix)[0] - self.mean_) / self.scale_

    def fit(self, X, y, log_exposure: np.ndarray) -> LogLinearRate:
        unknown = [n for n, k in self.features.items() if k not in GLM_TRANSFORMS]
        if unknown:
            raise ValueError(f"glm_features: transforms must be one of {GLM_TRANSFORMS}; "
                             f"bad for {unknown}")
        matrix = FeatureMatrix.of(X)
        absent = [n for n in self.features if n not in matrix]
        if absent:
            raise ValueError(f"glm_features name columns the frame lacks: {absent}")
        self.fill_, self.floor_, self.codes_, self.missing_flag_ = {}, {}, {}, {}
        for name, kind in self.features.items():
            x = matrix.column(name)
            known = x[~np.isnan(x)]
            self.missing_flag_[name] = bool(np.isnan(x).any())
            if kind == "onehot":
                self.codes_[name] = np.unique(known)[1:]  # the first code is the reference
                continue
            self.fill_[name] = float(np.median(known)) if len(known) else 0.0
            positive = known[known > 0]
            self.floor_[name] = float(np.quantile(positive, 0.01)) if len(positive) else 1.0
        raw, self.column_features_ = self._raw_design(matrix)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = np.where(raw.std(axis=0) > 0, raw.std(axis=0), 1.0)
        design = (raw - self.mean_) / self.scale_
        # Poisson with an offset = Poisson on the rate y / exposure weighted by exposure; the
        # rate is expressed against the pooled rate so the solver works near 1.
        exposure = np.exp(log_exposure)
        pooled = max(float(np.sum(y)), 0.5) / float(np.sum(exposure))
        weight = exposure * pooled
        self.glm_ = PoissonRegressor(alpha=self.alpha, max_iter=1000).fit(
            design, np.asarray(y, dtype="float64") / weight, sample_weight=weight)
        self.log_pooled_rate_ = float(np.log(pooled))
        return self

    def log_rate(self, X) -> np.ndarray:
        """log conversions per unit of exposure."""
        design = self._design(FeatureMatrix.of(X))
        return design @ self.glm_.coef_ + self.glm_.intercept_ + self.log_pooled_rate_

    def log_contributions(self, X) -> dict[str, np.ndarray]:
        """Per feature, its term of the log rate against the average training row (the terms
        add up to log_rate minus the intercept and pooled rate)."""
        terms = self._design(FeatureMatrix.of(X)) * self.glm_.coef_
        out = {name: np.zeros(len(terms)) for name in self.features}
        for j, name in enumerate(self.column_features_):
            out[name] = out[name] + terms[:, j]
        return out


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
    glm_features : {feature: transform} of the log-linear part (None: none; LogLinearRate).
    calibrate_level : correct the level on the calibration slice (module docstring).
    interval_bins : conformal quantiles per this many bins of the prediction (Mondrian;
        models.intervals).
    seed, num_threads : determinism and CPU use (num_threads 0 = LightGBM default).
    """

    def __init__(self, objective: str = "poisson", exposure_feature: str | None = None,
                 monotone: dict[str, int] | None = None, n_estimators: int = 300,
                 params: dict | None = None, alpha: float = 0.1,
                 tweedie_variance_power: float = 1.3, interval_scale: str = "negative_binomial",
                 glm_features: dict[str, str] | None = None, calibrate_level: bool = False,
                 interval_bins: int = 1, seed: int = 0, num_threads: int = 0):
        self.objective = objective
        self.exposure_feature = exposure_feature
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.params = params
        self.alpha = alpha
        self.tweedie_variance_power = tweedie_variance_power
        self.interval_scale = interval_scale
        self.glm_features = glm_features
        self.calibrate_level = calibrate_level
        self.interval_bins = interval_bins
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
        """The init score: log exposure + pooled log rate, or + the log-linear part's log rate
        when there is one (see module docstring)."""
        if getattr(self, "glm_", None) is not None:
            return self.log_exposure(X) + self.glm_.log_rate(X)
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
        self.glm_ = (LogLinearRate(self.glm_features).fit(X, y, log_exposure)
                     if self.glm_features else None)
        self.level_log_factor_ = 0.0
        train_set = lgb.Dataset(X, label=y, init_score=self.offset(X), free_raw_data=True)
        self.booster_ = lgb.train(self._lgb_params(self.feature_names_), train_set,
                                  num_boost_round=self.n_estimators)
        self.interval_ = None
        if X_calibration is not None:
            self.calibrate(X_calibration, y_calibration)
        return self

    def calibrate(self, X: pd.DataFrame, y) -> ConversionModel:
        """(Re)fit the level correction (if asked) and the conformal interval on a slice the
        booster did not train on."""
        y = np.asarray(y, dtype="float64")
        self.level_log_factor_ = 0.0
        if self.calibrate_level:
            predicted = float(np.sum(self.predict(X)))
            if predicted > 0 and y.sum() > 0:
                self.level_log_factor_ = float(np.log(y.sum() / predicted))
        self.interval_ = SplitConformalInterval(alpha=self.alpha, scale=self.interval_scale,
                                                lower_bound=0.0, n_bins=self.interval_bins
                                                ).fit(y, self.predict(X))
        return self

    def predict_raw(self, X, num_threads: int | None = None) -> np.ndarray:
        """log of the expected conversions (raw trees + exposure offset); X is a DataFrame or
        a FeatureMatrix."""
        matrix = FeatureMatrix.of(X)
        threads = self.num_threads if num_threads is None else num_threads
        raw = self.booster_.predict(matrix.select(self.feature_names_), raw_score=True,
                                    num_threads=threads)
        return raw + self.offset(matrix) + getattr(self, "level_log_factor_", 0.0)

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

    def contributions(self, X, num_threads: int | None = None) -> np.ndarray:
        """(n, p + 1) log-scale contributions per feature (last column: the rest of the raw
        score without the exposure): exact TreeSHAP of the trees plus, with a log-linear part,
        each feature's term of it, so exp(sum) = prediction / exposure."""
        matrix = FeatureMatrix.of(X)
        threads = self.num_threads if num_threads is None else num_threads
        contrib = tree_contributions(self.booster_, matrix.select(self.feature_names_), threads)
        glm = getattr(self, "glm_", None)
        base = self.base_log_rate_
        if glm is not None:
            for name, term in glm.log_contributions(matrix).items():
                contrib[:, self.feature_names_.index(name)] += term
            base = glm.glm_.intercept_ + glm.log_pooled_rate_
        contrib[:, -1] += base + getattr(self, "level_log_factor_", 0.0)
        return contrib

    def feature_importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_).sort_values(ascending=False)
