"""The synthetic world: contract validity, determinism, extension, and calibration to domain.md."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.contract import TABLES
from data.loader import load_dataset, validate_tables
from data.synthetic import generate_follower_accounts, generate_world, write_world
from data.synthetic.world import World


@pytest.fixture(scope="module")
def world() -> World:
    # Big enough for tier medians, small enough to stay fast (~2 s).
    return generate_world(4000, 40, seed=7, posts_per_creator=20)


@pytest.fixture(scope="module")
def small() -> World:
    return generate_world(150, 12, seed=3, posts_per_creator=15)


def _creator_medians(world: World) -> pd.DataFrame:
    posts = world.tables["posts"].merge(
        world.truth["creator_truth"][["creator_id", "platform", "tier", "followers"]],
        on="creator_id")
    posts = posts.merge(world.truth["post_truth"][["post_id", "viral_post"]], on="post_id")
    engagements = (posts["likes"] + posts["comments"]).astype("float64")
    posts["er_followers"] = engagements / posts["followers"]
    posts["er_views"] = engagements / posts["views"].astype("float64")
    return posts.groupby(["platform", "tier", "creator_id"]).agg(
        er_followers=("er_followers", "median"), er_views=("er_views", "median"),
        followers=("followers", "first")).reset_index()


def test_tables_are_valid_under_the_contract(small):
    for name, frame in small.tables.items():
        assert list(frame.columns) == [c.name for c in TABLES[name].columns], name
    dataset = validate_tables(small.tables)
    assert len(dataset.creators) == 150
    assert len(dataset.posts) == 150 * 15
    assert dataset.collaborations["conversions"].notna().all()


def test_write_world_round_trips_through_the_loader(small, tmp_path):
    write_world(small, tmp_path)
    dataset = load_dataset(tmp_path)
    assert len(dataset.comments) == len(small.tables["comments"])
    assert (tmp_path / "truth" / "creator_truth.csv").exists()
    assert (tmp_path / "truth" / "collaboration_truth.csv").exists()


def test_same_seed_same_world_other_seed_other_world(small):
    again = generate_world(150, 12, seed=3, posts_per_creator=15)
    for name, frame in small.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    pd.testing.assert_frame_equal(small.truth["collaboration_truth"],
                                  again.truth["collaboration_truth"])
    other = generate_world(150, 12, seed=4, posts_per_creator=15)
    assert not other.tables["posts"]["likes"].equals(small.tables["posts"]["likes"])


def test_more_campaigns_keep_the_old_ones_unchanged(small):
    bigger = generate_world(150, 30, seed=3, posts_per_creator=15)
    old_campaigns = small.tables["campaigns"]
    pd.testing.assert_frame_equal(bigger.tables["campaigns"].iloc[:len(old_campaigns)],
                                  old_campaigns)
    old = small.tables["collaborations"]
    new = bigger.tables["collaborations"]
    pd.testing.assert_frame_equal(new[new["campaign_id"].isin(old_campaigns["campaign_id"])]
                                  .reset_index(drop=True), old)
    assert len(new) > len(old)
    for name in ("creators", "posts", "follower_history", "audience_sample", "comments"):
        pd.testing.assert_frame_equal(bigger.tables[name], small.tables[name], obj=name)


def test_posts_precede_campaigns_and_collaborations_follow_start(small):
    campaigns = small.tables["campaigns"]
    posts = small.tables["posts"]
    assert posts["posted_at"].min() < campaigns["start_date"].min() - pd.Timedelta(days=90)
    collab = small.tables["collaborations"].merge(campaigns, on="campaign_id")
    assert (collab["posted_at"] >= collab["start_date"]).all()


def test_tier_mix_follows_domain(world):
    truth = world.truth["creator_truth"]
    shares = truth.groupby("platform")["tier"].value_counts(normalize=True)
    assert shares["instagram", "nano"] == pytest.approx(0.759, abs=0.03)
    assert shares["instagram", "micro"] + shares["instagram", "mid"] == pytest.approx(0.136,
                                                                                      abs=0.03)
    assert shares["tiktok", "nano"] == pytest.approx(0.8768, abs=0.03)


def test_instagram_median_engagement_rate_per_tier_matches_domain(world):
    medians = _creator_medians(world).groupby(["platform", "tier"])["er_followers"].median()
    # Seed articles: nano 2.71%, micro 1.81%, mid 1.24%, macro 0.61-0.87%, mega 0.68-0.94%.
    bands = {"nano": (0.022, 0.032), "micro": (0.014, 0.022), "mid": (0.009, 0.016),
             "macro": (0.0055, 0.0100)}
    for tier, (low, high) in bands.items():
        assert low <= medians["instagram", tier] <= high, (tier, medians["instagram", tier])
    assert 0.103 <= medians["tiktok", "nano"] <= 0.18  # TikTok nano 10.3-18%


def test_views_bands_on_tiktok_and_youtube(world):
    medians = _creator_medians(world)
    medians["band"] = np.searchsorted([5_000, 10_000, 50_000], medians["followers"], "right")
    by_band = medians.groupby(["platform", "band"])["er_views"].median()
    # vendor medians, engagements / views: TikTok 1-5K 12-14%, 10-50K 8.4-9.4%;
    # YouTube 1-5K 1.5-2.0%, 10-50K 0.4-0.5% (10% tolerance).
    assert 0.12 * 0.9 <= by_band["tiktok", 0] <= 0.14 * 1.1
    assert 0.084 * 0.9 <= by_band["tiktok", 2] <= 0.094 * 1.1
    assert 0.015 * 0.9 <= by_band["youtube", 0] <= 0.020 * 1.1
    assert 0.004 * 0.9 <= by_band["youtube", 2] <= 0.005 * 1.1


def test_niche_match_lifts_sponsored_engagement_and_views(world):
    posts = world.tables["posts"].merge(world.truth["post_truth"], on=["post_id", "creator_id"])
    organic = posts[~posts["sponsored_y"]]
    engagements = (posts["likes"] + posts["comments"] - 2 * posts["pod_comments"]).astype(float)
    posts["engagement_index"] = engagements / posts["creator_id"].map(
        (organic["likes"] + organic["comments"]).astype(float).groupby(organic["creator_id"])
        .median())
    posts["views_index"] = posts["views"].astype(float) / posts["creator_id"].map(
        organic["views"].astype(float).groupby(organic["creator_id"]).median())
    sponsored = posts[posts["sponsored_y"] & ~posts["viral_post"]]
    by_match = sponsored.groupby("niche_match")[["engagement_index", "views_index"]].median()
    engagement_lift = by_match.loc[True, "engagement_index"] / by_match.loc[False,
                                                                            "engagement_index"]
    views_lift = by_match.loc[True, "views_index"] / by_match.loc[False, "views_index"]
    assert 1.05 <= engagement_lift <= 1.25  # +13.59%
    assert 1.55 <= views_lift <= 2.1  # +81.39%


def test_fake_share_distribution_matches_srf_study(world):
    share = world.truth["creator_truth"]["fake_follower_share"]
    assert 0.25 <= share.mean() <= 0.35  # ~30% on average
    assert 0.14 <= share.median() <= 0.20  # median per creator 14-20%
    assert 0.15 <= (share > 0.5).mean() <= 0.35  # ~30 of 115 creators above 50%


def test_bought_followers_arrive_as_a_step_that_engagement_does_not_follow(world):
    truth = world.truth["creator_truth"].set_index("creator_id")
    history = world.tables["follower_history"]
    wide = history.pivot(index="creator_id", columns="date", values="followers").astype(float)
    two_week_jump = (wide.shift(-2, axis=1) / wide).max(axis=1).reindex(truth.index) - 1
    bought = truth["bought_followers"]
    viral = truth["viral_spike"]
    clean = ~bought & ~viral
    assert two_week_jump[bought].median() > 0.35
    assert two_week_jump[clean].quantile(0.99) < 0.08
    jump_week = (wide.shift(-2, axis=1) / wide).idxmax(axis=1).reindex(truth.index)
    delay = (truth.loc[bought, "bought_date"] - jump_week[bought]).dt.days
    assert (delay.between(0, 14)).mean() > 0.95

    # Engagement per current follower, before vs after the event: flat for bought followers
    # (down relative to followers), up with a genuine viral spike.
    posts = world.tables["posts"].merge(truth[["bought_date", "viral_date"]], left_on="creator_id",
                                        right_index=True)
    engagements = (posts["likes"] + posts["comments"]).astype(float)

    def after_over_before(mask, date_column):
        sub = posts[mask.reindex(posts["creator_id"]).to_numpy()]
        after = sub["posted_at"] > sub[date_column] + pd.Timedelta(days=14)
        grouped = engagements[sub.index].groupby([sub["creator_id"], after]).median().unstack()
        return (grouped[True] / grouped[False]).median()

    assert after_over_before(bought, "bought_date") < 1.2
    assert after_over_before(viral, "viral_date") > 1.3


def test_audience_samples_reflect_fake_share_and_comments_show_pods(world):
    audience = world.truth["audience_truth"]
    truth = world.truth["creator_truth"].set_index("creator_id")
    sample_share = audience.groupby("creator_id")["is_fake"].mean()
    true_share = truth.loc[sample_share.index, "fake_follower_share"]
    assert np.corrcoef(sample_share, true_share)[0, 1] > 0.9
    sizes = audience.groupby("creator_id").size()
    assert sizes.between(100, 200).all()
    assert 0.3 <= len(sizes) / len(truth) <= 0.5

    # Pods: generic comments from a small set of commenters who come back on many posts.
    comments = world.tables["comments"]
    posts_per_commenter = comments.groupby("commenter_id")["post_id"].transform("nunique")
    generic = comments["text"].isin(["Nice!", "🔥🔥", "love this", "Amazing ❤️", "🔥", "Wow"])
    pod_like = (generic & (posts_per_commenter >= 3)).groupby(comments["creator_id"]).mean()
    pod = truth.loc[pod_like.index, "engagement_pod"]
    assert pod_like[pod].median() > 3 * pod_like[~pod].median()


def test_conversions_depend_on_real_reach_and_fit_not_price_tag(world):
    collab = world.tables["collaborations"].merge(world.truth["collaboration_truth"],
                                                  on=["campaign_id", "creator_id"])
    fit = collab.groupby("niche_fit")["expected_conversions"].median()
    assert fit["primary"] > fit["none"]
    observed, expected = collab["conversions"].astype(float), collab["expected_conversions"]
    assert observed.sum() == pytest.approx(expected.sum(), rel=0.35)
    roi = collab["expected_revenue"] / collab["cost"]
    by_tier = roi.groupby(collab["tier"]).median()
    assert by_tier["nano"] > by_tier["macro"]  # cost is not proportional to value
    assert (collab["repeat_count"] > 0).any()


def test_captions_and_briefs_carry_niche_vocabulary(world):
    posts = world.tables["posts"].merge(world.truth["post_truth"], on=["post_id", "creator_id"])
    beauty = posts[posts["content_niche"] == "beauty"]["caption"]
    tech = posts[posts["content_niche"] == "tech"]["caption"]
    assert beauty.str.contains("#skincare|#makeup|#mua|#glowup|#beautytips").mean() > 0.9
    assert tech.str.contains("#skincare|#makeup|#mua|#glowup|#beautytips").mean() < 0.1
    declared = world.tables["creators"]["niche"].notna().mean()
    assert 0.45 <= declared <= 0.75


def test_follower_accounts_are_labelled_and_fakes_look_fake():
    accounts = generate_follower_accounts(600, 400, seed=1)
    assert len(accounts) == 1000 and accounts["is_fake"].sum() == 400
    assert set(TABLES["audience_sample"].column_by_name) <= set(accounts.columns)
    fake, real = accounts[accounts["is_fake"]], accounts[~accounts["is_fake"]]
    assert fake["posts_count"].median() < real["posts_count"].median()
    assert (fake["following"] / (fake["followers"] + 1)).median() > 3 * (
        real["following"] / (real["followers"] + 1)).median()
    digits = accounts["username"].str.count(r"\d")
    assert digits[accounts["is_fake"]].mean() > 2 * digits[~accounts["is_fake"]].mean()
    again = generate_follower_accounts(600, 400, seed=1)
    pd.testing.assert_frame_equal(accounts, again)


def test_a_world_without_audience_samples_is_generated_and_valid():
    from data.loader import validate_tables
    from data.synthetic import generate_world

    world = generate_world(n_creators=30, n_campaigns=2, seed=2, audience_share=0.0)
    assert len(world.tables["audience_sample"]) == 0
    assert "follower_id" in world.tables["audience_sample"].columns
    assert len(validate_tables(world.tables).creators) == 30
