"""Domain figures shared by the generator, the features and the models (sources: data/README.md).

Every benchmark is stored with the formula that produced it: sources disagree mostly because
their formulas differ.
"""
from __future__ import annotations

import numpy as np

# Follower tiers. "mid" (50K-100K) is split off "micro" as vendors do.
TIERS = ("nano", "micro", "mid", "macro", "mega")
TIER_LOWER_BOUNDS = (0, 10_000, 50_000, 100_000, 1_000_000)


def tier_codes(followers) -> np.ndarray:
    """Integer tier code (index into TIERS) for each follower count; NaN counts give -1."""
    values = np.asarray(followers, dtype="float64")
    codes = np.searchsorted(np.asarray(TIER_LOWER_BOUNDS[1:], dtype="float64"), values,
                            side="right")
    return np.where(np.isnan(values), -1, codes).astype("int64")


def tier_names(followers) -> np.ndarray:
    codes = tier_codes(followers)
    names = np.asarray(TIERS + ("unknown",), dtype=object)
    return names[codes]


# Instagram engagement rate per post, (likes + comments) / followers, seed articles.
# Values are the domain's central figures; the mid tier sits between micro and macro.
INSTAGRAM_ER_BY_TIER = {"nano": 0.0271, "micro": 0.0181, "mid": 0.0124, "macro": 0.0074,
                        "mega": 0.0081}
# TikTok engagement rate by followers, seed articles.
TIKTOK_ER_BY_TIER = {"nano": 0.14, "micro": 0.087, "mid": 0.07, "macro": 0.053, "mega": 0.026}

# Vendor "average" bands of the median engagement rate by follower band
# (formula: median over posts of engagements / followers for Instagram, engagements / views
# for TikTok and YouTube). Bands are (low, high) per follower band lower edge.
VENDOR_FOLLOWER_BANDS = (1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000)
TIKTOK_MEDIAN_ER_BY_VIEWS_BAND = (
    (0.12, 0.14), (0.105, 0.118), (0.084, 0.094), (0.072, 0.080), (0.067, 0.074),
    (0.062, 0.069), (0.062, 0.068),
)
YOUTUBE_ER_BY_VIEWS_BAND = (
    (0.015, 0.020), (0.006, 0.008), (0.004, 0.005), (0.002, 0.003), (0.002, 0.003),
    (0.002, 0.002), (0.001, 0.002),
)

# Audience classes used by vendors.
MASS_FOLLOWER_MIN_FOLLOWING = 1_500
INFLUENCER_MIN_FOLLOWERS = 5_000
AUDIENCE_CLASSES = ("real", "mass_follower", "influencer", "suspicious")
CREDIBILITY_AVOID_LINE = 0.75  # credibility = 1 - fake share; below this, "avoid"

NICHE_MATCH_ENGAGEMENT_LIFT = 0.1359
NICHE_MATCH_VIEWS_LIFT = 0.8139
ENGAGEMENT_BY_COMPENSATION = {"gifting": 0.0219, "fixed": 0.0194, "affiliate": 0.0182}
ENGAGEMENT_BY_FORMAT_INSTAGRAM = {"carousel": 0.0262, "image": 0.0214, "reel": 0.0203}
CONVERSION_RATE_BY_TIER = {"nano": 0.0241, "micro": 0.0218, "mid": 0.0218, "macro": 0.0142,
                           "mega": 0.0091}
