import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.catalogue import feature_labels
from models.explain import contributions, explain_rows, readable_sizes


def _booster(objective, y, X):
    params = {"objective": objective, "verbosity": -1, "num_threads": 1, "seed": 0,
              "min_data_in_leaf": 5}
    return lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=30)


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"engagement_rate_median": rng.uniform(0, 0.1, n),
                         "follower_growth_max_robust_z": rng.normal(0, 5, n),
                         "unlisted_feature": rng.normal(0, 1, n)})


def test_probability_explanations_are_exact_treeshap_and_readable():
    X = _frame()
    y = (X["follower_growth_max_robust_z"] > 3).astype(float)
    booster = _booster("binary", y, X)
    contrib = contributions(booster, X.head(5))
    raw = booster.predict(X.head(5), raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)
    sizes = readable_sizes(contrib, "probability")
    total = contrib.sum(axis=1)
    expected = 1 / (1 + np.exp(-total)) - 1 / (1 + np.exp(-(total - contrib[:, 1])))
    np.testing.assert_allclose(sizes[:, 1], expected)
    items = explain_rows(booster, X.head(5), "bought_followers", "probability", top_n=2,
                         labels=feature_labels())
    assert len(items) == 5 and all(len(row) <= 2 for row in items)
    first = items[0][0]
    assert first["feature"] == "follower_growth_max_robust_z"
    assert first["label"] == "Largest growth anomaly (robust z)"  # from the catalogue
    assert first["family"] == "authenticity"
    assert first["direction"] in ("up", "down")
    assert "points" in first["text"]
    assert {"model", "feature", "label", "family", "value", "contribution", "direction",
            "text"} <= set(first)


def test_count_explanations_are_multipliers():
    X = _frame()
    rng = np.random.default_rng(1)
    y = rng.poisson(np.exp(10 * X["engagement_rate_median"]))
    booster = _booster("poisson", y, X)
    contrib = contributions(booster, X.head(3))
    multipliers = readable_sizes(contrib, "count")
    np.testing.assert_allclose(np.prod(multipliers, axis=1) * np.exp(contrib[:, -1]),
                               booster.predict(X.head(3)), rtol=1e-9)
    items = explain_rows(booster, X.head(3), "conversions", "count", top_n=X.shape[1],
                         labels={"unlisted_feature": ("My label", "campaign", "")})
    labels = {i["feature"]: i["label"] for row in items for i in row}
    assert labels["unlisted_feature"] == "My label"
    assert all("multiplies" in i["text"] for row in items for i in row)
    with pytest.raises(ValueError):
        readable_sizes(contrib, "weird")
