import numpy as np
import pandas as pd
import pytest

from models.fake_risk import COMPONENTS, FakeFollowerRiskModel
from training.metrics import interval_coverage, roc_auc


def _creators(n, seed):
    rng = np.random.default_rng(seed)
    share = rng.beta(1.5, 6, n)
    bought = rng.random(n) < 0.3
    share = np.clip(share + bought * rng.uniform(0.1, 0.4, n), 0, 1)
    has_sample = rng.random(n) < 0.5
    sample_share = np.clip(share + rng.normal(0, 0.04, n), 0, 1)
    X = pd.DataFrame({
        "largest_step_relative_growth": np.where(bought, rng.uniform(0.3, 1.5, n),
                                                 rng.uniform(0, 0.3, n)),
        "largest_step_engagement_ratio": np.where(bought, rng.uniform(0.6, 1.1, n),
                                                  rng.uniform(0.8, 2.0, n)),
        "follower_growth_max_robust_z": np.where(bought, rng.uniform(5, 40, n),
                                                 rng.uniform(0, 5, n)),
        "engagement_rate_vs_cohort_median": np.exp(-2 * share + rng.normal(0, 0.3, n)),
        "has_audience_sample": has_sample.astype(float),
        "audience_fake_share": np.where(has_sample, sample_share, np.nan),
        "audience_fake_share_low": np.where(has_sample, sample_share - 0.05, np.nan),
        "audience_fake_share_high": np.where(has_sample, sample_share + 0.05, np.nan),
        "audience_share_mass_follower": np.where(has_sample, rng.uniform(0, 0.3, n), np.nan),
        "comment_generic_share": rng.uniform(0, 1, n),
    }, index=pd.Index([f"cr{i}" for i in range(n)], name="creator_id"))
    labels = pd.DataFrame({"creator_id": X.index.to_numpy(), "fake_follower_share": share,
                           "bought_followers": pd.array(bought, dtype="boolean")})
    return X, labels


def test_risk_model_learns_and_covers():
    X, labels = _creators(1600, 0)
    train, test = labels.iloc[:1200], labels.iloc[1200:]
    model = FakeFollowerRiskModel(n_estimators=80, num_threads=1).fit(X, train)
    out = model.predict(X.loc[test["creator_id"]])
    assert roc_auc(test["bought_followers"].astype(float), out["fake_follower_risk"]) > 0.9
    y = test["fake_follower_share"].to_numpy()
    assert interval_coverage(y, out["fake_share_low"], out["fake_share_high"]) >= 0.82
    width = out["fake_share_high"] - out["fake_share_low"]
    has = X.loc[test["creator_id"], "has_audience_sample"].to_numpy() > 0
    assert width[has].mean() < width[~has].mean()  # a sample narrows the interval
    assert set(COMPONENTS) <= set(out.columns)
    assert out["audience_quality"].between(0, 100).all()
    assert set(out["verdict"]) <= {"ok", "check", "avoid", "unknown"}


def test_audience_quality_formula():
    X, labels = _creators(200, 1)
    model = FakeFollowerRiskModel(n_estimators=10, num_threads=1).fit(X, labels)
    quality = model.audience_quality(np.array([0.2, 0.0]), np.array([0.1, np.nan]),
                                     np.array([0.5, np.nan]))
    assert quality[0] == pytest.approx(100 * 0.8 * (1 - 0.05) * (1 - 0.15))
    assert quality[1] == pytest.approx(100 * (1 - 0.5 * model.mass_follower_fill_))


def test_components_pod_and_growth_scores():
    X, labels = _creators(200, 2)
    model = FakeFollowerRiskModel(n_estimators=10, num_threads=1).fit(X, labels)
    probe = X.head(2).copy()
    probe["comment_generic_share"] = [1.0, 0.0]
    probe["follower_growth_max_robust_z"] = [3.0, 14.0]
    comps = model.components(probe, np.array([0.1, 0.9]))
    assert comps["engagement_pod_score"].iloc[0] == pytest.approx(1.0)
    assert comps["engagement_pod_score"].iloc[1] == pytest.approx(0.0)
    assert comps["growth_anomaly_score"].tolist() == [0.0, 1.0]
    assert comps["growth_step_relative_size"].notna().all()  # evidence is carried along


def test_without_labels_falls_back_to_the_sample():
    X, _ = _creators(100, 3)
    out = FakeFollowerRiskModel(n_estimators=10).fit(X, None).predict(X)
    assert out["fake_follower_risk"].isna().all()
    np.testing.assert_allclose(out["fake_share"], X["audience_fake_share"])
    assert (out.loc[X["has_audience_sample"] == 0, "verdict"] == "unknown").all()


def test_unknown_labelled_creator_is_an_error():
    X, labels = _creators(100, 4)
    labels.loc[0, "creator_id"] = "ghost"
    with pytest.raises(ValueError, match="ghost"):
        FakeFollowerRiskModel(n_estimators=5).fit(X, labels)
