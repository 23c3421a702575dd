"""Assemble a synthetic world: contract tables + hidden truth, deterministic for a seed.

Each part draws from its own stream (`default_rng([seed, STREAM])`), so changing the number of
campaigns never changes the creators, posts, histories, audiences or comments, and each
campaign has its own stream (see `campaigns.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.contract import NICHES, PLATFORMS, TABLE_ORDER
from data.domain import TIERS
from data.io import write_dataset
from data.synthetic import params as P
from data.synthetic.assumptions import CALIBRATED, WorldAssumptions
from data.synthetic.audience import audience_sample
from data.synthetic.campaigns import simulate_campaigns
from data.synthetic.comments import comment_sample
from data.synthetic.creators import CreatorState, creators_table, draw_creators
from data.synthetic.history import History, history_table, simulate_history
from data.synthetic.posts import CreatorNorms, creator_norms, simulate_posts

STREAMS = {"creators": 1, "history": 2, "posts": 3, "audience": 4, "comments": 5, "labels": 6,
           "creator_table": 7}
AUDIT_NOISE_SIGMA = 0.03  # audits measure the fake share with a few points of error


@dataclass(frozen=True)
class World:
    """`tables`: contract tables by name; `truth`: the hidden quantities that generated them."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    seed: int


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[stream]])


def _creator_truth(state: CreatorState, history: History, norms: CreatorNorms,
                   creators: pd.DataFrame) -> pd.DataFrame:
    niches = np.asarray(NICHES, dtype=object)
    dates = history.dates.to_numpy(dtype="datetime64[ns]")
    nat = np.datetime64("NaT", "ns")
    bought_date = np.where(history.bought_week >= 0, dates[np.maximum(history.bought_week, 0)], nat)
    viral_date = np.where(history.viral_week >= 0, dates[np.maximum(history.viral_week, 0)], nat)
    return pd.DataFrame({
        "creator_id": creators["creator_id"],
        "platform": pd.array(np.asarray(PLATFORMS, dtype=object)[state.platform], dtype="str"),
        "tier": pd.array(np.asarray(TIERS, dtype=object)[state.tier], dtype="str"),
        "followers": state.followers.astype("int64"),
        "real_followers": np.round(state.real_followers).astype("int64"),
        "true_niche": pd.array(niches[state.primary_niche], dtype="str"),
        "secondary_niche": pd.array(np.where(state.secondary_weight > 0,
                                             niches[state.secondary_niche], None), dtype="str"),
        "secondary_weight": state.secondary_weight,
        "niche_declared": creators["niche"].notna().to_numpy(),
        "country": creators["country"],
        "audience_home_share": state.audience_countries[np.arange(state.n), state.country],
        "quality": state.quality,
        "fake_follower_share": state.fake_share,
        "organic_fake_share": state.organic_fake_share,
        "bought_followers": state.bought,
        "bought_date": bought_date,
        "bought_size": np.round(state.followers * state.bought_share).astype("int64"),
        "viral_spike": state.viral,
        "viral_date": viral_date,
        "viral_jump": history.viral_jump,
        "engagement_pod": state.pod,
        "pod_size": state.pod_size,
        "mass_follower_share": state.mass_follower_share,
        "expected_engagements_per_post": norms.engagements_per_post,
        "expected_views_per_post": norms.views_per_post,
    })


def _authenticity_labels(rng: np.random.Generator, state: CreatorState, share: float
                         ) -> pd.DataFrame:
    audited = np.flatnonzero(rng.random(state.n) < share)
    measured = np.clip(state.fake_share[audited]
                       + rng.normal(0, AUDIT_NOISE_SIGMA, len(audited)), 0, 1)
    return pd.DataFrame({
        "creator_id": pd.array(state.creator_id[audited], dtype="str"),
        "fake_follower_share": np.round(measured, 4),
        "bought_followers": pd.array(state.bought[audited], dtype="boolean"),
    })


def generate_world(n_creators: int, n_campaigns: int, seed: int, posts_per_creator: int = 50,
                   *, tier_mix: dict[str, tuple[float, ...]] | None = None,
                   declared_niche_share: float = 0.6, audience_share: float = 0.4,
                   audience_size: tuple[int, int] = (100, 200),
                   comment_creator_share: float = 0.3, comment_recent_posts: int = 15,
                   max_comments_per_post: int = 12, audit_share: float = 0.25,
                   assumptions: WorldAssumptions = CALIBRATED) -> World:
    """A synthetic world of `n_creators` creators and `n_campaigns` campaigns.

    `tier_mix` (platform -> shares of nano, micro, mid, macro, mega) defaults to the
    assumptions' mix, itself the realistic mix of domain.md by default (75.9% nano on
    Instagram, 87.68% on TikTok); pass a flatter mix for a world with more large creators.
    `assumptions` (data.synthetic.assumptions): the calibrated world by default, or a stress
    world that breaks some of its assumptions. Every world's truth has `candidate_truth`:
    each campaign's shortlisted creators, hired or not, with their true expected conversions.
    """
    tier_mix = tier_mix if tier_mix is not None else assumptions.tier_mix
    if n_creators < 1 or n_campaigns < 0 or posts_per_creator < 1:
        raise ValueError(f"need n_creators >= 1, n_campaigns >= 0, posts_per_creator >= 1; got "
                         f"{n_creators}, {n_campaigns}, {posts_per_creator}")
    if tier_mix is not None:
        missing = [p for p in PLATFORMS if p not in tier_mix or len(tier_mix[p]) != len(TIERS)]
        if missing:
            raise ValueError(f"tier_mix needs {len(TIERS)} shares for platforms {missing}")
    state = draw_creators(_rng(seed, "creators"), n_creators, tier_mix,
                          assumptions.platform_shares)
    creators = creators_table(_rng(seed, "creator_table"), state, declared_niche_share)
    history = simulate_history(_rng(seed, "history"), state)
    norms = creator_norms(state)
    posts, post_truth = simulate_posts(_rng(seed, "posts"), state, history, posts_per_creator,
                                      norms)
    audience, audience_truth = audience_sample(_rng(seed, "audience"), state, audience_share,
                                               audience_size)
    comments, comment_truth = comment_sample(
        _rng(seed, "comments"), state, posts, post_truth, posts_per_creator,
        comment_creator_share, comment_recent_posts, max_comments_per_post)
    campaigns, collaborations, collaboration_truth, candidate_truth = simulate_campaigns(
        seed, n_campaigns, state, history, norms, assumptions)
    tables = {
        "creators": creators,
        "posts": posts,
        "follower_history": history_table(state, history),
        "audience_sample": audience,
        "comments": comments,
        "campaigns": campaigns,
        "collaborations": collaborations,
        "authenticity_labels": _authenticity_labels(_rng(seed, "labels"), state, audit_share),
    }
    truth = {
        "creator_truth": _creator_truth(state, history, norms, creators),
        "collaboration_truth": collaboration_truth,
        "candidate_truth": candidate_truth,
        "post_truth": post_truth,
        "audience_truth": audience_truth,
        "comment_truth": comment_truth,
    }
    return World(tables={name: tables[name] for name in TABLE_ORDER}, truth=truth, seed=seed)


def write_world(world: World, out_dir: str | Path, fmt: str = "csv") -> Path:
    """Contract tables as out_dir/<table>.<fmt>, truth as out_dir/truth/<name>.<fmt>."""
    out = Path(out_dir)
    write_dataset(world.tables, out, fmt)
    write_dataset(world.truth, out / "truth", fmt)
    return out


__all__ = ["World", "generate_world", "write_world", "P"]  # P: calibration constants
