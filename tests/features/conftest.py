"""Typed contract frames for feature tests, built from small dicts through the validator."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.dataset import Dataset
from data.loader import validate_tables

START = pd.Timestamp("2024-01-01")


def make_dataset(**tables: dict | pd.DataFrame) -> Dataset:
    """Dataset from {table: dict of columns or DataFrame}, typed by data.loader.validate_tables."""
    frames = {name: pd.DataFrame(value) if isinstance(value, dict) else value
              for name, value in tables.items()}
    return validate_tables(frames)


def regular_posts(creator_id: str, n: int, likes, comments, views=None, start=START,
                  every_days: float = 2.0, prefix: str | None = None, **extra) -> pd.DataFrame:
    """n posts, one every `every_days`, with scalar or per-post counts."""
    prefix = prefix or creator_id
    frame = pd.DataFrame({
        "post_id": [f"{prefix}-p{i}" for i in range(n)],
        "creator_id": creator_id,
        "posted_at": [start + pd.Timedelta(days=every_days * i) for i in range(n)],
        "likes": np.broadcast_to(likes, n).astype("int64"),
        "comments": np.broadcast_to(comments, n).astype("int64"),
    })
    if views is not None:
        frame["views"] = np.broadcast_to(views, n).astype("int64")
    for key, value in extra.items():
        frame[key] = value if np.ndim(value) else [value] * n
    return frame


def synthetic_dataset(n_creators: int, posts_per_creator: int = 30, seed: int = 0,
                      with_optional: bool = True) -> Dataset:
    """A fast random world (vectorised) for parity and scale tests."""
    rng = np.random.default_rng(seed)
    from data.contract import FORMATS, NICHES, PLATFORMS
    from features.niche import SEED_LEXICON

    ids = np.array([f"c{i:06d}" for i in range(n_creators)], dtype=object)
    platform = rng.choice(PLATFORMS, n_creators)
    followers = np.exp(rng.uniform(np.log(2_000), np.log(3_000_000), n_creators)).astype("int64")
    niche = rng.integers(0, len(NICHES), n_creators)
    declared = np.where(rng.random(n_creators) < 0.5, np.array(NICHES, dtype=object)[niche], None)
    creators = pd.DataFrame({
        "creator_id": ids, "platform": platform, "followers": followers,
        "following": rng.integers(50, 3000, n_creators), "posts_count": rng.integers(50, 900,
                                                                                    n_creators),
        "account_created": pd.Timestamp("2018-01-01")
        + pd.to_timedelta(rng.integers(0, 1500, n_creators), unit="D"),
        "country": rng.choice(["FR", "US", "DE", "GB"], n_creators),
        "bio": [f"{NICHES[k]} creator" for k in niche], "niche": declared,
    })
    m = n_creators * posts_per_creator
    owner = np.repeat(np.arange(n_creators), posts_per_creator)
    rate = rng.lognormal(np.log(0.03), 0.5, n_creators)[owner]
    likes = rng.poisson(followers[owner] * rate).astype("int64")
    words = [np.array(SEED_LEXICON[n], dtype=object) for n in NICHES]
    word_a = np.array([words[k][i % len(words[k])] for k, i in
                       zip(niche[owner], rng.integers(0, 20, m), strict=True)], dtype=object)
    posts = pd.DataFrame({
        "post_id": np.char.add("p", np.arange(m).astype(str)).astype(object),
        "creator_id": ids[owner],
        "posted_at": pd.Timestamp("2023-01-01")
        + pd.to_timedelta(np.tile(np.arange(posts_per_creator) * 3, n_creators)
                          + rng.integers(0, 2, m), unit="D"),
        "format": rng.choice(FORMATS[:4], m), "likes": likes,
        "comments": rng.poisson(likes / 40 + 1).astype("int64"),
        "views": rng.poisson(followers[owner] * 0.3).astype("int64"),
        "caption": "my day " + word_a + " #" + word_a,
        "sponsored": rng.random(m) < 0.15,
    })
    tables: dict = {"creators": creators, "posts": posts}
    if with_optional:
        with_extra = np.flatnonzero(rng.random(n_creators) < 0.3)
        c_owner = np.repeat(with_extra, 40)
        post_of = c_owner * posts_per_creator + rng.integers(0, posts_per_creator, len(c_owner))
        tables["comments"] = pd.DataFrame({
            "creator_id": ids[c_owner], "post_id": posts["post_id"].to_numpy()[post_of],
            "commenter_id": np.char.add("u", rng.integers(0, 200, len(c_owner)).astype(str)),
            "text": rng.choice(["nice!", "love this recipe", "where is this?", "🔥🔥"],
                               len(c_owner)),
        })
        a_owner = np.repeat(with_extra, 50)
        k = len(a_owner)
        tables["audience_sample"] = pd.DataFrame({
            "creator_id": ids[a_owner], "followers": rng.integers(0, 8000, k),
            "following": rng.integers(0, 3000, k), "posts_count": rng.integers(0, 300, k),
            "has_profile_pic": rng.random(k) < 0.8,
            "username": np.char.add("user", rng.integers(0, 10**6, k).astype(str)),
        })
        h_owner = np.repeat(with_extra, 20)
        tables["follower_history"] = pd.DataFrame({
            "creator_id": ids[h_owner],
            "date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(np.tile(np.arange(20) * 7, len(with_extra)), unit="D"),
            "followers": (followers[h_owner] * (0.8 + 0.01 * np.tile(np.arange(20),
                                                                      len(with_extra))))
            .astype("int64"),
        })
    return validate_tables(tables)


@pytest.fixture(scope="session")
def world_1500() -> Dataset:
    return synthetic_dataset(1500, 30, seed=1)
