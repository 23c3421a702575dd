"""The fake share of an audience, estimated as a quantification problem.

A classifier's per-account probabilities are not a share: counting the accounts it flags
(classify-and-count) is biased whenever the audience's fake prevalence differs from the training
mix, and the classic correction (adjusted count, Rogan-Gladen) trusts error rates that were
measured in-domain. This module turns the probabilities of one audience (or of many audiences at
once, one per creator) into a share with an interval that holds off-domain:

- `FakeShareEstimator.fit(p_fake, is_fake)` learns, from *out-of-fold* probabilities of labelled
  accounts, what each quantification method needs: flag rates (ACC), mean probabilities (PACC),
  class-conditional histograms of the probability (HDy), the training prior (SLD).
- `estimate_groups` estimates the share of every group with the chosen method:
    cc    classify and count, mean(p >= t)
    acc   adjusted count, (cc - fpr) / (tpr - fpr)                      (Forman 2008)
    pcc   probabilistic classify and count, mean(p)
    pacc  probabilistic adjusted count, (pcc - E[p|real]) / (E[p|fake] - E[p|real])
    sld   EM re-estimation of the prior (Saerens, Latinne & Decaestecker 2002)
    hdy   the mixture of the class histograms of p closest, in Hellinger distance, to the
          audience's histogram (Gonzalez-Castro, Alaiz-Rodriguez & Alegre 2013)
  and an interval of half-width sqrt((z * se)^2 + domain_error^2): `se` is the sampling error of
  the estimate (delta method), `domain_error` the error the method makes on data sets it never saw,
  calibrated on leave-one-dataset-out audiences (training/follower_accounts.py) so that the 90%
  interval covers about 90% off-domain, not only in-domain.
- The domain check: an audience should look like a mix of the labelled real and fake accounts.
  `FieldDrift` measures, per account field, the Hellinger distance between the audience's
  histogram and that mix at the estimated share (minus what sampling alone explains). Past the
  tolerance the interval is widened to span every method's estimate and a warning in plain words
  says which fields differ.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator

from features.arrays import clip, fill_nan

METHODS = ("cc", "acc", "pcc", "pacc", "sld", "hdy")
N_PROBABILITY_BINS = 10
PREVALENCE_GRID = np.linspace(0.0, 1.0, 201)
SLD_ITERATIONS = 100
SLD_TOLERANCE = 1e-6


def _group_sums(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(group, weights=values, minlength=n_groups)


def _bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin of `edges` holding each value (the outer bins take what lies beyond)."""
    return clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _histograms(values: np.ndarray, group: np.ndarray, n_groups: int, edges: np.ndarray
                ) -> np.ndarray:
    """Rows of per-group bin counts of `values` on `edges`."""
    k = len(edges) - 1
    counts = np.bincount(group * k + _bins(values, edges), minlength=n_groups * k)
    return counts.reshape(n_groups, k).astype("float64")


def _weighted_histogram(values: np.ndarray, weights: np.ndarray, edges: np.ndarray
                        ) -> np.ndarray:
    counts = np.bincount(_bins(values, edges), weights=weights, minlength=len(edges) - 1)
    return counts / counts.sum()


def hellinger_to_mixtures(observed: np.ndarray, fake: np.ndarray, real: np.ndarray,
                          prevalence: np.ndarray) -> np.ndarray:
    """Hellinger distance between each row of `observed` (normalised histograms, groups x bins)
    and each mixture prevalence * fake + (1 - prevalence) * real (groups x prevalences)."""
    mixtures = np.outer(prevalence, fake) + np.outer(1.0 - prevalence, real)
    affinity = np.sqrt(observed) @ np.sqrt(mixtures).T
    return np.sqrt(np.maximum(1.0 - affinity, 0.0))


@dataclass
class ShareEstimates:
    """Per group: the share, its interval, and the domain check (see FakeShareEstimator)."""

    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_accounts: np.ndarray
    method: str
    # Largest field drift of each group, and the fields past the tolerance (empty when fine).
    drift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drifted_fields: list[list[str]] = field(default_factory=list)

    @property
    def domain_ok(self) -> np.ndarray:
        return np.array([not fields for fields in self.drifted_fields], dtype=bool)


class FakeShareEstimator(BaseEstimator):
    """Quantifier of the fake share of audiences, from per-account fake probabilities.

    Parameters
    ----------
    method : one of METHODS (see the module docstring).
    threshold : probability at or above which an account is flagged (cc, acc).
    confidence : nominal coverage of the interval.
    domain_error : the method's off-domain error (share points, one standard error's worth of
        the normal interval is `domain_error / z`): added in quadrature to the sampling error.
        Set by the leave-one-dataset-out calibration; 0 trusts in-domain behaviour.
    training_prior : the fake prior the probabilities are calibrated to (the classifier weighs
        fake and real accounts 50/50), used by sld.
    """

    def __init__(self, method: str = "sld", threshold: float = 0.5, confidence: float = 0.9,
                 domain_error: float = 0.0, training_prior: float = 0.5):
        self.method = method
        self.threshold = threshold
        self.confidence = confidence
        self.domain_error = domain_error
        self.training_prior = training_prior

    def fit(self, p_fake, is_fake, sample_weight=None) -> FakeShareEstimator:
        """Learn the class-conditional behaviour of out-of-fold probabilities."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        p = np.asarray(p_fake, dtype="float64")
        y = np.asarray(is_fake, dtype=bool)
        if p.shape != y.shape:
            raise ValueError(f"p_fake has shape {p.shape}, is_fake {y.shape}: expected equal")
        if y.all() or not y.any():
            raise ValueError("is_fake needs both fake and real accounts")
        w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, "float64")
        flagged = p >= self.threshold
        self.tpr_ = float(np.average(flagged[y], weights=w[y]))
        self.fpr_ = float(np.average(flagged[~y], weights=w[~y]))
        self.mean_p_fake_ = float(np.average(p[y], weights=w[y]))
        self.mean_p_real_ = float(np.average(p[~y], weights=w[~y]))
        self.bin_edges_ = np.linspace(0.0, 1.0, N_PROBABILITY_BINS + 1)
        self.hist_fake_ = _weighted_histogram(p[y], w[y], self.bin_edges_)
        self.hist_real_ = _weighted_histogram(p[~y], w[~y], self.bin_edges_)
        self.z_ = float(norm.ppf(0.5 + self.confidence / 2))
        return self

    def fit_rates(self, tpr: float, fpr: float) -> FakeShareEstimator:
        """An estimator from *assumed* flag rates of a scorer never measured on labelled accounts
        (flagged fakes at p = 0.75, missed ones at 0.25): use `fit` whenever labels exist."""
        rates = np.array([tpr, fpr], dtype="float64")
        if not ((rates >= 0) & (rates <= 1)).all():
            raise ValueError(f"rates must lie in [0, 1], got tpr={tpr}, fpr={fpr}")
        p = np.array([0.75, 0.25, 0.75, 0.25])
        is_fake = np.array([True, True, False, False])
        return self.fit(p, is_fake, sample_weight=np.array([tpr, 1 - tpr, fpr, 1 - fpr]) + 1e-12)

    # ------------------------------------------------------------------ point estimates
    def _check_fitted(self) -> None:
        if not hasattr(self, "hist_fake_"):
            raise RuntimeError("FakeShareEstimator is not fitted; call fit first")

    def point_estimates(self, p_fake, group=None, n_groups: int | None = None,
                        method: str | None = None) -> np.ndarray:
        """The share of each group by `method` (default: the estimator's), NaN for empty groups."""
        self._check_fitted()
        method = method or self.method
        p = np.asarray(p_fake, dtype="float64")
        group, n_groups = _groups(p, group, n_groups)
        n = np.bincount(group, minlength=n_groups).astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            if method == "cc":
                share = _group_sums((p >= self.threshold).astype("float64"), group, n_groups) / n
            elif method == "acc":
                cc = _group_sums((p >= self.threshold).astype("float64"), group, n_groups) / n
                share = _adjust(cc, self.fpr_, self.tpr_)
            elif method == "pcc":
                share = _group_sums(p, group, n_groups) / n
            elif method == "pacc":
                pcc = _group_sums(p, group, n_groups) / n
                share = _adjust(pcc, self.mean_p_real_, self.mean_p_fake_)
            elif method == "sld":
                share = self._sld(p, group, n_groups, n)
            elif method == "hdy":
                observed = _histograms(p, group, n_groups, self.bin_edges_)
                observed /= np.maximum(observed.sum(axis=1, keepdims=True), 1.0)
                distance = hellinger_to_mixtures(observed, self.hist_fake_, self.hist_real_,
                                                 PREVALENCE_GRID)
                share = PREVALENCE_GRID[np.argmin(distance, axis=1)]
            else:
                raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        return np.where(n > 0, clip(share, 0.0, 1.0), np.nan)

    def _sld(self, p: np.ndarray, group: np.ndarray, n_groups: int, n: np.ndarray
             ) -> np.ndarray:
        """EM on the prior of every group at once (probabilities clipped away from 0 and 1).
        Each group stops at its own convergence: a group's share never depends on which other
        groups are estimated with it (one creator alone gets its row of a batch, and the
        service's feature cache may reuse it)."""
        p = clip(p, 1e-6, 1 - 1e-6)
        prior = clip(np.full(n_groups, self.training_prior), 0.0, 1.0)
        active = np.ones(n_groups, dtype=bool)
        for _ in range(SLD_ITERATIONS):
            # Only the accounts of groups still moving: a converged group's prior is final.
            # p is in [0, 1] and every prior a mean of posteriors (or the training prior):
            # Bayes' rule without posterior()'s clipping and filling, which change nothing here.
            updated = _group_sums(self._bayes(p, prior[group]), group, n_groups
                                  ) / np.maximum(n, 1.0)
            converged = np.abs(updated - prior) < SLD_TOLERANCE
            prior = np.where(active, updated, prior)
            active &= ~converged
            if not active.any():
                break
            moving = active[group]
            p, group = p[moving], group[moving]
        return prior

    # ------------------------------------------------------------------ with intervals
    def estimate_groups(self, p_fake, group=None, n_groups: int | None = None,
                        check: Callable[[np.ndarray], FieldDriftResult] | None = None
                        ) -> ShareEstimates:
        """Share and interval of every group. `check(share)` (e.g. `FieldDrift.score` of the
        audiences' fields) is the domain check: the groups that fail it get an interval widened
        to span every method."""
        p = np.asarray(p_fake, dtype="float64")
        group, n_groups = _groups(p, group, n_groups)
        share = self.point_estimates(p, group, n_groups)
        n = np.bincount(group, minlength=n_groups).astype("float64")
        se = self.sampling_error(p, group, n_groups, share)
        low, high = share_interval(share, se, self.domain_error, self.z_)
        empty = n == 0
        low[empty], high[empty] = 0.0, 1.0
        result = check(share) if check is not None else None
        drifted_fields = (result.drifted_fields if result is not None
                          else [[] for _ in range(n_groups)])
        failing = np.array([bool(f) for f in drifted_fields], dtype=bool)
        if failing.any():
            # Only the failing groups' accounts (every method estimates each group on its own):
            # they have accounts, so classify-and-count is defined.
            rows = failing[group]
            renumbered = (np.cumsum(failing) - 1)[group[rows]]
            every = np.vstack([self.point_estimates(p[rows], renumbered, int(failing.sum()),
                                                    method=m) for m in METHODS])
            low[failing] = np.fmin(low[failing], np.nanmin(every, axis=0))
            high[failing] = np.fmax(high[failing], np.nanmax(every, axis=0))
        return ShareEstimates(share=share, low=low, high=high, n_accounts=n, method=self.method,
                              drift=np.zeros(n_groups) if result is None else result.drift,
                              drifted_fields=drifted_fields)

    def sampling_error(self, p: np.ndarray, group: np.ndarray, n_groups: int,
                       share: np.ndarray) -> np.ndarray:
        """Standard error of the share from sampling the audience: the larger of the binomial
        error of a perfect classifier, sqrt(s(1 - s) / n), and the delta-method error of the
        probabilistic adjusted count, sd(p) / sqrt(n) / (E[p|fake] - E[p|real])."""
        n = np.bincount(group, minlength=n_groups).astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = _group_sums(p, group, n_groups) / n
            variance = np.maximum(_group_sums(p * p, group, n_groups) / n - mean ** 2, 0.0)
            spread = max(self.mean_p_fake_ - self.mean_p_real_, 1e-3)
            adjusted = np.sqrt(variance / n) / spread
            s = np.nan_to_num(share, nan=0.5)
            # Half an account's worth of share keeps the error of 0% or 100% above zero.
            binomial = np.sqrt((s * (1 - s) + 0.25 / n) / n)
        return np.where(n > 0, np.fmax(adjusted, binomial), np.inf)

    def posterior(self, p_fake, share) -> np.ndarray:
        """Each account's probability of being fake in an audience whose fake share is `share`
        (broadcast per account): Bayes' rule moves the classifier's training prior to it."""
        p = clip(np.asarray(p_fake, dtype="float64"), 0.0, 1.0)
        share = np.asarray(share, dtype="float64")
        # Missing shares at the training prior (infinite shares end at 0 or 1 either way).
        prior = clip(fill_nan(share, self.training_prior), 0.0, 1.0)
        return self._bayes(p, prior)

    def _bayes(self, p: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """`posterior` of probabilities and priors already in [0, 1]."""
        a = prior / self.training_prior * p
        b = (1.0 - prior) / (1.0 - self.training_prior) * (1.0 - p)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(a + b > 0, a / (a + b), p)


def share_interval(share, sampling_se, domain_error: float, z: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The interval of a share estimate: share +- sqrt((z se)^2 + domain_error^2), clipped to
    [0, 1] (the module docstring). The one definition: estimates and the training's coverage
    check of the calibrated domain error both use it."""
    share = np.asarray(share, dtype="float64")
    half = np.sqrt((z * np.asarray(sampling_se, dtype="float64")) ** 2 + domain_error ** 2)
    return clip(share - half, 0.0, 1.0), clip(share + half, 0.0, 1.0)


def _adjust(rate: np.ndarray, false_rate: float, true_rate: float) -> np.ndarray:
    """(rate - false_rate) / (true_rate - false_rate); NaN when the rates do not separate."""
    spread = true_rate - false_rate
    if not spread > 0:
        return np.full_like(rate, np.nan)
    return (rate - false_rate) / spread


def _groups(p: np.ndarray, group, n_groups: int | None) -> tuple[np.ndarray, int]:
    if group is None:
        return np.zeros(len(p), dtype="int64"), 1
    group = np.asarray(group, dtype="int64")
    if group.shape != p.shape:
        raise ValueError(f"group has shape {group.shape}; expected {p.shape}")
    if n_groups is None:
        n_groups = int(group.max()) + 1 if len(group) else 0
    return group, n_groups


# ---------------------------------------------------------------------- domain check
# Fields compared, with their bin edges: counts on a log scale (0, 1-9, 10-99, ...), flags 0/1.
COUNT_EDGES = np.array([-0.5, 0.5, 3.5, 10.5, 30.5, 100.5, 300.5, 1000.5, 3000.5, 10000.5,
                        np.inf])
FLAG_EDGES = np.array([-0.5, 0.5, 1.5])
# Excess Hellinger distance past which a field fails the domain check. Between the labelled
# sources themselves (one held out against the mix of the others) the excess reaches 0.1-0.3 on
# some field: 0.15 flags an audience as unlike our labelled data as they are unlike each other.
DRIFT_TOLERANCE = 0.15
DRIFT_FIELDS = {
    "followers": COUNT_EDGES,
    "following": COUNT_EDGES,
    "posts_count": COUNT_EDGES,
    "has_profile_pic": FLAG_EDGES,
    "is_private": FLAG_EDGES,
}
FIELD_WORDS = {
    "followers": "follower counts",
    "following": "following counts",
    "posts_count": "post counts",
    "has_profile_pic": "profile pictures",
    "is_private": "private accounts",
}


@dataclass
class FieldDriftResult:
    """Per group: largest excess drift over the fields, and the fields past the tolerance."""

    drift: np.ndarray
    field_drift: dict[str, np.ndarray]
    drifted_fields: list[list[str]]


class FieldDrift(BaseEstimator):
    """Does an audience look like a mix of the labelled real and fake accounts?

    For each field in DRIFT_FIELDS that the audience carries, the Hellinger distance between its
    histogram and share * fake + (1 - share) * real (the labelled accounts' histograms, at the
    audience's estimated share) is measured; what sampling alone would explain
    (sqrt((bins - 1) / (8 n)), the expected distance of an n-account sample from its own
    population) is subtracted. A field drifts when the excess passes `tolerance`.
    """

    def __init__(self, tolerance: float = DRIFT_TOLERANCE):
        self.tolerance = tolerance

    def fit(self, fields: dict[str, np.ndarray], is_fake, sample_weight=None) -> FieldDrift:
        y = np.asarray(is_fake, dtype=bool)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, "float64")
        self.hist_fake_, self.hist_real_ = {}, {}
        for name, edges in DRIFT_FIELDS.items():
            values = np.asarray(fields.get(name, np.full(len(y), np.nan)), dtype="float64")
            known = ~np.isnan(values)
            if not (known & y).any() or not (known & ~y).any():
                continue
            self.hist_fake_[name] = _weighted_histogram(values[known & y], w[known & y], edges)
            self.hist_real_[name] = _weighted_histogram(values[known & ~y], w[known & ~y],
                                                        edges)
        return self

    def score(self, fields: dict[str, np.ndarray], share: np.ndarray, group=None,
              n_groups: int | None = None) -> FieldDriftResult:
        if not hasattr(self, "hist_fake_"):
            raise RuntimeError("FieldDrift is not fitted; call fit first")
        share = np.asarray(share, dtype="float64")
        first = next(iter(fields.values()), np.zeros(0))
        group, n_groups = _groups(np.asarray(first, dtype="float64"), group, n_groups)
        worst = np.zeros(n_groups)
        per_field, drifted = {}, [[] for _ in range(n_groups)]
        s = np.nan_to_num(share, nan=0.5)[:, None]
        for name, fake in self.hist_fake_.items():
            if name not in fields:
                continue
            values = np.asarray(fields[name], dtype="float64")
            known = ~np.isnan(values)
            counts = _histograms(values[known], group[known], n_groups, DRIFT_FIELDS[name])
            k = counts.shape[1]
            n = counts.sum(axis=1)
            observed = counts / np.maximum(n, 1.0)[:, None]
            mixture = s * fake[None, :] + (1 - s) * self.hist_real_[name][None, :]
            affinity = np.sum(np.sqrt(observed * mixture), axis=1)
            distance = np.sqrt(np.maximum(1.0 - affinity, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                noise = np.sqrt((k - 1) / (8.0 * n))
            excess = np.where(n > 0, np.maximum(distance - noise, 0.0), 0.0)
            per_field[name] = excess
            worst = np.maximum(worst, excess)
            for g in np.flatnonzero(excess > self.tolerance):
                drifted[g].append(name)
        return FieldDriftResult(drift=worst, field_drift=per_field, drifted_fields=drifted)


def drift_warning(fields: list[str]) -> str | None:
    """The domain check in plain words, None when it passes."""
    return failed_check_text(fields) if fields else None


def failed_check_text(fields: list[str] = ()) -> str:
    """What a failed domain check means, naming the fields when they are known."""
    which = (f" ({', '.join(FIELD_WORDS.get(f, f) for f in fields)} differ from any mix of "
             "real and fake ones)") if fields else ""
    return (f"These accounts do not look like the labelled accounts the model learned from"
            f"{which}: the estimate is less reliable and its interval was widened to span "
            f"every estimation method.")
