import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from models.follower_account import RuleBasedFollowerScorer, audit_accounts
from models.quantification import FakeShareEstimator
from tests.features.conftest import make_dataset, regular_posts


class FixedScorer:
    """Flags exactly the accounts with no profile picture."""

    share_estimator_ = FakeShareEstimator(method="acc").fit_rates(0.8, 0.05)

    def predict_fake_proba(self, accounts):
        return np.where(accounts["has_profile_pic"].to_numpy(dtype=bool), 0.1, 0.9)

    def audit(self, accounts, group=None, n_groups=None):
        return audit_accounts(self, accounts, group, n_groups)


def test_audience_class_shares_and_fake_share_interval():
    # 20 accounts: 4 no-picture (suspicious), 2 influencers, 4 mass followers, 10 real.
    followers = [10] * 4 + [9_000] * 2 + [100] * 4 + [100] * 10
    following = [10] * 4 + [100] * 2 + [2_000] * 4 + [200] * 10
    pic = [False] * 4 + [True] * 16
    audience = pd.DataFrame({"creator_id": "a", "followers": followers, "following": following,
                             "posts_count": 10, "has_profile_pic": pic})
    ds = make_dataset(creators={"creator_id": ["a", "b"], "platform": ["instagram"] * 2,
                                "followers": [5_000, 5_000]},
                      posts=pd.concat([regular_posts("a", 3, 10, 1), regular_posts("b", 3, 10, 1)]),
                      audience_sample=audience)
    out = FeaturePipeline(follower_scorer=FixedScorer()).fit(ds).transform_creators(ds)
    row = out.loc["a"]
    assert row["audience_sample_size"] == 20 and row["has_audience_sample"] == 1
    assert row["audience_share_suspicious"] == pytest.approx(0.2)
    assert row["audience_share_influencer"] == pytest.approx(0.1)
    assert row["audience_share_mass_follower"] == pytest.approx(0.2)
    assert row["audience_share_real"] == pytest.approx(0.5)
    assert (0.15 / 0.75) == pytest.approx(row["audience_fake_share"])  # adjusted count by hand
    estimates = FixedScorer.share_estimator_.estimate_groups(
        FixedScorer().predict_fake_proba(audience))
    assert row["audience_fake_share_low"] == pytest.approx(float(estimates.low[0]))
    assert row["audience_fake_share_high"] == pytest.approx(float(estimates.high[0]))
    assert row["audience_fake_share_low"] < row["audience_fake_share"] < row[
        "audience_fake_share_high"]
    # no sample: NaN and a coverage flag of 0, no crash
    assert out.loc["b", "has_audience_sample"] == 0
    assert np.isnan(out.loc["b", "audience_fake_share"])


def test_rule_based_scorer_separates_obvious_fakes():
    accounts = pd.DataFrame({
        "followers": [3, 400], "following": [2_000, 350], "posts_count": [0, 80],
        "has_profile_pic": pd.array([False, True], dtype="boolean"),
        "username": ["anna83749201", "anna.cooks"], "bio_length": [0, 40]})
    p = RuleBasedFollowerScorer().predict_fake_proba(accounts)
    assert p[0] > 0.9 and p[1] < 0.1
    scorer = RuleBasedFollowerScorer().fit(accounts, [True, False])
    assert scorer.sensitivity_ == 1.0 and scorer.specificity_ == 1.0


def test_niche_inferred_from_hashtags_and_unknown_text():
    posts = pd.concat([
        regular_posts("fit", 4, 10, 1, caption="Leg day done #gym #workout #protein"),
        regular_posts("cook", 4, 10, 1, caption="Sunday #recipe #baking #dessert"),
        regular_posts("unknown", 4, 10, 1, caption="zorblax quintessa vrumm"),
        regular_posts("declared", 4, 10, 1, caption="plinko"),
    ])
    ds = make_dataset(creators={"creator_id": ["fit", "cook", "unknown", "declared"],
                                "platform": ["instagram"] * 4, "followers": [5_000] * 4,
                                "niche": [None, None, None, "travel"]}, posts=posts)
    out = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(ds)
    shares = out.filter(like="niche_share_")
    assert shares.loc["fit"].idxmax() == "niche_share_fitness"
    assert shares.loc["fit", "niche_share_fitness"] == pytest.approx(1.0)
    assert shares.loc["cook"].idxmax() == "niche_share_food"
    assert shares.loc["unknown"].isna().all()  # unseen words: no guess, not a crash
    assert out.loc["unknown", "niche_known_tokens"] == 0
    assert shares.loc["declared", "niche_share_travel"] == 1.0
