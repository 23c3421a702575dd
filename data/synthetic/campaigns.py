"""Campaigns, the creators they hire, and the conversions those collaborations bring.

Campaign i is drawn from its own stream `default_rng([seed, CAMPAIGN_STREAM, i])` and depends
only on the creators and on campaigns 0..i-1, so a world with more campaigns contains every
campaign (and collaboration) of a world with fewer, unchanged.

Conversion process of a collaboration (creator c, campaign m), noise-free expectation:
  impressions = views_per_post(c) * audience_t / audience_end * sponsored views lift (niche fit)
  CTR  = CTR_BASE * CTR_TIER[tier] * CTR_BY_COMPENSATION * NICHE_FIT_CTR * exp(quality / 2)
         * (1 + 0.2 * min(repeat, 3))
  CVR  = CVR_BY_TIER[tier] * (0.15 + 0.85 * audience share in target countries)
         * (price / 50) ** -0.6
  expected_conversions = impressions * CTR * CVR ;  expected_revenue = that * price * E[basket]
Observed counts: impressions ~ Poisson(impressions * e), clicks ~ Poisson(impressions * e * CTR
* g1), conversions ~ Poisson(clicks * CVR * g2) with e log-normal (mean 1) and g1, g2 Gamma
(mean 1, shape 2): conversions are over-dispersed (negative-binomial-like) and E[conversions] =
expected_conversions. Fake followers bring no impressions; cost follows TOTAL followers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.contract import COMPENSATIONS, NICHES, PLATFORMS
from data.domain import TIER_LOWER_BOUNDS, TIERS
from data.synthetic import params as P
from data.synthetic import text
from data.synthetic.creators import CreatorState
from data.synthetic.history import History
from data.synthetic.posts import SPONSORED_VIEWS, CreatorNorms, sample_compensation

CAMPAIGN_STREAM = 9_173
MEDIAN_PRICE_BY_NICHE = {  # average order value, USD (assumption)
    "beauty": 30, "fashion": 60, "fitness": 45, "food": 20, "travel": 250, "home": 80,
    "parenting": 35, "tech": 150, "gaming": 50, "pets": 30, "sports": 70, "finance": 90,
    "lifestyle": 40, "sustainability": 35,
}
BASKET_SIGMA = 0.25
IMPRESSION_NOISE_SIGMA = 0.4
CLICK_GAMMA_SHAPE = 2.0
REPEAT_BOOST = 8.0  # a brand is this many times more likely to re-hire a past creator
NICHE_SELECTION_BOOST = {"primary": 12.0, "secondary": 4.0}
# The naive forecast brands use to set affiliate guarantees: a share of followers converts.
BOOKING_FORECAST_CONVERSIONS_PER_FOLLOWER = 0.001


@dataclass
class BrandHistory:
    """Past collaborations of each brand: (start date, creator indices) per campaign."""

    by_brand: dict[str, list[tuple[np.datetime64, np.ndarray]]] = field(default_factory=dict)

    def repeat_counts(self, brand: str, start: np.datetime64, creators: np.ndarray,
                      n_creators: int) -> np.ndarray:
        counts = np.zeros(n_creators, dtype="int64")
        for past_start, past in self.by_brand.get(brand, []):
            if past_start < start:
                counts[past] += 1
        return counts[creators]

    def past_creators(self, brand: str, n_creators: int) -> np.ndarray:
        mask = np.zeros(n_creators, dtype=bool)
        for _, past in self.by_brand.get(brand, []):
            mask[past] = True
        return mask

    def add(self, brand: str, start: np.datetime64, creators: np.ndarray) -> None:
        self.by_brand.setdefault(brand, []).append((start, creators))


def creator_costs(rng: np.random.Generator, state: CreatorState, creators: np.ndarray
                  ) -> np.ndarray:
    """Fixed fee per post: position in the tier's price range follows the position of the
    TOTAL follower count inside the tier (log scale), times a platform factor and noise."""
    tier = state.tier[creators]
    low = np.maximum(np.asarray(TIER_LOWER_BOUNDS, dtype="float64")[tier], P.MIN_FOLLOWERS)
    high = np.asarray(P.TIER_UPPER_BOUNDS, dtype="float64")[tier]
    position = np.log(state.followers[creators] / low) / np.log(high / low)
    price_low, price_high = P.COST_RANGE_BY_TIER[tier, 0], P.COST_RANGE_BY_TIER[tier, 1]
    fee = np.exp(np.log(price_low) + position * np.log(price_high / price_low))
    platform_factor = np.array([P.PLATFORM_COST[p] for p in PLATFORMS])
    return (fee * platform_factor[state.platform[creators]]
            * np.exp(rng.normal(0, P.COST_NOISE_SIGMA, len(creators))))


def _draw_campaign(rng: np.random.Generator, i: int, state: CreatorState, history: History,
                   norms: CreatorNorms, brands: BrandHistory) -> tuple[dict, pd.DataFrame]:
    niche = int(rng.choice(len(NICHES), p=P.NICHE_WEIGHTS / P.NICHE_WEIGHTS.sum()))
    brand = str(text.brand_names(np.array([niche]), rng.integers(0, text.BRANDS_PER_NICHE, 1))[0])
    n_targets = int(rng.integers(1, 4))
    targets = rng.choice(len(P.COUNTRIES), n_targets, replace=False,
                         p=P.COUNTRY_WEIGHTS / P.COUNTRY_WEIGHTS.sum())
    target_text = ";".join(P.COUNTRIES[t] for t in sorted(targets))
    price = float(np.round(MEDIAN_PRICE_BY_NICHE[NICHES[niche]] * np.exp(rng.normal(0, 0.5)), 2))
    lead_days = rng.integers(P.CAMPAIGN_MIN_LEAD_DAYS, P.CAMPAIGN_WINDOW_DAYS + 1)
    start = (P.WORLD_END - pd.Timedelta(days=int(lead_days))).to_datetime64()
    duration = int(rng.integers(14, 61))
    campaign = {
        "campaign_id": f"cp{i:05d}", "brand": brand, "niche": NICHES[niche],
        "brief": text.brief(rng, niche, brand, price, target_text),
        "target_countries": target_text, "product_price": price,
        "start_date": start, "end_date": start + np.timedelta64(duration, "D"),
    }

    # Whom the brand hires: niche-matched creators, audiences in its markets, past partners,
    # and a campaign-specific taste for tiers (Gumbel top-k = weighted sampling without
    # replacement).
    n = state.n
    primary = state.primary_niche == niche
    secondary = (state.secondary_niche == niche) & (state.secondary_weight > 0)
    target_share = state.audience_countries[:, targets].sum(axis=1)
    tier_taste = rng.normal(0, 1, 5) + np.array([0.0, 0.6, 0.9, 1.1, 1.1])
    log_weight = (np.log(np.where(primary, NICHE_SELECTION_BOOST["primary"],
                                  np.where(secondary, NICHE_SELECTION_BOOST["secondary"], 1.0)))
                  + 2.0 * target_share + tier_taste[state.tier]
                  + np.log(REPEAT_BOOST) * brands.past_creators(brand, n))
    n_hired = min(int(rng.integers(4, 26)), n)
    keys = log_weight + rng.gumbel(size=n)
    hired = np.sort(np.argpartition(-keys, n_hired - 1)[:n_hired])

    m = len(hired)
    repeat = brands.repeat_counts(brand, start, hired, n)
    brands.add(brand, start, hired)
    tier = state.tier[hired]
    compensation = sample_compensation(rng, tier)
    comp_name = np.asarray(COMPENSATIONS, dtype=object)[compensation]
    fee = creator_costs(rng, state, hired)
    units = rng.integers(1, 4, m)
    commission_rate = rng.uniform(0.10, 0.20, m)
    booking_forecast = (state.followers[hired] * BOOKING_FORECAST_CONVERSIONS_PER_FOLLOWER
                        * price)
    cost = np.select(
        [comp_name == "fixed", comp_name == "gifting", comp_name == "affiliate"],
        [fee, price * units + 25.0, commission_rate * booking_forecast],
        0.5 * fee + commission_rate * booking_forecast)
    posted_at = (start + (rng.random(m) * min(duration, 21) * 86_400).astype("timedelta64[s]")
                 ).astype("datetime64[ns]")

    fit = np.where(primary[hired], "primary", np.where(secondary[hired], "secondary", "none"))
    matched = fit != "none"
    week = history.week_of(posted_at)
    audience_ratio = (history.effective_audience[hired, week]
                      / np.maximum(history.effective_audience[hired, -1], 1e-9))
    impressions = (norms.views_per_post[hired] * audience_ratio * SPONSORED_VIEWS
                   * np.where(matched, P.NICHE_MATCH_VIEWS, 1.0))
    ctr = (P.CTR_BASE * P.CTR_TIER[tier]
           * np.array([P.CTR_BY_COMPENSATION[c] for c in COMPENSATIONS])[compensation]
           * np.array([P.NICHE_FIT_CTR[f] for f in fit]) * np.exp(state.quality[hired] / 2)
           * (1 + P.REPEAT_LIFT_PER_COLLAB * np.minimum(repeat, 3)))
    cvr = (P.CVR_BY_TIER[tier] * (0.15 + 0.85 * target_share[hired])
           * (price / P.REFERENCE_PRICE) ** -P.PRICE_ELASTICITY)
    expected_clicks = impressions * ctr
    expected_conversions = expected_clicks * cvr
    basket_mean = np.exp(BASKET_SIGMA ** 2 / 2)

    post_noise = np.exp(rng.normal(-IMPRESSION_NOISE_SIGMA ** 2 / 2, IMPRESSION_NOISE_SIGMA, m))
    impressions_obs = rng.poisson(impressions * post_noise)
    click_gamma = rng.gamma(CLICK_GAMMA_SHAPE, 1 / CLICK_GAMMA_SHAPE, m)
    clicks = rng.poisson(impressions * post_noise * ctr * click_gamma)
    conversion_gamma = rng.gamma(P.CONVERSION_DISPERSION, 1 / P.CONVERSION_DISPERSION, m)
    conversions = rng.poisson(clicks * cvr * conversion_gamma)
    revenue = np.round(conversions * price * np.exp(rng.normal(0, BASKET_SIGMA, m)), 2)

    rows = pd.DataFrame({
        "campaign_id": campaign["campaign_id"],
        "creator_index": hired,
        "compensation": comp_name,
        "cost": np.round(cost, 2),
        "posted_at": posted_at,
        "impressions": impressions_obs,
        "clicks": clicks,
        "conversions": conversions,
        "revenue": revenue,
        # truth
        "niche_fit": fit,
        "audience_target_share": target_share[hired],
        "repeat_count": repeat,
        "expected_impressions": impressions,
        "ctr": ctr,
        "cvr": cvr,
        "expected_clicks": expected_clicks,
        "expected_conversions": expected_conversions,
        "expected_revenue": expected_conversions * price * basket_mean,
    })
    return campaign, rows


def simulate_campaigns(seed: int, n_campaigns: int, state: CreatorState, history: History,
                       norms: CreatorNorms) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(campaigns table, collaborations table, collaboration truth)."""
    brands = BrandHistory()
    campaigns, rows = [], []
    for i in range(n_campaigns):
        rng = np.random.default_rng([seed, CAMPAIGN_STREAM, i])
        campaign, collab = _draw_campaign(rng, i, state, history, norms, brands)
        campaigns.append(campaign)
        rows.append(collab)
    campaign_frame = pd.DataFrame(campaigns, columns=[
        "campaign_id", "brand", "niche", "brief", "target_countries", "product_price",
        "start_date", "end_date"])
    for column in ("campaign_id", "brand", "niche", "brief", "target_countries"):
        campaign_frame[column] = campaign_frame[column].astype("str")
    for column in ("start_date", "end_date"):
        campaign_frame[column] = pd.to_datetime(campaign_frame[column]).astype("datetime64[ns]")
    campaign_frame["product_price"] = campaign_frame["product_price"].astype("float64")
    if not rows:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in (
            "campaign_id", "creator_index", "compensation", "cost", "posted_at", "impressions",
            "clicks", "conversions", "revenue")})
        return campaign_frame, _collaboration_table(empty, state), empty
    everything = pd.concat(rows, ignore_index=True)
    collaborations = _collaboration_table(everything, state)
    truth = everything.drop(columns=["compensation", "cost", "posted_at", "impressions", "clicks",
                                     "conversions", "revenue", "creator_index"])
    truth.insert(1, "creator_id", collaborations["creator_id"])
    truth.insert(2, "tier", pd.array(np.asarray(TIERS, dtype=object)[state.tier[everything[
                                                    "creator_index"].to_numpy(dtype="int64")]],
                                     dtype="str"))
    truth.insert(3, "fake_follower_share",
                 state.fake_share[everything["creator_index"].to_numpy(dtype="int64")])
    truth["campaign_id"] = truth["campaign_id"].astype("str")
    truth["niche_fit"] = truth["niche_fit"].astype("str")
    return campaign_frame, collaborations, truth


def _collaboration_table(rows: pd.DataFrame, state: CreatorState) -> pd.DataFrame:
    index = rows["creator_index"].to_numpy(dtype="int64")
    return pd.DataFrame({
        "campaign_id": pd.array(rows["campaign_id"].astype(object), dtype="str"),
        "creator_id": pd.array(state.creator_id[index], dtype="str"),
        "compensation": pd.array(rows["compensation"].astype(object), dtype="str"),
        "cost": rows["cost"].astype("float64").to_numpy(),
        "posted_at": pd.to_datetime(rows["posted_at"]).astype("datetime64[ns]").to_numpy(),
        "impressions": pd.array(rows["impressions"].to_numpy(), dtype="Int64"),
        "clicks": pd.array(rows["clicks"].to_numpy(), dtype="Int64"),
        "conversions": pd.array(rows["conversions"].to_numpy(), dtype="Int64"),
        "revenue": rows["revenue"].astype("float64").to_numpy(),
    })
