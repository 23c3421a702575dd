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


def _trend_data(n, seed, size_range):
    # The rate per exposure falls as a power of size (like conversions per follower).
    rng = np.random.default_rng(seed)
    size = np.exp(rng.uniform(*np.log(size_range), n))
    fit = rng.uniform(0, 1, n)
    mu = size * 1e-3 * (size / 1e4) ** -0.4 * np.exp(fit)
    X = pd.DataFrame({"size": size, "fit": fit, "exposure": size})
    return X, rng.poisson(mu), mu


def test_log_linear_part_extrapolates_beyond_the_training_range():
    X, y, _ = _trend_data(4000, 0, (1e3, 1e5))
    X_far, _, mu_far = _trend_data(1000, 1, (1e6, 1e7))  # ten times larger than any seen
    common = {"exposure_feature": "exposure", "n_estimators": 80, "num_threads": 1, "seed": 0}
    trees = ConversionModel(**common).fit(X, y)
    glm = ConversionModel(glm_features={"size": "log", "fit": "linear"}, **common).fit(X, y)
    error = {name: abs(np.log(model.predict(X_far).sum() / mu_far.sum()))
             for name, model in (("trees", trees), ("glm", glm))}
    assert error["glm"] < 0.15 < error["trees"]
    with pytest.raises(ValueError, match="transforms"):
        ConversionModel(glm_features={"size": "cube"}, **common).fit(X, y)
    with pytest.raises(ValueError, match="lacks"):
        ConversionModel(glm_features={"nothing": "log"}, **common).fit(X, y)


def test_level_is_corrected_on_the_calibration_slice():
    X, y, _ = _data(3000, 0)
    X_cal, _, mu_cal = _data(1500, 1)
    y_cal = np.random.default_rng(9).poisson(2.0 * mu_cal)  # the level doubled since training
    plain = _model().fit(X, y, X_cal, y_cal)
    corrected = _model(calibrate_level=True).fit(X, y, X_cal, y_cal)
    assert corrected.level_log_factor_ == pytest.approx(np.log(2.0), abs=0.12)
    np.testing.assert_allclose(corrected.predict(X_cal),
                               plain.predict(X_cal) * np.exp(corrected.level_log_factor_))
    X_test, _, mu_test = _data(2000, 2)
    y_test = np.random.default_rng(10).poisson(2.0 * mu_test)
    _, low, high = corrected.predict_interval(X_test)
    assert 0.86 <= interval_coverage(y_test, low, high) <= 0.96


@pytest.mark.parametrize("glm_features", [None, {"fit": "linear", "exposure": "log"}])
def test_contributions_add_up_to_the_prediction(glm_features):
    X, y, _ = _data(2000, 0)
    X_cal, y_cal, _ = _data(800, 1)
    model = _model(glm_features=glm_features, calibrate_level=True).fit(X, y, X_cal, y_cal)
    contrib = model.contributions(X.head(50))
    assert contrib.shape == (50, X.shape[1] + 1)
    np.testing.assert_allclose(np.exp(contrib.sum(axis=1) + model.log_exposure(X.head(50))),
                               model.predict(X.head(50)), rtol=1e-9)
