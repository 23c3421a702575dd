import numpy as np
import pandas as pd
import pytest

from models.conversion import ConversionModel
from training.metrics import interval_coverage, poisson_deviance, spearman


def _data(n, seed):
    rng = np.random.default_rng(seed)
    fit = rng.uniform(0, 1, n)
    noise_feature = rng.normal(0, 1, n)
    exposure = rng.lognormal(8, 1.5, n)
    rate = 2e-4 * np.exp(1.5 * fit)
    mu = exposure * rate
    X = pd.DataFrame({"fit": fit, "noise": noise_feature, "exposure": exposure})
    return X, rng.poisson(mu), mu


def _model(**kw):
    return ConversionModel(exposure_feature="exposure", monotone={"fit": 1}, n_estimators=80,
                           num_threads=1, seed=3, **kw)


def test_exposure_offset_recovers_rate_and_intervals_cover():
    X, y, _ = _data(4000, 0)
    X_cal, y_cal, _ = _data(1500, 1)
    X_test, y_test, mu_test = _data(2000, 2)
    model = _model().fit(X, y, X_cal, y_cal)
    pred, low, high = model.predict_interval(X_test)
    assert spearman(mu_test, pred) > 0.9
    assert pred.sum() == pytest.approx(mu_test.sum(), rel=0.1)
    assert poisson_deviance(y_test, pred) < poisson_deviance(y_test, np.full(len(y_test),
                                                                            y.mean()))
    coverage = interval_coverage(y_test, low, high)
    assert 0.86 <= coverage <= 0.97
    assert (low >= 0).all() and (low <= pred).all() and (high >= pred).all()


def test_monotone_constraint_holds():
    X, y, _ = _data(3000, 0)
    model = _model().fit(X, y)
    grid = pd.DataFrame({"fit": np.linspace(0, 1, 50), "noise": 0.3, "exposure": 5000.0})
    assert (np.diff(model.predict(grid)) >= -1e-12).all()


def test_seed_determinism_and_missing_exposure():
    X, y, _ = _data(1500, 0)
    first = _model().fit(X, y).predict(X)
    second = _model().fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    model = _model().fit(X, y)
    gap = X.head(2).copy()
    gap["exposure"] = np.nan
    assert np.isfinite(model.predict(gap)).all()


def test_bad_inputs():
    X, y, _ = _data(200, 0)
    with pytest.raises(ValueError, match="non-negative"):
        _model().fit(X, -np.ones(len(X)))
    with pytest.raises(ValueError, match="unknown features"):
        ConversionModel(monotone={"nope": 1}, n_estimators=5).fit(X, y)
    with pytest.raises(ValueError, match="objective"):
        ConversionModel(objective="gamma", n_estimators=5).fit(X, y)
    model = _model().fit(X, y)
    with pytest.raises(RuntimeError, match="calibrate"):
        model.predict_interval(X)
    with pytest.raises(ValueError, match="lacks columns"):
        model.predict(X.drop(columns="noise"))
