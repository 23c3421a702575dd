"""Engagement features: how much real interaction a creator's recent posts get.

Rates are per post and then summarised per entity (median is the headline: one viral post
must not make a creator look engaged). Followers are those as of the entity's cutoff.
"""
from __future__ import annotations

import numpy as np

from data.contract import FORMATS
from features.arrays import (
    GroupSortedValues,
    group_count,
    group_max,
    group_mean,
    group_median,
    group_order,
    group_rank_from_order,
    group_std,
    group_sum,
    safe_divide,
)
from features.entities import Entities


def per_post_engagement_rate(ent: Entities) -> np.ndarray:
    """(likes + comments) / followers for each post row of `ent`."""
    return safe_divide(ent.likes + ent.comments, ent.followers[ent.post_entity])


def engagement_features(ent: Entities) -> dict[str, np.ndarray]:
    n, codes = ent.n, ent.post_entity
    engagements = ent.likes + ent.comments
    rate = per_post_engagement_rate(ent)
    views = np.where(ent.views > 0, ent.views, np.nan)
    rate_by_views = engagements / views
    views_per_follower = safe_divide(views, ent.followers[codes])
    # Every rate median (overall, per format, sponsored / organic, newer / older half) comes
    # from one sort of the rates.
    rates = GroupSortedValues(codes, rate, n)
    posts_analysed = group_count(codes, n)

    out: dict[str, np.ndarray] = {
        "followers": ent.followers.copy(),
        "platform_code": ent.platform_code.astype("float64"),
        "tier_code": np.where(ent.tier_code >= 0, ent.tier_code, np.nan).astype("float64"),
        "posts_analysed": posts_analysed,
        "engagement_rate_mean": group_mean(codes, rate, n),
        "engagement_rate_median": rates.median(),
        "engagement_rate_by_views_median": group_median(codes, rate_by_views, n),
        "views_per_follower_median": group_median(codes, views_per_follower, n),
    }
    for code, fmt in enumerate(FORMATS):
        out[f"engagement_rate_median_{fmt}"] = rates.median(ent.format_code == code)

    sponsored = ent.sponsored == 1
    organic = ent.sponsored == 0
    known = group_count(codes, n, ~np.isnan(ent.sponsored))
    out["sponsored_post_share"] = safe_divide(group_count(codes, n, sponsored), known)
    out["sponsored_to_organic_engagement_ratio"] = safe_divide(rates.median(sponsored),
                                                               rates.median(organic))

    # Posts in (entity, day) order, undated ones first: rhythm and trend share this sort.
    day_key = np.where(np.isnan(ent.post_day), -np.inf, ent.post_day)
    by_day = group_order(codes, day_key)
    out.update(_posting_rhythm(ent, by_day))
    out["engagement_trend_ratio"] = _engagement_trend(ent, rates, by_day, posts_analysed)
    out["likes_per_comment"] = safe_divide(group_sum(codes, ent.likes, n),
                                           group_sum(codes, ent.comments, n))
    out["days_since_last_post"] = ent.reference_day - group_max(codes, ent.post_day, n)
    return out


def _posting_rhythm(ent: Entities, by_day: np.ndarray) -> dict[str, np.ndarray]:
    """Posts per week over the span of the posts, and the variability of the gaps between them."""
    n = ent.n
    codes, day = ent.post_entity[by_day], ent.post_day[by_day]
    ok = ~np.isnan(day)
    codes, day = codes[ok], day[ok]
    same = codes[1:] == codes[:-1]
    gap_codes = codes[1:][same]
    gaps = (day[1:] - day[:-1])[same]
    n_gaps = group_count(gap_codes, n)
    span_days = group_sum(gap_codes, gaps, n)
    return {
        # n posts span n - 1 gaps: the rate counts gaps, so 2 posts a week apart give 1/week.
        "posts_per_week": np.where(n_gaps > 0, safe_divide(n_gaps * 7.0, span_days), np.nan),
        "posting_gap_cv": safe_divide(group_std(gap_codes, gaps, n),
                                      group_mean(gap_codes, gaps, n)),
    }


def _engagement_trend(ent: Entities, rates: GroupSortedValues, by_day: np.ndarray,
                      posts_analysed: np.ndarray) -> np.ndarray:
    """Median engagement rate of the newer half of the posts over that of the older half."""
    n, codes = ent.n, ent.post_entity
    if len(codes) == 0:
        return np.full(n, np.nan)
    rank, size = group_rank_from_order(codes, by_day)
    newer = rank >= size - size // 2
    older = rank < size // 2
    enough = posts_analysed >= 4
    ratio = safe_divide(rates.median(newer), rates.median(older))
    return np.where(enough, ratio, np.nan)
