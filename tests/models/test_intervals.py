import numpy as np
import pytest

from models.intervals import SplitConformalInterval, conformal_quantile
from training.metrics import interval_coverage


def test_conformal_quantile_finite_sample_rank():
    scores = np.arange(1, 10, dtype=float)  # n = 9
    assert conformal_quantile(scores, 0.9, upper=True) == 9.0  # ceil(10 * 0.9) = 9
    assert conformal_quantile(scores, 0.95, upper=True) == np.inf
    assert conformal_quantile(scores, 0.05, upper=False) == -np.inf
    assert conformal_quantile(scores, 0.1, upper=False) == 1.0


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_poisson_interval_reaches_nominal_coverage(alpha):
    rng = np.random.default_rng(1)
    mu = rng.gamma(1.5, 4.0, size=6000)
    y = rng.poisson(mu)
    interval = SplitConformalInterval(alpha=alpha, scale="poisson").fit(y[:3000], mu[:3000])
    low, high = interval.predict_interval(mu[3000:])
    coverage = interval_coverage(y[3000:], low, high)
    assert coverage >= 1 - alpha - 0.02
    assert coverage <= 1 - alpha + 0.06  # not trivially wide
    assert (low >= 0).all() and (high >= low).all()


def test_binomial_interval_clipped_to_unit_range():
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 2000)
    y = np.clip(p + rng.normal(0, 0.1, 2000), 0, 1)
    interval = SplitConformalInterval(alpha=0.1, scale="binomial", lower_bound=0.0,
                                      upper_bound=1.0).fit(y[:1000], p[:1000])
    low, high = interval.predict_interval(p[1000:])
    assert (low >= 0).all() and (high <= 1).all()
    assert interval_coverage(y[1000:], low, high) >= 0.87


def test_bad_inputs():
    with pytest.raises(ValueError):
        SplitConformalInterval(alpha=1.5).fit([1.0], [1.0])
    with pytest.raises(ValueError):
        SplitConformalInterval().fit([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError):
        SplitConformalInterval(scale="weird").fit([1.0, 2.0], [1.0, 1.0])


def test_negative_binomial_scale_covers_every_size_of_an_overdispersed_count():
    rng = np.random.default_rng(3)
    mu = rng.lognormal(0.5, 1.5, 8000)
    y = rng.poisson(mu * rng.gamma(2.0, 0.5, 8000))  # Var = mu + 0.5 mu^2
    fitted = {scale: SplitConformalInterval(alpha=0.1, scale=scale).fit(y[:4000], mu[:4000])
              for scale in ("poisson", "negative_binomial")}
    assert fitted["negative_binomial"].dispersion_ == pytest.approx(0.5, abs=0.2)
    top = np.argsort(mu[4000:])[-800:]  # the largest predictions
    coverage = {}
    for scale, interval in fitted.items():
        low, high = interval.predict_interval(mu[4000:])
        coverage[scale] = interval_coverage(y[4000:][top], low[top], high[top])
    assert coverage["negative_binomial"] >= 0.8
    assert coverage["poisson"] < coverage["negative_binomial"]


def _quintile_coverages(interval, y, mu):
    low, high = interval.predict_interval(mu)
    order = np.argsort(mu)
    return [interval_coverage(y[part], low[part], high[part])
            for part in np.array_split(order, 5)]


def test_mondrian_bins_hold_coverage_in_every_quintile_where_one_scale_cannot():
    # Dispersion that the scale does not model: small counts Poisson, large ones far wider.
    rng = np.random.default_rng(5)
    mu = rng.lognormal(0.5, 1.5, 12000)
    shape = np.where(mu > np.quantile(mu, 0.6), 0.4, 50.0)
    y = rng.poisson(mu * rng.gamma(shape, 1 / shape))
    pooled = SplitConformalInterval(alpha=0.1, scale="poisson").fit(y[:6000], mu[:6000])
    binned = SplitConformalInterval(alpha=0.1, scale="poisson", n_bins=5).fit(y[:6000],
                                                                              mu[:6000])
    assert len(binned.bin_edges_) == 4
    pooled_cover = _quintile_coverages(pooled, y[6000:], mu[6000:])
    binned_cover = _quintile_coverages(binned, y[6000:], mu[6000:])
    assert min(pooled_cover) < 0.8
    assert min(binned_cover) >= 0.86 and max(binned_cover) <= 0.95


def test_one_bin_is_the_plain_interval():
    rng = np.random.default_rng(2)
    mu = rng.lognormal(0, 1, 500)
    y = rng.poisson(mu)
    plain = SplitConformalInterval(scale="poisson").fit(y, mu)
    assert len(plain.bin_edges_) == 0
    low, high = plain.predict_interval(mu)
    s = np.maximum(np.sqrt(mu), 0.25)
    np.testing.assert_allclose(high, mu + plain.q_high_ * s)
    with pytest.raises(ValueError, match="n_bins"):
        SplitConformalInterval(n_bins=0).fit(y, mu)
