"""Follower-account features, classifier, audience classes and the corrected fake share."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.real_datasets import load_real_accounts, shared_datasets_available
from models.follower_account import (
    FEATURE_NAMES,
    FollowerAccountClassifier,
    audit_accounts,
    classify_accounts,
    follower_account_features,
)

BOT = {"username": "jess_48213977", "followers": 20, "following": 4000, "posts_count": 0,
       "has_profile_pic": False}
PERSON = {"username": "marie.dupont", "followers": 420, "following": 310, "posts_count": 85,
          "has_profile_pic": True}


def _simulated_accounts(n_real: int, n_fake: int, seed: int) -> pd.DataFrame:
    """Labelled accounts with the usual contrasts (test data for the model's mechanics)."""
    rng = np.random.default_rng(seed)

    def block(n, fake):
        followers = rng.lognormal(3.0 if fake else 5.5, 1.2, n)
        following = np.minimum(rng.lognormal(7.2 if fake else 5.8, 0.6 if fake else 0.8, n),
                               7500)
        posts = np.where(rng.random(n) < (0.6 if fake else 0.05), 0,
                         rng.lognormal(1.5 if fake else 3.8, 1.0, n))
        digits = rng.poisson(4 if fake else 0.5, n)
        names = [f"user{'x' * int(k)}{'7' * int(d)}" for k, d in
                 zip(rng.integers(3, 10, n), digits, strict=True)]
        return pd.DataFrame({
            "username": names,
            "followers": followers.astype(int),
            "following": following.astype(int),
            "posts_count": posts.astype(int),
            "has_profile_pic": rng.random(n) < (0.55 if fake else 0.95),
            "is_private": rng.random(n) < (0.3 if fake else 0.45),
            "bio_length": np.where(rng.random(n) < (0.8 if fake else 0.3), 0,
                                   rng.integers(5, 150, n)),
            "has_external_url": rng.random(n) < (0.02 if fake else 0.12),
            "is_fake": fake,
        })

    frame = pd.concat([block(n_real, False), block(n_fake, True)], ignore_index=True)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def simulated_classifier():
    accounts = _simulated_accounts(1500, 1500, seed=1)
    return FollowerAccountClassifier(n_estimators=120, random_state=0).fit(
        accounts, accounts["is_fake"])


def test_features_are_float64_and_use_username_when_given():
    accounts = pd.DataFrame({
        "username": ["abc123", None],
        "username_length": pd.array([None, 10], dtype="Int64"),
        "username_digit_count": pd.array([None, 5], dtype="Int64"),
        "followers": pd.array([0, 100], dtype="Int64"),
        "following": pd.array([99, None], dtype="Int64"),
        "posts_count": pd.array([0, 3], dtype="Int64"),
        "has_profile_pic": pd.array([True, None], dtype="boolean"),
    })
    features = follower_account_features(accounts)
    assert list(features.columns) == list(FEATURE_NAMES)
    assert (features.dtypes == "float64").all()
    assert features.loc[0, ["username_length", "username_digit_count"]].tolist() == [6, 3]
    assert features.loc[0, "username_digit_ratio"] == pytest.approx(0.5)
    assert features.loc[1, ["username_length", "username_digit_count"]].tolist() == [10, 5]
    assert features.loc[0, "log_following_to_followers"] == pytest.approx(np.log(100))
    assert np.isnan(features.loc[1, "log_following_to_followers"])
    assert features.loc[0, "has_profile_pic"] == 1.0
    assert np.isnan(features.loc[1, "has_profile_pic"])
    assert features[["is_private", "bio_length", "has_external_url"]].isna().all().all()


def test_features_name_bad_column():
    with pytest.raises(ValueError, match="'following'.*rows \\[1\\]"):
        follower_account_features(pd.DataFrame({"followers": [1, 2], "following": ["3", "x"]}))
    with pytest.raises(ValueError, match="'posts_count': negative"):
        follower_account_features(pd.DataFrame({"followers": [1], "posts_count": [-1]}))


def test_classifier_separates_bot_from_person(simulated_classifier):
    model = simulated_classifier
    p_bot, p_person = model.predict_fake_proba(pd.DataFrame([BOT, PERSON]))
    assert p_bot > 0.8 and p_person < 0.2
    assert model.feature_names_ == list(FEATURE_NAMES)
    assert model.booster_.num_trees() == 120
    assert model.share_estimator_.method == "sld" and hasattr(model, "field_drift_")
    assert 0.8 < model.sensitivity_ <= 1 and 0.8 < model.specificity_ <= 1
    assert 0.5 < model.minimal_sensitivity_ <= 1


def test_classifier_works_with_minimal_fields(simulated_classifier):
    accounts = _simulated_accounts(300, 300, seed=7)
    minimal = accounts[["followers", "following", "posts_count", "has_profile_pic", "username"]]
    p_fake = simulated_classifier.predict_fake_proba(minimal)
    assert p_fake.shape == (600,) and np.all((p_fake >= 0) & (p_fake <= 1))
    accuracy = np.mean((p_fake >= 0.5) == accounts["is_fake"].to_numpy())
    assert accuracy > 0.85
    # Without even a username or a picture flag: still usable, never an error.
    counts_only = accounts[["followers", "following", "posts_count"]]
    assert np.mean((simulated_classifier.predict_fake_proba(counts_only) >= 0.5)
                   == accounts["is_fake"].to_numpy()) > 0.75


def test_classifier_rejects_bad_fit_and_unfitted_use():
    accounts = _simulated_accounts(20, 20, seed=2)
    with pytest.raises(ValueError, match="both fake and real"):
        FollowerAccountClassifier().fit(accounts, np.ones(40, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        FollowerAccountClassifier().fit(accounts, np.ones(3, dtype=bool))
    with pytest.raises(RuntimeError, match="not fitted"):
        FollowerAccountClassifier().predict_fake_proba(accounts)


@pytest.mark.real_data
@pytest.mark.skipif(not shared_datasets_available(),
                    reason="shared labelled data sets (../shared/datasets) not found")
def test_real_trained_classifier_flags_the_bot():
    accounts = load_real_accounts()
    subset = pd.concat([accounts[accounts["source"] == "kaggle"],
                        accounts[accounts["source"] == "purba"].sample(4000, random_state=0)])
    model = FollowerAccountClassifier(n_estimators=100).fit(subset, subset["is_fake"])
    p_bot, p_person = model.predict_fake_proba(pd.DataFrame([BOT, PERSON]))
    assert p_bot > 0.7 and p_person < 0.5 and p_bot > p_person + 0.3


def test_classify_accounts_vendor_classes():
    accounts = pd.DataFrame({"followers": [10, 9000, 300, 300, 9000, None],
                             "following": [5000, 5000, 2000, 200, 100, None]})
    p_fake = np.array([0.9, 0.1, 0.2, 0.3, 0.5, 0.1])
    assert classify_accounts(accounts, p_fake).tolist() == [
        "suspicious", "influencer", "mass_follower", "real", "suspicious", "real"]
    assert classify_accounts(accounts, p_fake, threshold=0.95)[0] == "mass_follower"


def test_audit_accounts_classes_at_the_audience_share(simulated_classifier):
    """One audit for every caller: shares per group, posterior classes, interval around."""
    accounts = _simulated_accounts(300, 60, seed=11)
    group = np.r_[np.zeros(180, dtype="int64"), np.ones(180, dtype="int64")]
    audit = audit_accounts(simulated_classifier, accounts, group, 2)
    estimates = audit.estimates
    assert estimates.share.shape == (2,) and estimates.n_accounts.tolist() == [180, 180]
    assert np.all(estimates.low <= estimates.share) and np.all(estimates.share <= estimates.high)
    truth = accounts["is_fake"].to_numpy()
    for g in (0, 1):
        assert abs(estimates.share[g] - truth[group == g].mean()) < 0.1
    # Bayes' rule at the audience's share: within an audience, the balanced order is kept.
    first = group == 0
    order = np.argsort(audit.p_fake_balanced[first])
    assert np.all(np.diff(audit.p_fake[first][order]) >= -1e-12)
    assert (audit.classes == "suspicious").tolist() == (audit.p_fake >= 0.5).tolist()
    single = audit_accounts(simulated_classifier, accounts.iloc[:180])
    assert single.estimates.share[0] == pytest.approx(estimates.share[0])


def test_typed_columns_give_the_same_features_as_the_general_path():
    """Validated (Int64 / boolean / str) columns take a fast path; object columns of the same
    values go through pandas' conversions: both must agree, and classes too."""
    typed = pd.DataFrame({
        "username": pd.array(["ab12", None, "é9x٣", "", "user_2024"], dtype="str"),
        "followers": pd.array([10, None, 6000, 0, 2**40], dtype="Int64"),
        "following": pd.array([2000, 5, None, 0, 3], dtype="Int64"),
        "posts_count": pd.array([0, 1, 2, None, 4], dtype="Int64"),
        "has_profile_pic": pd.array([True, None, False, True, False], dtype="boolean"),
        "bio_length": [0.0, np.nan, 3.0, 4.0, 5.0],
        "username_digit_ratio": [0.1, 0.9, np.nan, 0.2, 0.3],
    }, index=[5, 3, 9, 1, 0])
    general = typed.astype(object).where(typed.notna(), None)
    pd.testing.assert_frame_equal(follower_account_features(typed),
                                  follower_account_features(general))
    p_fake = np.array([0.1, 0.9, 0.2, 0.3, 0.4])
    expected = ["mass_follower", "suspicious", "influencer", "real", "influencer"]
    assert classify_accounts(typed, p_fake).tolist() == expected
    assert classify_accounts(general, p_fake).tolist() == expected
    with pytest.raises(ValueError, match="negative values"):
        follower_account_features(typed.assign(followers=pd.array([-1, 2, 3, 4, 5],
                                                                   dtype="Int64")))
