"""Creators: platform, tier, followers, niches, audience countries and the hidden fraud state."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.contract import NICHES, PLATFORMS
from data.domain import TIER_LOWER_BOUNDS, TIERS
from data.synthetic import params as P
from data.synthetic import text


@dataclass(frozen=True)
class CreatorState:
    """Every drawn quantity of the creators, as aligned numpy arrays (row i = creator i)."""

    creator_id: np.ndarray
    platform: np.ndarray  # index into PLATFORMS
    tier: np.ndarray  # index into TIERS
    followers: np.ndarray  # current total followers (fake included)
    primary_niche: np.ndarray
    secondary_niche: np.ndarray
    secondary_weight: np.ndarray  # share of content in the secondary niche (0: single niche)
    country: np.ndarray  # index into COUNTRIES
    audience_countries: np.ndarray  # (n, len(COUNTRIES)) shares of the real audience
    quality: np.ndarray  # log-multiplier of engagement around the tier norm
    organic_fake_share: np.ndarray
    bought: np.ndarray
    bought_share: np.ndarray  # share of current followers that were bought
    mass_follower_share: np.ndarray  # share of real followers following > 1,500 accounts
    pod: np.ndarray
    pod_size: np.ndarray
    viral: np.ndarray

    @property
    def n(self) -> int:
        return len(self.creator_id)

    @property
    def fake_share(self) -> np.ndarray:
        return self.bought_share + (1 - self.bought_share) * self.organic_fake_share

    @property
    def real_followers(self) -> np.ndarray:
        return self.followers * (1 - self.fake_share)

    @property
    def effective_audience(self) -> np.ndarray:
        """Real followers weighted by how often they see a post (mass followers rarely do)."""
        seen = 1 - self.mass_follower_share * (1 - P.MASS_FOLLOWER_SEEN)
        return self.real_followers * seen


def _truncated_pareto(rng: np.random.Generator, low: np.ndarray, high: np.ndarray,
                      alpha: float) -> np.ndarray:
    u = rng.random(len(low))
    low_a, high_a = low ** -alpha, high ** -alpha
    return (low_a - u * (low_a - high_a)) ** (-1 / alpha)


def draw_creators(rng: np.random.Generator, n: int, tier_mix: dict | None = None,
                  platform_shares: dict[str, float] | None = None) -> CreatorState:
    tier_mix = tier_mix or P.REALISTIC_TIER_MIX
    shares = np.array([(platform_shares or P.PLATFORM_SHARES)[p] for p in PLATFORMS],
                      dtype="float64")
    platform = rng.choice(len(PLATFORMS), n, p=shares / shares.sum())
    tier = np.empty(n, dtype="int64")
    u = rng.random(n)
    for code, name in enumerate(PLATFORMS):
        cumulative = np.cumsum(tier_mix[name])
        tier[platform == code] = np.searchsorted(cumulative / cumulative[-1],
                                                 u[platform == code], side="right")
    tier = np.minimum(tier, len(TIERS) - 1)
    low = np.maximum(np.asarray(TIER_LOWER_BOUNDS, dtype="float64")[tier], P.MIN_FOLLOWERS)
    high = np.asarray(P.TIER_UPPER_BOUNDS, dtype="float64")[tier]
    followers = np.floor(_truncated_pareto(rng, low, high - 1, P.FOLLOWER_PARETO_ALPHA))

    primary = rng.choice(len(NICHES), n, p=P.NICHE_WEIGHTS / P.NICHE_WEIGHTS.sum())
    secondary = (primary + rng.integers(1, len(NICHES), n)) % len(NICHES)
    mixes = rng.random(n) < 0.35  # about a third of creators mix two niches (assumption)
    secondary_weight = np.where(mixes, rng.uniform(0.2, 0.45, n), 0.0)

    country = rng.choice(len(P.COUNTRIES), n, p=P.COUNTRY_WEIGHTS / P.COUNTRY_WEIGHTS.sum())
    home_share = rng.beta(P.HOME_AUDIENCE_BETA["a"], P.HOME_AUDIENCE_BETA["b"], n)
    abroad = rng.dirichlet(P.COUNTRY_WEIGHTS * 8, n)
    abroad[np.arange(n), country] = 0
    abroad /= abroad.sum(axis=1, keepdims=True)
    audience_countries = abroad * (1 - home_share)[:, None]
    audience_countries[np.arange(n), country] = home_share

    organic = rng.beta(P.ORGANIC_FAKE_BETA["a"], P.ORGANIC_FAKE_BETA["b"], n)
    organic = np.minimum(organic * P.ORGANIC_FAKE_TIER_SCALE[tier], 0.6)
    bought = rng.random(n) < P.BOUGHT_PROBABILITY_BY_TIER[tier]
    bought_share = np.where(bought, rng.uniform(*P.BOUGHT_SHARE_RANGE, n), 0.0)
    pod = rng.random(n) < P.POD_PROBABILITY
    pod_size = np.where(pod, rng.integers(P.POD_SIZE_RANGE[0], P.POD_SIZE_RANGE[1] + 1, n), 0)
    viral = (rng.random(n) < P.VIRAL_PROBABILITY) & ~bought
    return CreatorState(
        creator_id=np.char.add("cr", np.char.zfill(np.arange(n).astype(str), 6)).astype(object),
        platform=platform, tier=tier, followers=followers, primary_niche=primary,
        secondary_niche=secondary, secondary_weight=secondary_weight, country=country,
        audience_countries=audience_countries,
        quality=rng.normal(0, P.CREATOR_QUALITY_SIGMA, n),
        organic_fake_share=organic, bought=bought, bought_share=bought_share,
        mass_follower_share=rng.beta(P.MASS_FOLLOWER_BETA["a"], P.MASS_FOLLOWER_BETA["b"], n),
        pod=pod, pod_size=pod_size, viral=viral,
    )


def creators_table(rng: np.random.Generator, state: CreatorState,
                   declared_niche_share: float = 0.6) -> pd.DataFrame:
    """The contract `creators` table (public view of the state)."""
    n = state.n
    platform = np.asarray(PLATFORMS, dtype=object)[state.platform]
    youtube = platform == "youtube"
    # Following: real creators follow hundreds; bought-follower accounts often follow-for-follow.
    following = np.round(np.exp(rng.normal(6.0, 0.9, n)) * np.where(state.bought, 2.5, 1.0))
    age_days = rng.integers(400, 4000, n)
    created = P.WORLD_END - pd.to_timedelta(age_days, unit="D")
    posts_count = np.round(age_days / rng.uniform(1.5, 6, n)).astype("int64")
    declared = rng.random(n) < declared_niche_share
    niches = np.asarray(NICHES, dtype=object)
    verified = (state.tier >= 3) & (rng.random(n) < 0.6) | (rng.random(n) < 0.01)
    return pd.DataFrame({
        "creator_id": pd.array(state.creator_id, dtype="str"),
        "platform": pd.array(platform, dtype="str"),
        "followers": pd.array(state.followers.astype("int64"), dtype="Int64"),
        "following": pd.array(np.where(youtube, np.nan, following), dtype="Int64"),
        "posts_count": pd.array(posts_count, dtype="Int64"),
        "account_created": pd.DatetimeIndex(created).normalize().astype("datetime64[ns]"),
        "country": pd.array(np.asarray(P.COUNTRIES, dtype=object)[state.country], dtype="str"),
        "bio": pd.array(text.bios(rng, state.primary_niche,
                                  np.where(state.secondary_weight > 0, state.secondary_niche,
                                           state.primary_niche)), dtype="str"),
        "verified": pd.array(verified, dtype="boolean"),
        "niche": pd.array(np.where(declared, niches[state.primary_niche], None), dtype="str"),
    })
