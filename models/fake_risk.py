"""Creator fake-follower risk: bought followers, fake share with an interval, the separate risk
components with their evidence, and an audience quality score.

Trained on `authenticity_labels` (audited creators) joined with creator features
(`FeaturePipeline.transform_creators`, all float64, index creator_id).

Outputs per creator (`FakeFollowerRiskModel.predict`):

- fake_follower_risk: P(the creator bought followers), LightGBM binary on creator features,
  trained on the audits' `bought_followers`.
- fake_share, fake_share_low, fake_share_high: estimated share of fake followers, LightGBM with
  the cross-entropy objective on the audited `fake_follower_share`, with a split-conformal
  interval (binomial-scaled residuals, nominal 1 - alpha). The audience-sample estimate
  (`audience_fake_share`: flagged rate of the sampled followers corrected for the follower
  classifier's sensitivity and specificity) is one of the model's inputs; in addition, for
  creators with a sample, the final share is w * sample estimate + (1 - w) * model output, w
  chosen on the calibration audits (`sample_weight_`: trees shrink a precise estimate towards
  the mean). The conformal interval is calibrated separately for creators with and without
  an audience sample (Mondrian conformal), so it is narrower when a sample backs the estimate.
  `fake_share_sample`, `fake_share_sample_low/high` repeat the sample-only estimate for checking.
  When the sample fails the domain check (`audience_domain_drift` > DRIFT_TOLERANCE: the sampled
  followers look like no mix of the labelled real and fake accounts) the interval is widened to
  include the sample's own, which then spans every quantification method.
- Components, each a score in [0, 1] with the evidence it rests on, so a verdict can be checked
  and disputed (genuine viral growth also produces a growth step, but engagement follows it):
  * bought_followers_risk = fake_follower_risk; evidence: largest growth step (relative size,
    days before the as-of date) and the engagement ratio after / before it
    (`largest_step_engagement_ratio`; below ~1 after a big step = engagement did not follow).
  * mass_follower_share: share of sampled followers that are mass followers (real accounts
    following > 1,500 others, unlikely to see a post); NaN without a sample.
  * engagement_pod_score: mean over the comment signals generic share, duplicate share and
    top-10 commenter share of clip((x - m) / (1 - m), 0, 1), where m is the signal's median
    over the training creators: 0 = typical comments, 1 = every comment generic / duplicated /
    from the same ten accounts. NaN without comments.
  * growth_anomaly_score: clip((z - 3.5) / 10.5, 0, 1) with z the largest robust z-score of
    period follower growth (3.5 = Iglewicz-Hoaglin outlier cut-off; 1 at z >= 14).
- audience_quality, 0-100:

      audience_quality = 100 * (1 - fake_share)
                             * (1 - 0.5 * mass_follower_share)
                             * (1 - 0.3 * engagement_pod_score)

  (1 - fake_share) is the vendors' "credibility"; mass followers are real but see few posts,
  so they count half; engagement pods inflate engagement without reaching customers, so a
  creator whose comments are entirely pod-like loses 30%. A missing mass-follower share is
  replaced by the training creators' median, a missing pod score by 0 (no evidence).
- verdict: "unknown" when neither a share nor a risk can be estimated, "avoid" when
  credibility (1 - fake_share) < 0.75 (the common avoid line) or fake_follower_risk >= 0.5,
  "check" when fake_share_high reaches 0.25 or the risk is >= 0.2, else "ok".
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from data.domain import CREDIBILITY_AVOID_LINE
from features.arrays import clip, fill_nan
from models.intervals import SplitConformalInterval
from models.matrix import FeatureMatrix, as_float_frame
from models.quantification import DRIFT_TOLERANCE

RISK_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 127,
}
# Feature names produced by features.FeaturePipeline (see features.FEATURES).
SAMPLE_SHARE = "audience_fake_share"
SAMPLE_SHARE_LOW = "audience_fake_share_low"
SAMPLE_SHARE_HIGH = "audience_fake_share_high"
SAMPLE_DRIFT = "audience_domain_drift"
HAS_SAMPLE = "has_audience_sample"
MASS_FOLLOWER_SHARE = "audience_share_mass_follower"
POD_SIGNALS = ("comment_generic_share", "comment_duplicate_share", "commenter_top10_share")
GROWTH_Z = "follower_growth_max_robust_z"
GROWTH_ANOMALY_Z = 3.5
GROWTH_ANOMALY_FULL_Z = 14.0
EVIDENCE = {
    "growth_step_relative_size": "largest_step_relative_growth",
    "growth_step_days_before": "largest_step_days_before_as_of",
    "growth_step_engagement_ratio": "largest_step_engagement_ratio",
    "growth_anomalies": "follower_growth_anomalies",
    "comment_generic_share": "comment_generic_share",
    "comment_duplicate_share": "comment_duplicate_share",
    "commenter_top10_share": "commenter_top10_share",
    "audience_sample_size": "audience_sample_size",
}
COMPONENTS = ("bought_followers_risk", "mass_follower_share", "engagement_pod_score",
              "growth_anomaly_score")
# The verdict's lines (module docstring): bought-followers probability and fake-share bound.
AVOID_RISK = 0.5
CHECK_RISK = 0.2
CHECK_SHARE_HIGH = 0.25
MASS_FOLLOWER_WEIGHT = 0.5
POD_WEIGHT = 0.3
MIN_LABELS = 20  # fewer labelled creators (or a single class) -> that sub-model is not fitted
MIN_GROUP_CALIBRATION = 30  # smaller Mondrian groups fall back to the pooled interval


def _column(X: pd.DataFrame, name: str) -> np.ndarray:
    if name in X.columns:
        return X[name].to_numpy(dtype="float64")
    return np.full(len(X), np.nan)


class FakeFollowerRiskModel:
    """Bought-followers classifier + fake-share regressor + rule-based components.

    Parameters
    ----------
    n_estimators, params : boosting rounds and LightGBM parameters (over RISK_PARAMS).
    alpha : nominal miss rate of the fake-share interval (0.1 = 90%).
    calibration_fraction : share of the audited creators held out to calibrate the interval.
    seed, num_threads : determinism and CPU use.
    """

    def __init__(self, n_estimators: int = 200, params: dict | None = None, alpha: float = 0.1,
                 calibration_fraction: float = 0.25, seed: int = 0, num_threads: int = 0):
        self.n_estimators = n_estimators
        self.params = params
        self.alpha = alpha
        self.calibration_fraction = calibration_fraction
        self.seed = seed
        self.num_threads = num_threads

    def _lgb_params(self, objective: str) -> dict:
        return {**RISK_PARAMS, **(self.params or {}), "objective": objective,
                "seed": self.seed, "deterministic": True, "force_col_wise": True,
                "num_threads": self.num_threads, "verbosity": -1}

    def fit(self, X: pd.DataFrame, labels: pd.DataFrame | None) -> FakeFollowerRiskModel:
        """X: creator features (index creator_id); labels: authenticity_labels rows."""
        X = as_float_frame(X)
        self.feature_names_ = list(X.columns)
        self.pod_reference_ = {s: float(np.nanmedian(_column(X, s)))
                               if np.isfinite(_column(X, s)).any() else 0.0
                               for s in POD_SIGNALS}
        mass = _column(X, MASS_FOLLOWER_SHARE)
        self.mass_follower_fill_ = float(np.nanmedian(mass)) if np.isfinite(mass).any() else 0.0
        self.bought_booster_ = None
        self.share_booster_ = None
        self.share_intervals_ = {}
        if labels is None or len(labels) == 0:
            return self
        labels = labels.drop_duplicates("creator_id").set_index("creator_id")
        labelled = labels.index.intersection(X.index)
        unknown = labels.index.difference(X.index)
        if len(unknown):
            raise ValueError(f"authenticity_labels: {len(unknown)} creator_id(s) have no "
                             f"features, e.g. {list(unknown[:3])}")
        bought = labels.loc[labelled, "bought_followers"]
        bought = bought[bought.notna()].astype("float64")
        if len(bought) >= MIN_LABELS and bought.nunique() == 2:
            data = lgb.Dataset(X.loc[bought.index], label=bought.to_numpy())
            self.bought_booster_ = lgb.train(self._lgb_params("binary"), data,
                                             num_boost_round=self.n_estimators)
        share = labels.loc[labelled, "fake_follower_share"]
        share = share[share.notna()].astype("float64")
        if len(share) >= MIN_LABELS:
            self._fit_share(X.loc[share.index], share.to_numpy())
        return self

    def _fit_share(self, X: pd.DataFrame, share: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        calibration = np.zeros(len(share), dtype=bool)
        calibration[rng.permutation(len(share))[: int(round(self.calibration_fraction
                                                            * len(share)))]] = True
        data = lgb.Dataset(X[~calibration], label=share[~calibration])
        self.share_booster_ = lgb.train(self._lgb_params("cross_entropy"), data,
                                        num_boost_round=self.n_estimators)
        X_cal, y_cal = X[calibration], share[calibration]
        pred = self.share_booster_.predict(X_cal, num_threads=self.num_threads)
        sample = _column(X_cal, SAMPLE_SHARE)
        has_sample = (_column(X_cal, HAS_SAMPLE) > 0) & np.isfinite(sample)
        # Blend weight of the audience-sample estimate, chosen on the calibration audits (the
        # model already sees the sample as an input, but trees shrink a precise estimate).
        self.sample_weight_ = 0.0
        if has_sample.sum() >= MIN_GROUP_CALIBRATION:
            grid = np.linspace(0.0, 1.0, 21)
            errors = [np.mean((w * sample[has_sample] + (1 - w) * pred[has_sample]
                               - y_cal[has_sample]) ** 2) for w in grid]
            self.sample_weight_ = float(grid[int(np.argmin(errors))])
        pred = self._blend(pred, sample)
        pooled = self._interval().fit(y_cal, pred)
        self.share_intervals_ = {"pooled": pooled}
        for group, mask in (("sample", has_sample), ("no_sample", ~has_sample)):
            if mask.sum() >= MIN_GROUP_CALIBRATION:
                self.share_intervals_[group] = self._interval().fit(y_cal[mask], pred[mask])

    def _blend(self, model_share: np.ndarray, sample_share: np.ndarray) -> np.ndarray:
        weight = getattr(self, "sample_weight_", 0.0)
        return np.where(np.isfinite(sample_share),
                        weight * sample_share + (1 - weight) * model_share, model_share)

    def _interval(self) -> SplitConformalInterval:
        return SplitConformalInterval(alpha=self.alpha, scale="binomial", lower_bound=0.0,
                                      upper_bound=1.0)

    def predict_bought_proba(self, X, num_threads: int | None = None) -> np.ndarray:
        if self.bought_booster_ is None:
            return np.full(len(X), np.nan)
        threads = self.num_threads if num_threads is None else num_threads
        return self.bought_booster_.predict(FeatureMatrix.of(X).select(self.feature_names_),
                                            num_threads=threads)

    def predict_share(self, X, num_threads: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fake_share, low, high); the audience-sample estimate when no share model exists."""
        matrix = FeatureMatrix.of(X)
        if self.share_booster_ is None:
            return (matrix.column(SAMPLE_SHARE).copy(), matrix.column(SAMPLE_SHARE_LOW).copy(),
                    matrix.column(SAMPLE_SHARE_HIGH).copy())
        threads = self.num_threads if num_threads is None else num_threads
        share = self._blend(self.share_booster_.predict(matrix.select(self.feature_names_),
                                                        num_threads=threads),
                            matrix.column(SAMPLE_SHARE))
        low, high = self.share_intervals_["pooled"].predict_interval(share)
        has_sample = (matrix.column(HAS_SAMPLE) > 0) & np.isfinite(matrix.column(SAMPLE_SHARE))
        for group, mask in (("sample", has_sample), ("no_sample", ~has_sample)):
            interval = self.share_intervals_.get(group)
            if interval is not None and mask.any():
                low[mask], high[mask] = interval.predict_interval(share[mask])
        return share, low, high

    def component_arrays(self, X, bought_proba: np.ndarray) -> dict[str, np.ndarray]:
        """Component scores and their evidence (see module docstring)."""
        matrix = FeatureMatrix.of(X)
        pod_parts = []
        for signal in POD_SIGNALS:
            m = self.pod_reference_[signal]
            pod_parts.append(clip((matrix.column(signal) - m) / max(1.0 - m, 1e-6), 0.0, 1.0))
        stacked = np.vstack(pod_parts)
        counted = np.isfinite(stacked).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pod = np.where(counted > 0, np.nansum(stacked, axis=0) / counted, np.nan)
        z = matrix.column(GROWTH_Z)
        growth = clip((z - GROWTH_ANOMALY_Z) / (GROWTH_ANOMALY_FULL_Z - GROWTH_ANOMALY_Z),
                      0.0, 1.0)
        table = {
            "bought_followers_risk": bought_proba,
            "mass_follower_share": matrix.column(MASS_FOLLOWER_SHARE),
            "engagement_pod_score": pod,
            "growth_anomaly_score": growth,
        }
        for name, feature in EVIDENCE.items():
            table[name] = matrix.column(feature)
        return table

    def components(self, X, bought_proba: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(self.component_arrays(X, bought_proba), index=X.index)

    def audience_quality(self, fake_share: np.ndarray, mass_follower_share: np.ndarray,
                         pod_score: np.ndarray) -> np.ndarray:
        mass = np.where(np.isnan(mass_follower_share), self.mass_follower_fill_,
                        mass_follower_share)
        pod = fill_nan(pod_score, 0.0)  # in [0, 1] or missing
        quality = (100.0 * (1.0 - fake_share) * (1.0 - MASS_FOLLOWER_WEIGHT * mass)
                   * (1.0 - POD_WEIGHT * pod))
        return clip(quality, 0.0, 100.0)

    def predict_arrays(self, X, num_threads: int | None = None) -> dict[str, np.ndarray]:
        """All outputs per row as arrays (the scoring hot path; see `predict`)."""
        matrix = FeatureMatrix.of(X)
        bought = self.predict_bought_proba(matrix, num_threads)
        share, low, high = self.predict_share(matrix, num_threads)
        # The domain check of the audience sample (models.quantification.FieldDrift): a sample
        # unlike the labelled accounts keeps at least the sample's own widened interval.
        drift = matrix.column(SAMPLE_DRIFT)
        drifted = fill_nan(drift, 0.0) > DRIFT_TOLERANCE
        low = np.where(drifted, np.fmin(low, matrix.column(SAMPLE_SHARE_LOW)), low)
        high = np.where(drifted, np.fmax(high, matrix.column(SAMPLE_SHARE_HIGH)), high)
        out = {
            "fake_follower_risk": bought,
            "fake_share": share,
            "fake_share_low": low,
            "fake_share_high": high,
            "fake_share_sample": matrix.column(SAMPLE_SHARE),
            "fake_share_sample_low": matrix.column(SAMPLE_SHARE_LOW),
            "fake_share_sample_high": matrix.column(SAMPLE_SHARE_HIGH),
            "audience_domain_drift": drift,
        }
        components = self.component_arrays(matrix, bought)
        out["audience_quality"] = self.audience_quality(
            share, components["mass_follower_share"], components["engagement_pod_score"])
        credibility = 1.0 - share
        risk = fill_nan(bought, 0.0)  # a probability or missing
        verdict = np.where(
            (credibility < CREDIBILITY_AVOID_LINE) | (risk >= AVOID_RISK), "avoid",
            np.where((fill_nan(high, 0.0) >= CHECK_SHARE_HIGH) | (risk >= CHECK_RISK),
                     "check", "ok"))
        out["verdict"] = np.where(np.isnan(share) & np.isnan(bought), "unknown", verdict
                                  ).astype(object)
        out.update(components)
        return out

    def predict(self, X, num_threads: int | None = None) -> pd.DataFrame:
        """All outputs per creator (index of X); see the module docstring for each column."""
        out = pd.DataFrame(self.predict_arrays(X, num_threads), index=X.index)
        out["verdict"] = out["verdict"].astype("str")
        return out


def verdict_reason(verdict: str | None, fake_share: float | None,
                   fake_share_high: float | None, risk: float | None) -> str:
    """The verdict's reason in words: which of the verdict's lines (module docstring) the
    creator's fake share, its upper bound and bought-followers probability cross."""
    def known(value) -> bool:
        return value is not None and np.isfinite(value)

    reasons = []
    if verdict == "unknown" or not (known(fake_share) or known(risk)):
        return "no audience sample and no risk estimate: authenticity cannot be judged"
    if known(fake_share) and 1.0 - fake_share < CREDIBILITY_AVOID_LINE:
        reasons.append(f"estimated fake followers {100 * fake_share:.0f}% (credibility below "
                       f"{100 * CREDIBILITY_AVOID_LINE:.0f}%)")
    if known(risk) and risk >= AVOID_RISK:
        reasons.append(f"bought-followers probability {100 * risk:.0f}% (at least "
                       f"{100 * AVOID_RISK:.0f}%)")
    if verdict == "avoid" and reasons:
        return "; ".join(reasons)
    if known(fake_share_high) and fake_share_high >= CHECK_SHARE_HIGH:
        reasons.append(f"fake followers could reach {100 * fake_share_high:.0f}% (interval's "
                       f"upper bound at least {100 * CHECK_SHARE_HIGH:.0f}%)")
    if known(risk) and risk >= CHECK_RISK:
        reasons.append(f"bought-followers probability {100 * risk:.0f}% (at least "
                       f"{100 * CHECK_RISK:.0f}%)")
    if reasons:
        return "; ".join(reasons)
    shown = f"{100 * fake_share:.0f}%" if known(fake_share) else "unknown"
    return (f"estimated fake followers {shown}, bought-followers probability "
            f"{100 * risk:.0f}%: below every warning line" if known(risk)
            else f"estimated fake followers {shown}: below every warning line")
