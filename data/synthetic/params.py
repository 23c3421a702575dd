"""Calibration constants of the synthetic world, each with the figure it comes from.

Figures quoted from the domain notes (mirrored in `data.domain`; sources in data/README.md);
values marked "assumption" have no public source and are chosen to be plausible.
`data/README.md` lists the equations that use them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.contract import NICHES, PLATFORMS
from data.domain import (
    CONVERSION_RATE_BY_TIER,
    ENGAGEMENT_BY_COMPENSATION,
    ENGAGEMENT_BY_FORMAT_INSTAGRAM,
    INSTAGRAM_ER_BY_TIER,
    NICHE_MATCH_ENGAGEMENT_LIFT,
    NICHE_MATCH_VIEWS_LIFT,
    TIER_LOWER_BOUNDS,
    TIERS,
    TIKTOK_ER_BY_TIER,
    TIKTOK_MEDIAN_ER_BY_VIEWS_BAND,
    VENDOR_FOLLOWER_BANDS,
    YOUTUBE_ER_BY_VIEWS_BAND,
)

# --- calendar -------------------------------------------------------------------------------
# A fixed calendar (never the wall clock) so a seed gives the same world on any day.
WORLD_END = pd.Timestamp("2025-06-30")
POST_WINDOW_DAYS = 548  # posts spread over ~18 months before WORLD_END
HISTORY_WEEKS = 78  # weekly follower snapshots over ~18 months
CAMPAIGN_WINDOW_DAYS = 365  # campaign start dates spread over the last ~12 months
CAMPAIGN_MIN_LEAD_DAYS = 30  # the last campaign starts a month before WORLD_END

# --- platforms and tiers ----------------------------------------------------------------------
PLATFORM_SHARES = {"instagram": 0.5, "tiktok": 0.3, "youtube": 0.2}  # assumption
TIER_UPPER_BOUNDS = TIER_LOWER_BOUNDS[1:] + (50_000_000,)
MIN_FOLLOWERS = 1_000  # nano starts at 1K (domain.md tier table)

# Tier mix per platform. Instagram: 75.9% nano, 13.6% micro (10K-100K, split micro/mid here);
# TikTok: 87.68% nano. The split of the remainder (and YouTube as a whole) is an assumption.
REALISTIC_TIER_MIX = {
    "instagram": (0.759, 0.104, 0.032, 0.092, 0.013),
    "tiktok": (0.8768, 0.075, 0.020, 0.025, 0.0032),
    "youtube": (0.70, 0.15, 0.05, 0.08, 0.02),
}
# Within a tier, followers follow a truncated Pareto (log-density falling with size): the
# power-law shape of follower counts. Exponent: assumption.
FOLLOWER_PARETO_ALPHA = 0.8

# --- engagement -----------------------------------------------------------------------------
# Median engagement rate (likes + comments) / followers of the tier, seed articles
# (domain.md table). YouTube has no by-follower figure: it is driven by views (below).
ER_BY_TIER = {
    "instagram": np.array([INSTAGRAM_ER_BY_TIER[t] for t in TIERS]),
    "tiktok": np.array([TIKTOK_ER_BY_TIER[t] for t in TIERS]),
}
# Within a tier ER falls with size (vendor bands: 1-5K 3.4-4.4% vs 5-10K 1.3-1.6%):
# ER ~ (followers / tier geometric centre) ** -ER_SIZE_ELASTICITY. Assumption for the slope.
ER_SIZE_ELASTICITY = 0.25
# Creator quality: log-normal spread of a creator's engagement around the tier norm (assumption)
CREATOR_QUALITY_SIGMA = 0.35
POST_NOISE_SIGMA = 0.45  # post-to-post log-normal noise of engagements (assumption)

# Engagements / views by follower band (vendor medians, centre of the "average" band).
VIEW_BAND_EDGES = np.array(VENDOR_FOLLOWER_BANDS[1:], dtype="float64")
TIKTOK_ER_BY_VIEWS = np.array([np.mean(b) for b in TIKTOK_MEDIAN_ER_BY_VIEWS_BAND])
YOUTUBE_ER_BY_VIEWS = np.array([np.mean(b) for b in YOUTUBE_ER_BY_VIEWS_BAND])
# YouTube views per real subscriber per video, by tier (assumption: 5-30% typical).
YOUTUBE_VIEWS_PER_SUBSCRIBER = np.array([0.30, 0.20, 0.15, 0.10, 0.06])
# Instagram reels / videos: engagements / views (assumption, between TikTok and YouTube).
INSTAGRAM_ER_BY_VIEWS = 0.05

# Format mix per platform (assumption) and Instagram format multipliers relative to a single
# image: carousel 2.62%, image 2.14%, Reels 2.03% (domain.md).
FORMAT_MIX = {
    "instagram": {"image": 0.36, "carousel": 0.26, "reel": 0.30, "video": 0.04, "story": 0.04},
    "tiktok": {"video": 0.93, "live": 0.03, "story": 0.04},
    "youtube": {"video": 0.70, "short": 0.26, "live": 0.04},
}
_IG_FORMAT = ENGAGEMENT_BY_FORMAT_INSTAGRAM
FORMAT_ENGAGEMENT = {
    "image": 1.0,
    "carousel": _IG_FORMAT["carousel"] / _IG_FORMAT["image"],
    "reel": _IG_FORMAT["reel"] / _IG_FORMAT["image"],
    "video": 1.0, "short": 0.8, "story": 0.5, "live": 0.6,
}
# Comments / likes by platform (assumption; Instagram likes-to-comments ~ 40).
COMMENT_SHARE = {"instagram": 0.025, "tiktok": 0.015, "youtube": 0.04}
SHARE_RATE = {"instagram": 0.02, "tiktok": 0.06, "youtube": 0.01}  # shares / engagements
SAVE_RATE = {"instagram": 0.04, "tiktok": 0.03}  # saves / engagements (none on YouTube)

# --- sponsored posts --------------------------------------------------------------------------
SPONSORED_SHARE = 0.12  # share of posts that are disclosed partnerships (assumption)
# Compensation multipliers relative to a fixed fee: gifting 2.19%, fixed 1.94%, affiliate 1.82%;
# nano/micro creators on gifting 2.76% (domain.md). Hybrid: assumption, between fixed and
# affiliate.
COMPENSATION_ENGAGEMENT = {
    "fixed": 1.0,
    "gifting": ENGAGEMENT_BY_COMPENSATION["gifting"] / ENGAGEMENT_BY_COMPENSATION["fixed"],
    "affiliate": ENGAGEMENT_BY_COMPENSATION["affiliate"] / ENGAGEMENT_BY_COMPENSATION["fixed"],
    "hybrid": 0.96,
}
SMALL_CREATOR_GIFTING_ENGAGEMENT = 0.0276 / ENGAGEMENT_BY_COMPENSATION["fixed"]
# Niche-matched sponsored content: +13.59% engagement and +81.39% views (domain.md).
NICHE_MATCH_ENGAGEMENT = 1 + NICHE_MATCH_ENGAGEMENT_LIFT
NICHE_MATCH_VIEWS = 1 + NICHE_MATCH_VIEWS_LIFT
# Content with an explicit call to action: no-CTA content is 70% more engaging (domain.md).
CTA_ENGAGEMENT = 1 / 1.7
SPONSORED_CTA_SHARE = 0.5  # share of sponsored posts with an explicit call to action (assumption)
# Sponsored posts are matched to the creator's niche this often (assumption).
SPONSORED_NICHE_MATCH_SHARE = 0.55

# --- fraud ------------------------------------------------------------------------------------
# SRF Data 2017: ~30% of followers fake on average, median per creator 14-20%, ~26% of creators
# above 50%. Vendors: bigger accounts carry more fake followers. Model: an organic fake share
# (bots following everyone, dead accounts) for everyone, plus a bought block for some creators.
ORGANIC_FAKE_BETA = {"a": 1.6, "b": 9.0}  # mean ~15% before the tier scaling
ORGANIC_FAKE_TIER_SCALE = np.array([0.8, 1.0, 1.1, 1.25, 1.4])  # nano ... mega
# With these, the world has mean fake share ~29%, median ~17%, ~25% of creators above 50%.
BOUGHT_PROBABILITY_BY_TIER = np.array([0.30, 0.35, 0.38, 0.40, 0.40])
# Bought block as a share of the followers after purchase: uniform; heavy buyers above 50%.
BOUGHT_SHARE_RANGE = (0.30, 0.85)
BOUGHT_DECAY_PER_YEAR = 0.15  # platforms purge part of the bought followers (assumption)
POD_PROBABILITY = 0.08  # creators in engagement pods (assumption)
POD_SIZE_RANGE = (8, 30)  # members of the pod, who comment on every post (assumption)
VIRAL_PROBABILITY = 0.06  # creators with a genuine viral spike (assumption)
VIRAL_JUMP_RANGE = (0.4, 2.0)  # follower jump as a share of the pre-spike count (assumption)
MASS_FOLLOWER_BETA = {"a": 2.0, "b": 9.0}  # share of real followers following > 1,500 (~18%)
# Purba's authentic accounts: 20% follow > 1,500 accounts, consistent with the Beta above.
MASS_FOLLOWER_SEEN = 0.2  # a mass follower sees a post 5 times less often (assumption)

# --- money --------------------------------------------------------------------------------------
# Cost per post (USD) by tier: nano 200-1,000, micro 1,000-5,000, macro 15,000-49,000
# (domain.md); mid and mega: assumption. Position inside the range follows the position of
# the follower count inside the tier (log scale), so cost tracks TOTAL followers (fake included).
COST_RANGE_BY_TIER = np.array([
    [200, 1_000], [1_000, 5_000], [5_000, 15_000], [15_000, 49_000], [49_000, 250_000],
], dtype="float64")
# YouTube costs several times TikTok for similar reach (domain.md); levels: assumption.
PLATFORM_COST = {"instagram": 1.0, "tiktok": 0.7, "youtube": 2.5}
COST_NOISE_SIGMA = 0.3

COMPENSATION_MIX_BY_TIER = {  # fixed, gifting, affiliate, hybrid (assumption)
    "nano": (0.30, 0.40, 0.20, 0.10),
    "micro": (0.40, 0.25, 0.20, 0.15),
    "mid": (0.50, 0.15, 0.15, 0.20),
    "macro": (0.60, 0.08, 0.10, 0.22),
    "mega": (0.65, 0.05, 0.08, 0.22),
}

# --- conversions ------------------------------------------------------------------------------
# Click-through per real impression by tier: micro creators' links get 3-5x the CTR of macro
# creators (domain.md). Base level: assumption (2.5% of real impressions of a nano creator's
# sponsored post reach the link or the promo code).
CTR_BASE = 0.025
CTR_TIER = np.array([1.0, 0.85, 0.6, 0.25, 0.18])
# Conversion rates quoted by tier (nano 2.41%, micro 2.18%, macro 1.42%, mega 0.91%,
# domain.md), read as e-commerce conversion of cold traffic; creator traffic is warm (it
# followed a recommendation), so per click it converts WARM_TRAFFIC_CONVERSION times better
# (assumption). Even so, revenue per dollar stays far below the quoted "$5.78 per $1" (an
# industry claim that mixes in earned media value): see data/README.md.
WARM_TRAFFIC_CONVERSION = 3.0
CVR_BY_TIER = WARM_TRAFFIC_CONVERSION * np.array([CONVERSION_RATE_BY_TIER[t] for t in TIERS])
CTR_BY_COMPENSATION = {"fixed": 1.0, "gifting": 0.85, "affiliate": 1.35, "hybrid": 1.25}
NICHE_FIT_CTR = {"primary": 1.0, "secondary": 0.65, "none": 0.3}
REPEAT_LIFT_PER_COLLAB = 0.2  # +20% per previous collaboration with the brand, up to 3
REFERENCE_PRICE = 50.0  # price elasticity of conversion: (price / 50) ** -0.6 (assumption)
PRICE_ELASTICITY = 0.6
CONVERSION_DISPERSION = 2.0  # negative binomial shape (Var = mu + mu^2 / k)

# --- countries ----------------------------------------------------------------------------------
COUNTRIES = ("US", "GB", "FR", "DE", "ES", "IT", "BR", "IN", "CA", "AU", "NL", "MX")
COUNTRY_WEIGHTS = np.array([0.26, 0.09, 0.10, 0.08, 0.07, 0.06, 0.10, 0.09, 0.04, 0.04, 0.03, 0.04])
HOME_AUDIENCE_BETA = {"a": 6.0, "b": 3.0}  # share of the audience in the creator's country

NICHE_WEIGHTS = np.array([  # creators per niche (assumption: lifestyle/beauty/fashion biggest)
    0.10, 0.10, 0.08, 0.08, 0.07, 0.06, 0.05, 0.07, 0.07, 0.05, 0.06, 0.04, 0.12, 0.05,
])
assert len(NICHE_WEIGHTS) == len(NICHES) and len(PLATFORM_SHARES) == len(PLATFORMS)
