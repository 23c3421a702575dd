import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from models.follower_account import RuleBasedFollowerScorer
from tests.features.conftest import make_dataset, regular_posts


def _features(creators, posts, **tables):
    ds = make_dataset(creators=creators, posts=posts, **tables)
    return FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(ds)


def test_engagement_rate_by_followers_mean_and_median():
    likes = [300] * 9 + [9_900]  # one viral post: the median ignores it, the mean does not
    posts = regular_posts("a", 10, likes=likes, comments=100)
    out = _features({"creator_id": ["a"], "platform": ["instagram"], "followers": [10_000]},
                    posts)
    assert out.loc["a", "engagement_rate_median"] == pytest.approx(0.04)
    assert out.loc["a", "engagement_rate_mean"] == pytest.approx((9 * 400 + 10_000) / 10 / 10_000)
    assert out.loc["a", "likes_per_comment"] == pytest.approx((9 * 300 + 9_900) / 1_000)
    assert out.loc["a", "posts_per_week"] == pytest.approx(3.5)  # one post every 2 days
    assert out.loc["a", "posting_gap_cv"] == pytest.approx(0.0)


def test_views_per_follower_shows_empty_reach():
    posts = pd.concat([
        regular_posts("empty", 5, likes=15_000, comments=500, views=20_000),
        regular_posts("real", 5, likes=1_000, comments=50, views=30_000),
    ])
    out = _features({"creator_id": ["empty", "real"], "platform": ["tiktok", "tiktok"],
                     "followers": [2_000_000, 20_000]}, posts)
    assert out.loc["empty", "views_per_follower_median"] == pytest.approx(0.01)
    assert out.loc["real", "views_per_follower_median"] == pytest.approx(1.5)
    assert out.loc["empty", "engagement_rate_by_views_median"] == pytest.approx(15_500 / 20_000)


def test_format_sponsored_and_trend():
    n = 8
    posts = regular_posts("a", n, likes=[100, 100, 100, 100, 300, 300, 300, 300], comments=0,
                          format=["image", "reel"] * 4,
                          sponsored=[True, False, False, False, True, False, False, False])
    out = _features({"creator_id": ["a"], "platform": ["instagram"], "followers": [1_000]},
                    posts)
    assert out.loc["a", "engagement_rate_median_image"] == pytest.approx(0.2)
    assert out.loc["a", "engagement_rate_median_reel"] == pytest.approx(0.2)
    assert np.isnan(out.loc["a", "engagement_rate_median_story"])
    assert out.loc["a", "sponsored_post_share"] == pytest.approx(0.25)
    assert out.loc["a", "sponsored_to_organic_engagement_ratio"] == pytest.approx(0.2 / 0.2)
    assert out.loc["a", "engagement_trend_ratio"] == pytest.approx(3.0)
    assert np.isnan(out.loc["a", "likes_per_comment"])  # no comments: undefined, not inf


def test_cohort_percentile_and_size():
    followers = [20_000] * 4
    posts = pd.concat([regular_posts(c, 3, likes=200 * (i + 1), comments=0)
                       for i, c in enumerate("abcd")])
    out = _features({"creator_id": list("abcd"), "platform": ["instagram"] * 4,
                     "followers": followers}, posts)
    assert out["cohort_size"].tolist() == [4.0] * 4
    # 100 * (below + 0.5 * equal) / n: a -> 12.5, d -> 87.5
    assert out["engagement_rate_median_cohort_percentile"].tolist() == [12.5, 37.5, 62.5, 87.5]
    assert out.loc["a", "engagement_rate_vs_cohort_median"] == pytest.approx(0.01 / 0.025)
