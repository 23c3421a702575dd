"""The fake share as a quantification problem: methods, intervals, the domain check."""
from __future__ import annotations

import numpy as np
import pytest

from models.quantification import (
    METHODS,
    FakeShareEstimator,
    FieldDrift,
    FieldDriftResult,
    drift_warning,
)

SEPARATION = 1.5


def _calibrated_scores(rng: np.random.Generator, n_fake: int, n_real: int,
                       real_shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are exact posteriors at a 50/50 prior: latent x ~ N(+-SEPARATION, 1),
    p = sigmoid(2 * SEPARATION * x). `real_shift` moves the real accounts towards the fakes
    (a population the classifier never saw, like low-activity people)."""
    x = np.r_[rng.normal(SEPARATION, 1.0, n_fake),
              rng.normal(-SEPARATION + real_shift, 1.0, n_real)]
    p = 1.0 / (1.0 + np.exp(-2 * SEPARATION * x))
    return p, np.r_[np.ones(n_fake, dtype=bool), np.zeros(n_real, dtype=bool)]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    p, y = _calibrated_scores(rng, 5000, 5000)
    return {m: FakeShareEstimator(method=m).fit(p, y) for m in METHODS}


@pytest.mark.parametrize("prevalence", [0.02, 0.3, 0.6])
def test_adjusted_methods_recover_shifted_prevalence_and_counting_does_not(fitted, prevalence):
    rng = np.random.default_rng(1)
    n_fake = int(4000 * prevalence)
    p, _ = _calibrated_scores(rng, n_fake, 4000 - n_fake)
    for method in ("acc", "pacc", "sld", "hdy"):
        assert fitted[method].point_estimates(p)[0] == pytest.approx(prevalence, abs=0.03), method
    # Counting drifts towards the training prior (0.5): the reason for the adjustments.
    if prevalence < 0.1:
        assert fitted["cc"].point_estimates(p)[0] > prevalence + 0.02


def test_groups_are_estimated_at_once_like_one_by_one(fitted):
    rng = np.random.default_rng(2)
    blocks = [_calibrated_scores(rng, k, 200 - k)[0] for k in (10, 60, 120)]
    p = np.concatenate(blocks)
    group = np.repeat(np.arange(3), 200)
    for method, estimator in fitted.items():
        together = estimator.point_estimates(p, group, 4)
        assert np.isnan(together[3])  # an empty group has no share
        alone = [estimator.point_estimates(block)[0] for block in blocks]
        # Exactly: each group's EM stops on its own, whatever the others do.
        np.testing.assert_array_equal(together[:3], alone, err_msg=method)


def test_a_failed_domain_check_widens_only_its_groups_to_every_method(fitted):
    rng = np.random.default_rng(5)
    blocks = [_calibrated_scores(rng, k, 150 - k)[0] for k in (5, 40, 90, 140)]
    p = np.concatenate(blocks)
    group = np.repeat(np.arange(4), 150)
    failing = np.array([False, True, False, True])

    def check(share):
        return FieldDriftResult(drift=np.where(failing, 0.5, 0.0), field_drift={},
                                drifted_fields=[["followers"] if f else [] for f in failing])

    estimator = fitted["sld"]
    plain = estimator.estimate_groups(p, group, 4)
    checked = estimator.estimate_groups(p, group, 4, check=check)
    every = np.array([[estimator.point_estimates(block, method=m)[0] for m in METHODS]
                      for block in blocks])
    np.testing.assert_array_equal(checked.low[~failing], plain.low[~failing])
    np.testing.assert_array_equal(checked.high[~failing], plain.high[~failing])
    np.testing.assert_array_equal(checked.low[failing],
                                  np.fmin(plain.low, every.min(axis=1))[failing])
    np.testing.assert_array_equal(checked.high[failing],
                                  np.fmax(plain.high, every.max(axis=1))[failing])
    # The example is one where the methods disagree beyond the interval somewhere.
    assert (checked.high[failing] - checked.low[failing]
            > plain.high[failing] - plain.low[failing]).any()


def test_interval_covers_in_domain_at_nominal_rate(fitted):
    """The target is the share of the audience the sample was drawn from."""
    rng = np.random.default_rng(3)
    estimator = fitted["sld"]
    hits = []
    for _ in range(400):
        prevalence = rng.uniform(0.0, 0.6)
        n_fake = rng.binomial(300, prevalence)
        p, _ = _calibrated_scores(rng, n_fake, 300 - n_fake)
        estimates = estimator.estimate_groups(p)
        truth = prevalence
        hits.append(estimates.low[0] <= truth <= estimates.high[0])
    assert 0.85 <= np.mean(hits) <= 0.98


def test_domain_error_widens_the_interval_in_quadrature():
    rng = np.random.default_rng(4)
    p, y = _calibrated_scores(rng, 3000, 3000)
    audience, _ = _calibrated_scores(rng, 100, 400)
    tight = FakeShareEstimator(method="sld").fit(p, y).estimate_groups(audience)
    wide = FakeShareEstimator(method="sld", domain_error=0.1).fit(p, y).estimate_groups(audience)
    half_tight = (tight.high - tight.low)[0] / 2
    half_wide = (wide.high - wide.low)[0] / 2
    assert half_wide == pytest.approx(np.sqrt(half_tight ** 2 + 0.1 ** 2), rel=1e-6)


def test_off_domain_real_accounts_bias_the_estimate_and_the_calibrated_interval_covers():
    """Real accounts unlike the training ones inflate every estimate; the interval's
    off-domain term is what keeps the truth inside it."""
    rng = np.random.default_rng(5)
    p, y = _calibrated_scores(rng, 5000, 5000)
    naive = FakeShareEstimator(method="sld").fit(p, y)
    honest = FakeShareEstimator(method="sld", domain_error=0.12).fit(p, y)
    audience, _ = _calibrated_scores(rng, 100, 900, real_shift=0.5)
    assert naive.point_estimates(audience)[0] > 0.12
    tight, wide = naive.estimate_groups(audience), honest.estimate_groups(audience)
    assert not tight.low[0] <= 0.1 <= tight.high[0]
    assert wide.low[0] <= 0.1 <= wide.high[0]


def test_posterior_moves_probabilities_to_the_audience_share(fitted):
    estimator = fitted["sld"]
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(estimator.posterior(p, 0.5), p)
    low = estimator.posterior(p, 0.1)
    assert np.all(low < p + 1e-12) and low[2] == pytest.approx(0.1 * 0.9 / (0.09 + 0.9 * 0.1))
    # At the prevalence the audience really has, flagged accounts are the likely fakes.
    assert estimator.posterior(np.array([0.6]), 0.1)[0] < 0.5


def test_assumed_rates_give_the_adjusted_count():
    estimator = FakeShareEstimator(method="acc").fit_rates(tpr=0.8, fpr=0.1)
    p = np.r_[np.full(30, 0.9), np.full(70, 0.2)]
    assert estimator.point_estimates(p)[0] == pytest.approx((0.3 - 0.1) / 0.7, abs=1e-6)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        FakeShareEstimator(method="magic").fit([0.1, 0.9], [False, True])
    with pytest.raises(ValueError, match="both fake and real"):
        FakeShareEstimator().fit([0.1, 0.9], [True, True])
    with pytest.raises(RuntimeError, match="not fitted"):
        FakeShareEstimator().point_estimates([0.5])


def _fields(rng, n_fake, n_real, followers_scale=1.0):
    return {
        "followers": np.r_[rng.lognormal(3.5, 1.0, n_fake),
                           rng.lognormal(6.0, 1.0, n_real)] * followers_scale,
        "posts_count": np.r_[rng.poisson(1, n_fake), rng.poisson(40, n_real)].astype(float),
        "has_profile_pic": np.r_[rng.random(n_fake) < 0.5, rng.random(n_real) < 0.97
                                 ].astype(float),
    }


def test_domain_check_passes_a_mix_and_flags_what_no_mix_explains():
    rng = np.random.default_rng(6)
    labels = np.r_[np.ones(3000, dtype=bool), np.zeros(3000, dtype=bool)]
    drift = FieldDrift().fit(_fields(rng, 3000, 3000), labels)
    mix = drift.score(_fields(rng, 60, 240), np.array([0.2]))
    assert mix.drifted_fields == [[]] and mix.drift[0] < 0.1
    # Real accounts with creator-sized follower counts (x 1000): no mix of the labelled ones.
    odd = drift.score(_fields(rng, 60, 240, followers_scale=1000.0), np.array([0.2]))
    assert odd.drifted_fields == [["followers"]] and odd.drift[0] > 0.15
    assert "follower counts" in drift_warning(odd.drifted_fields[0])
    assert drift_warning([]) is None


def test_failed_domain_check_widens_to_every_method(fitted):
    rng = np.random.default_rng(7)
    p, _ = _calibrated_scores(rng, 50, 250, real_shift=1.2)
    estimator = fitted["sld"]
    plain = estimator.estimate_groups(p)
    failed = FieldDriftResult(drift=np.array([0.3]), field_drift={},
                              drifted_fields=[["followers"]])
    widened = estimator.estimate_groups(p, check=lambda share: failed)
    every = [fitted[m].point_estimates(p)[0] for m in METHODS]
    assert widened.low[0] <= min(every) + 1e-12 and widened.high[0] >= max(every) - 1e-12
    assert widened.low[0] <= plain.low[0] and widened.high[0] >= plain.high[0]
    assert widened.domain_ok.tolist() == [False] and plain.domain_ok.tolist() == [True]
