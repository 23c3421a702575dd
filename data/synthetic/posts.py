"""Posts: engagement, views and captions, driven by the creator's REAL reachable audience.

Expected engagements of a post (Instagram, TikTok):
  E = ER_tier * (followers / tier_centre) ** -0.25 * exp(quality) * audience_t / AUDIENCE_NORM
      * format * sponsorship
where audience_t is the creator's effective real audience in the post's week (fake followers
never engage; mass followers rarely see a post). Views (TikTok) = E / ER_views(band) * view
lifts. YouTube is driven by views: V = audience_t * views_per_subscriber(tier) * ..., and
E = V * ER_views(band). Counts are Poisson around the means, with log-normal post noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.contract import COMPENSATIONS, FORMATS, NICHES, PLATFORMS
from data.domain import TIER_LOWER_BOUNDS, TIERS
from data.synthetic import params as P
from data.synthetic import text
from data.synthetic.creators import CreatorState
from data.synthetic.history import History

# Typical effective_audience / followers of a tier (fake followers and mass followers drag it
# down; bigger tiers carry more fakes). Dividing by it makes the tier's MEDIAN observed ER
# (over creators, of their median post) land on the domain figure; set from large worlds.
# Measured on 20,000-creator worlds; the TikTok factor absorbs its format mix (lives and
# stories engage less) so its medians also land on the domain's TikTok figures.
AUDIENCE_NORM_BY_TIER = np.array([0.60, 0.525, 0.457, 0.486, 0.52])
PLATFORM_ER_CALIBRATION = {"instagram": 1.0, "tiktok": 1.1, "youtube": 1.0}
SPONSORED_ENGAGEMENT = 0.85  # a paid post engages a bit less than organic content (assumption)
SPONSORED_VIEWS = 0.6  # reach of an off-niche sponsored post relative to organic (assumption)
VIRAL_POST_MULTIPLIER = (10.0, 30.0)


def tier_centre(tier: np.ndarray) -> np.ndarray:
    low = np.maximum(np.asarray(TIER_LOWER_BOUNDS, dtype="float64"), P.MIN_FOLLOWERS)
    high = np.asarray(P.TIER_UPPER_BOUNDS, dtype="float64")
    return np.sqrt(low * high)[tier]


def er_by_views(platform: np.ndarray, followers: np.ndarray) -> np.ndarray:
    band = np.searchsorted(P.VIEW_BAND_EDGES, followers, side="right")
    tiktok = P.TIKTOK_ER_BY_VIEWS[band]
    youtube = P.YOUTUBE_ER_BY_VIEWS[band]
    is_tiktok, is_youtube = platform == PLATFORMS.index("tiktok"), platform == PLATFORMS.index(
        "youtube")
    return np.select([is_tiktok, is_youtube], [tiktok, youtube], P.INSTAGRAM_ER_BY_VIEWS)


@dataclass(frozen=True)
class CreatorNorms:
    """Noise-free per-creator expectations at the end of the history (used by campaigns)."""

    engagements_per_post: np.ndarray
    views_per_post: np.ndarray
    authentic_engagement_rate: np.ndarray  # engagements / real followers, before pods


def creator_norms(state: CreatorState) -> CreatorNorms:
    size = (state.followers / tier_centre(state.tier)) ** -P.ER_SIZE_ELASTICITY
    quality = np.exp(state.quality)
    audience = state.effective_audience
    youtube = state.platform == PLATFORMS.index("youtube")
    er = np.zeros(state.n)
    for name, values in P.ER_BY_TIER.items():
        mask = state.platform == PLATFORMS.index(name)
        er[mask] = values[state.tier[mask]] * PLATFORM_ER_CALIBRATION[name]
    engagements = er * size * quality * audience / AUDIENCE_NORM_BY_TIER[state.tier]
    er_views = er_by_views(state.platform, state.followers)
    views_youtube = audience * P.YOUTUBE_VIEWS_PER_SUBSCRIBER[state.tier] * size * quality
    engagements = np.where(youtube, views_youtube * er_views, engagements)
    views = np.where(youtube, views_youtube, engagements / er_views)
    return CreatorNorms(engagements_per_post=engagements, views_per_post=views,
                        authentic_engagement_rate=engagements / np.maximum(
                            state.real_followers, 1))


def _sample_formats(rng: np.random.Generator, platform: np.ndarray) -> np.ndarray:
    codes = np.empty(len(platform), dtype="int64")
    u = rng.random(len(platform))
    for code, name in enumerate(PLATFORMS):
        mask = platform == code
        mix = P.FORMAT_MIX[name]
        choices = np.array([FORMATS.index(f) for f in mix])
        cumulative = np.cumsum(list(mix.values()))
        picked = np.searchsorted(cumulative / cumulative[-1], u[mask], side="right")
        codes[mask] = choices[np.minimum(picked, len(choices) - 1)]
    return codes


def sample_compensation(rng: np.random.Generator, tier: np.ndarray) -> np.ndarray:
    u = rng.random(len(tier))
    codes = np.empty(len(tier), dtype="int64")
    for t, name in enumerate(TIERS):
        mask = tier == t
        cumulative = np.cumsum(P.COMPENSATION_MIX_BY_TIER[name])
        codes[mask] = np.searchsorted(cumulative / cumulative[-1], u[mask], side="right")
    return np.minimum(codes, len(COMPENSATIONS) - 1)


def simulate_posts(rng: np.random.Generator, state: CreatorState, history: History,
                   posts_per_creator: int, norms: CreatorNorms
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(posts contract table, post truth); `norms` = creator_norms(state), shared with the
    campaigns."""
    n, k = state.n, posts_per_creator
    creator = np.repeat(np.arange(n), k)
    seconds_before_end = np.sort(rng.random((n, k)), axis=1)[:, ::-1].reshape(-1)
    posted_at = (P.WORLD_END.to_datetime64().astype("datetime64[s]")
                 - (seconds_before_end * P.POST_WINDOW_DAYS * 86_400).astype("timedelta64[s]")
                 + np.timedelta64(1, "D"))
    posted_at = posted_at.astype("datetime64[ns]")
    week = history.week_of(posted_at)

    platform = state.platform[creator]
    tier = state.tier[creator]
    fmt = _sample_formats(rng, platform)
    in_secondary = rng.random(n * k) < state.secondary_weight[creator]
    content_niche = np.where(in_secondary, state.secondary_niche[creator],
                             state.primary_niche[creator])

    sponsored = rng.random(n * k) < P.SPONSORED_SHARE
    matched_product = rng.random(n * k) < P.SPONSORED_NICHE_MATCH_SHARE
    product_niche = np.where(matched_product, content_niche, rng.integers(0, len(NICHES), n * k))
    niche_match = sponsored & ((product_niche == state.primary_niche[creator])
                               | ((product_niche == state.secondary_niche[creator])
                                  & (state.secondary_weight[creator] > 0)))
    compensation = sample_compensation(rng, tier)
    call_to_action = sponsored & (rng.random(n * k) < P.SPONSORED_CTA_SHARE)

    comp_mult = np.array([P.COMPENSATION_ENGAGEMENT[c] for c in COMPENSATIONS])[compensation]
    small_gifting = (compensation == COMPENSATIONS.index("gifting")) & (tier <= 1)
    comp_mult = np.where(small_gifting, P.SMALL_CREATOR_GIFTING_ENGAGEMENT, comp_mult)
    engagement_mult = np.where(
        sponsored,
        SPONSORED_ENGAGEMENT * comp_mult * np.where(call_to_action, P.CTA_ENGAGEMENT, 1.0)
        * np.where(niche_match, P.NICHE_MATCH_ENGAGEMENT, 1.0),
        1.0)
    views_mult = np.where(sponsored,
                          SPONSORED_VIEWS * np.where(niche_match, P.NICHE_MATCH_VIEWS, 1.0), 1.0)
    fmt_mult = np.array([P.FORMAT_ENGAGEMENT[f] for f in FORMATS])[fmt]

    audience_now = history.effective_audience[creator, week]
    time_factor = audience_now / np.maximum(history.effective_audience[creator, -1], 1e-9)

    viral_post = np.zeros(n * k, dtype=bool)
    after_spike = state.viral[creator] & (week >= history.viral_week[creator])
    candidates = np.flatnonzero(after_spike)
    # posts are ordered oldest first within a creator: the first candidate is the first post
    # after the spike
    _, first = np.unique(creator[candidates], return_index=True)
    viral_post[candidates[first]] = True
    viral_mult = np.where(viral_post, rng.uniform(*VIRAL_POST_MULTIPLIER, n * k), 1.0)

    noise = np.exp(rng.normal(0, P.POST_NOISE_SIGMA, n * k))
    ratio_noise = np.exp(rng.normal(0, 0.15, n * k))
    youtube = platform == PLATFORMS.index("youtube")
    expected_engagements = (norms.engagements_per_post[creator] * time_factor * fmt_mult
                            * engagement_mult * viral_mult)
    expected_views = (norms.views_per_post[creator] * time_factor * fmt_mult * views_mult
                      * viral_mult)
    engagements = expected_engagements * noise * np.where(youtube, ratio_noise, 1.0)
    views = expected_views * noise * np.where(youtube, 1.0, ratio_noise)

    comment_share = np.array([P.COMMENT_SHARE[p] for p in PLATFORMS])[platform]
    pod_comments = np.where(state.pod[creator],
                            rng.binomial(state.pod_size[creator], rng.uniform(0.6, 0.95, n * k)),
                            0)
    likes = rng.poisson(engagements * (1 - comment_share)) + pod_comments
    comments = rng.poisson(engagements * comment_share) + pod_comments
    share_rate = np.array([P.SHARE_RATE[p] for p in PLATFORMS])[platform]
    save_rate = np.array([P.SAVE_RATE.get(p, np.nan) for p in PLATFORMS])[platform]
    shares = rng.poisson(engagements * share_rate)
    saves = rng.poisson(np.nan_to_num(engagements * save_rate))
    instagram = platform == PLATFORMS.index("instagram")
    has_views = ~instagram | np.isin(fmt, [FORMATS.index("reel"), FORMATS.index("video")])
    view_counts = np.maximum(rng.poisson(views), likes + comments - 2 * pod_comments)

    handles = text.brand_handles(product_niche, rng.integers(0, text.BRANDS_PER_NICHE, n * k))
    caption = text.captions(rng, content_niche, sponsored, product_niche, handles,
                            call_to_action)

    post_id = (np.repeat(state.creator_id, k) + "-p"
               + np.char.zfill(np.tile(np.arange(k), n).astype(str), 3).astype(object))
    posts = pd.DataFrame({
        "post_id": pd.array(post_id, dtype="str"),
        "creator_id": pd.array(state.creator_id[creator], dtype="str"),
        "posted_at": posted_at,
        "format": pd.array(np.asarray(FORMATS, dtype=object)[fmt], dtype="str"),
        "likes": pd.array(likes, dtype="Int64"),
        "comments": pd.array(comments, dtype="Int64"),
        "shares": pd.array(shares, dtype="Int64"),
        "saves": pd.array(np.where(youtube, np.nan, saves), dtype="Int64"),
        "views": pd.array(np.where(has_views, view_counts, np.nan), dtype="Int64"),
        "caption": pd.array(caption, dtype="str"),
        "sponsored": pd.array(sponsored, dtype="boolean"),
    })
    niches = np.asarray(NICHES, dtype=object)
    truth = pd.DataFrame({
        "post_id": posts["post_id"],
        "creator_id": posts["creator_id"],
        "content_niche": pd.array(niches[content_niche], dtype="str"),
        "sponsored": sponsored,
        "product_niche": pd.array(np.where(sponsored, niches[product_niche], None), dtype="str"),
        "niche_match": niche_match,
        "compensation": pd.array(np.where(sponsored, np.asarray(COMPENSATIONS, dtype=object)[
            compensation], None), dtype="str"),
        "call_to_action": call_to_action,
        "pod_comments": pod_comments,
        "viral_post": viral_post,
        "expected_engagements": expected_engagements,
        "expected_views": expected_views,
    })
    return posts, truth
