import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from models.follower_account import RuleBasedFollowerScorer
from tests.features.conftest import START, make_dataset, regular_posts

CREATORS = {"creator_id": ["bought", "viral"], "platform": ["instagram"] * 2,
            "followers": [20_000] * 2}


def _history(creator_id, jump_day, jump):
    days = np.arange(0, 120, 7)
    followers = 10_000 * (1.005 ** np.arange(len(days)))
    followers[days >= jump_day] *= 1 + jump
    return pd.DataFrame({"creator_id": creator_id, "date": START + pd.to_timedelta(days, "D"),
                         "followers": followers.astype("int64")})


def test_growth_step_bought_vs_viral():
    # Both jump +80% on day 63. Bought: engagement per post unchanged; viral: it follows.
    likes_bought = np.full(60, 300)
    likes_viral = np.where(np.arange(60) * 2 >= 63, 540, 300)
    posts = pd.concat([regular_posts("bought", 60, likes=likes_bought, comments=20),
                       regular_posts("viral", 60, likes=likes_viral, comments=20)])
    history = pd.concat([_history("bought", 63, 0.8), _history("viral", 63, 0.8)])
    ds = make_dataset(creators=CREATORS, posts=posts, follower_history=history)
    out = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(
        ds, as_of="2024-05-01")
    for creator in ("bought", "viral"):
        row = out.loc[creator]
        assert row["has_follower_history"] == 1
        assert row["largest_step_relative_growth"] == pytest.approx(1.8 * 1.005 - 1, rel=1e-3)
        assert row["follower_growth_max_robust_z"] > 100
        assert row["follower_growth_anomalies"] == 1
        assert row["largest_step_days_before_as_of"] == (pd.Timestamp("2024-05-01")
                                                        - (START + pd.Timedelta(days=63))).days
    assert out.loc["bought", "largest_step_engagement_ratio"] == pytest.approx(1.0)
    assert out.loc["bought", "largest_step_engagement_follow_through"] == pytest.approx(0.0)
    assert out.loc["viral", "largest_step_engagement_ratio"] == pytest.approx(560 / 320)
    assert out.loc["viral", "largest_step_engagement_follow_through"] > 0.9
    # followers as of the cutoff come from the last snapshot before it
    last_snapshot = history[history.creator_id == "bought"].followers.iloc[-1]
    assert out.loc["bought", "followers"] == last_snapshot


def test_comment_pod_signals():
    posts = pd.concat([regular_posts("pod", 2, likes=100, comments=10),
                       regular_posts("organic", 2, likes=100, comments=10)])
    pod_texts = ["Nice pic!", "nice pic", "🔥🔥🔥", "Love it ❤️", "great post", "Where is this?"]
    organic_texts = ["Where did you buy the jacket?", "This recipe worked for me",
                     "Love it ❤️", "how long did it take", "merci pour le tuto", "so helpful"]
    comments = pd.DataFrame({
        "creator_id": ["pod"] * 6 + ["organic"] * 6,
        "post_id": ["pod-p0"] * 6 + ["organic-p1"] * 6,
        "commenter_id": ["u1", "u1", "u2", "u1", "u2", "u3"] + [f"v{i}" for i in range(6)],
        "text": pod_texts + organic_texts,
    })
    ds = make_dataset(creators={"creator_id": ["pod", "organic"], "platform": ["instagram"] * 2,
                                "followers": [5_000] * 2}, posts=posts, comments=comments)
    out = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(ds)
    assert out.loc["pod", "comment_generic_share"] == pytest.approx(5 / 6)
    assert out.loc["organic", "comment_generic_share"] == pytest.approx(1 / 6)
    assert out.loc["pod", "comment_duplicate_share"] == pytest.approx(2 / 6)  # "nice pic" x2
    assert out.loc["organic", "comment_duplicate_share"] == 0
    assert out.loc["pod", "commenter_herfindahl"] == pytest.approx((9 + 4 + 1) / 36)
    assert out.loc["organic", "commenter_herfindahl"] == pytest.approx(1 / 6)
    assert out.loc["pod", "commenter_top10_share"] == 1.0
    assert out.loc["pod", "comments_per_commenter"] == 2.0
    assert out["has_comments"].tolist() == [1.0, 1.0]


def test_account_signals():
    ds = make_dataset(
        creators={"creator_id": ["a"], "platform": ["instagram"], "followers": [1_000],
                  "following": [4_000], "posts_count": [120],
                  "account_created": ["2023-01-01"], "verified": [True]},
        posts=regular_posts("a", 5, likes=10, comments=1))
    out = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(
        ds, as_of="2024-01-05")
    assert out.loc["a", "following_to_followers"] == 4.0
    assert out.loc["a", "account_age_days"] == 369
    assert out.loc["a", "posts_count"] == 120 - 3  # posts of Jan 5, 7, 9 are not before it
    assert out.loc["a", "verified"] == 1.0
