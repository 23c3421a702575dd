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
from data.synthetic.assumptions import CALIBRATED, WorldAssumptions
from data.synthetic.creators import CreatorState
from data.synthetic.history import History
from data.synthetic.posts import SPONSORED_VIEWS, CreatorNorms, sample_compensation

CAMPAIGN_STREAM = 9_173
CANDIDATE_STREAM = 9_174  # stress-world draws and the candidates' terms and outcomes
AFFINITY_STREAM = 9_175  # the creators' unobserved conversion affinity (stress worlds)
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


def creator_costs(rng: np.random.Generator, state: CreatorState, creators: np.ndarray,
                  assumptions: WorldAssumptions = CALIBRATED) -> np.ndarray:
    """Fixed fee per post: position in the tier's price range follows the position of the
    TOTAL follower count (calibrated; the real one in a stress world whose cost basis says so)
    inside the tier (log scale), times a platform factor and noise."""
    tier = state.tier[creators]
    low = np.maximum(np.asarray(TIER_LOWER_BOUNDS, dtype="float64")[tier], P.MIN_FOLLOWERS)
    high = np.asarray(P.TIER_UPPER_BOUNDS, dtype="float64")[tier]
    followers = (state.followers if assumptions.cost_basis == "total_followers"
                 else np.maximum(state.real_followers, 1.0))
    position = np.log(followers[creators] / low) / np.log(high / low)
    price_low, price_high = P.COST_RANGE_BY_TIER[tier, 0], P.COST_RANGE_BY_TIER[tier, 1]
    fee = np.exp(np.log(price_low) + position * np.log(price_high / price_low))
    platform_factor = np.array([P.PLATFORM_COST[p] for p in PLATFORMS])
    return (fee * platform_factor[state.platform[creators]]
            * np.exp(rng.normal(0, assumptions.cost_noise_sigma, len(creators)))
            * assumptions.cost_level)


@dataclass(frozen=True)
class _Campaign:
    """What a campaign's outcomes depend on, shared by its hires and its other candidates."""

    index: int
    niche: int
    brand: str
    price: float
    start: np.datetime64
    duration: int
    target_share: np.ndarray  # per creator: audience share in the target countries
    primary: np.ndarray  # per creator: the campaign niche is the creator's primary niche
    secondary: np.ndarray
    shock: float  # unobserved campaign multiplier on conversions (1 in the calibrated world)


def _offer_terms(rng: np.random.Generator, state: CreatorState, creators: np.ndarray,
                 campaign: _Campaign, assumptions: WorldAssumptions
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(compensation codes, names, cost) the brand offers each creator, and posting times."""
    m = len(creators)
    tier = state.tier[creators]
    compensation = sample_compensation(rng, tier)
    comp_name = np.asarray(COMPENSATIONS, dtype=object)[compensation]
    fee = creator_costs(rng, state, creators, assumptions)
    units = rng.integers(1, 4, m)
    commission_rate = rng.uniform(0.10, 0.20, m)
    price = campaign.price
    booking_forecast = (state.followers[creators] * BOOKING_FORECAST_CONVERSIONS_PER_FOLLOWER
                        * price)
    cost = np.select(
        [comp_name == "fixed", comp_name == "gifting", comp_name == "affiliate"],
        [fee, price * units + 25.0, commission_rate * booking_forecast],
        0.5 * fee + commission_rate * booking_forecast)
    posted_at = (campaign.start + (rng.random(m) * min(campaign.duration, 21) * 86_400).astype(
        "timedelta64[s]")).astype("datetime64[ns]")
    return compensation, comp_name, cost, posted_at


def _expected_outcome(state: CreatorState, history: History, norms: CreatorNorms,
                      creators: np.ndarray, campaign: _Campaign, compensation: np.ndarray,
                      repeat: np.ndarray, posted_at: np.ndarray, affinity: np.ndarray,
                      assumptions: WorldAssumptions) -> dict[str, np.ndarray]:
    """Noise-free impressions, CTR, per-click conversion and expected conversions (module
    docstring); the stress world's reach link, creator affinity and campaign shock act on the
    per-click conversion, so the realised counts carry them too."""
    tier = state.tier[creators]
    fit = np.where(campaign.primary[creators], "primary",
                   np.where(campaign.secondary[creators], "secondary", "none"))
    matched = fit != "none"
    week = history.week_of(posted_at)
    audience_ratio = (history.effective_audience[creators, week]
                      / np.maximum(history.effective_audience[creators, -1], 1e-9))
    impressions = (norms.views_per_post[creators] * audience_ratio * SPONSORED_VIEWS
                   * np.where(matched, P.NICHE_MATCH_VIEWS, 1.0))
    ctr = (P.CTR_BASE * P.CTR_TIER[tier]
           * np.array([P.CTR_BY_COMPENSATION[c] for c in COMPENSATIONS])[compensation]
           * np.array([assumptions.niche_fit_ctr[f] for f in fit])
           * np.exp(state.quality[creators] / 2)
           * (1 + P.REPEAT_LIFT_PER_COLLAB * np.minimum(repeat, 3)))
    cvr = (P.CVR_BY_TIER[tier] * (0.15 + 0.85 * campaign.target_share[creators])
           * (campaign.price / P.REFERENCE_PRICE) ** -assumptions.price_elasticity)
    # Exactly 1 in the calibrated world (multiplying by 1.0 changes no bit).
    cvr = cvr * assumptions.reach_factor(impressions) * affinity[creators] * campaign.shock
    expected_clicks = impressions * ctr
    return {"niche_fit": fit, "expected_impressions": impressions, "ctr": ctr, "cvr": cvr,
            "expected_clicks": expected_clicks, "expected_conversions": expected_clicks * cvr}


def _realise(rng: np.random.Generator, expected: dict[str, np.ndarray], price: float,
             assumptions: WorldAssumptions) -> dict[str, np.ndarray]:
    """Observed impressions, clicks, conversions and revenue drawn around the expectation."""
    m = len(expected["ctr"])
    impressions, ctr, cvr = expected["expected_impressions"], expected["ctr"], expected["cvr"]
    sigma = assumptions.impression_noise_sigma
    post_noise = np.exp(rng.normal(-sigma ** 2 / 2, sigma, m))
    impressions_obs = rng.poisson(impressions * post_noise)
    click_gamma = rng.gamma(CLICK_GAMMA_SHAPE, 1 / CLICK_GAMMA_SHAPE, m)
    clicks = rng.poisson(impressions * post_noise * ctr * click_gamma)
    shape = assumptions.conversion_dispersion
    conversion_gamma = rng.gamma(shape, 1 / shape, m)
    conversions = rng.poisson(clicks * cvr * conversion_gamma)
    revenue = np.round(conversions * price * np.exp(rng.normal(0, BASKET_SIGMA, m)), 2)
    return {"impressions": impressions_obs, "clicks": clicks, "conversions": conversions,
            "revenue": revenue}


def _draw_campaign(rng: np.random.Generator, i: int, state: CreatorState, history: History,
                   norms: CreatorNorms, brands: BrandHistory, seed: int,
                   assumptions: WorldAssumptions, affinity: np.ndarray
                   ) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(campaign row, hired collaborations with truth, every candidate with truth)."""
    niche = int(rng.choice(len(NICHES), p=P.NICHE_WEIGHTS / P.NICHE_WEIGHTS.sum()))
    brand = str(text.brand_names(np.array([niche]), rng.integers(0, text.BRANDS_PER_NICHE, 1))[0])
    n_targets = int(rng.integers(1, 4))
    targets = rng.choice(len(P.COUNTRIES), n_targets, replace=False,
                         p=P.COUNTRY_WEIGHTS / P.COUNTRY_WEIGHTS.sum())
    target_text = ";".join(P.COUNTRIES[t] for t in sorted(targets))
    price = float(np.round(MEDIAN_PRICE_BY_NICHE[NICHES[niche]] * assumptions.price_level
                           * np.exp(rng.normal(0, assumptions.price_sigma)), 2))
    lead_days = rng.integers(P.CAMPAIGN_MIN_LEAD_DAYS, P.CAMPAIGN_WINDOW_DAYS + 1)
    start = (P.WORLD_END - pd.Timedelta(days=int(lead_days))).to_datetime64()
    duration = int(rng.integers(14, 61))
    campaign = {
        "campaign_id": f"cp{i:05d}", "brand": brand, "niche": NICHES[niche],
        "brief": text.brief(rng, niche, brand, price, target_text),
        "target_countries": target_text, "product_price": price,
        "start_date": start, "end_date": start + np.timedelta64(duration, "D"),
    }
    # The stress worlds' draws (campaign shock, candidates' terms and outcomes) come from a
    # stream of their own, so they never change the calibrated world's tables.
    candidate_rng = np.random.default_rng([seed, CANDIDATE_STREAM, i])
    shock_sigma = assumptions.campaign_shock_sigma
    shock = float(np.exp(shock_sigma * candidate_rng.standard_normal() - shock_sigma ** 2 / 2))

    # Whom the brand hires: niche-matched creators, audiences in its markets, past partners,
    # and a campaign-specific taste for tiers (Gumbel top-k = weighted sampling without
    # replacement); in a selection-bias world also the creator's unobserved affinity.
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
    observable_keys = log_weight + rng.gumbel(size=n)
    keys = observable_keys
    if assumptions.selection_on_affinity:
        keys = observable_keys + assumptions.selection_on_affinity * np.log(affinity)
    hired = np.sort(np.argpartition(-keys, n_hired - 1)[:n_hired])
    # The shortlist: the hires and the next best by the brand's observable weight.
    n_others = min(max(assumptions.n_candidates - n_hired, 0), n - n_hired)
    others = np.array([], dtype="int64")
    if n_others:
        open_keys = np.where(np.isin(np.arange(n), hired), -np.inf, observable_keys)
        others = np.sort(np.argpartition(-open_keys, n_others - 1)[:n_others])

    context = _Campaign(i, niche, brand, price, start, duration, target_share, primary,
                        secondary, shock)
    repeat = brands.repeat_counts(brand, start, hired, n)
    repeat_others = brands.repeat_counts(brand, start, others, n)
    brands.add(brand, start, hired)
    compensation, comp_name, cost, posted_at = _offer_terms(rng, state, hired, context,
                                                            assumptions)
    expected = _expected_outcome(state, history, norms, hired, context, compensation, repeat,
                                 posted_at, affinity, assumptions)
    observed = _realise(rng, expected, price, assumptions)
    basket_mean = np.exp(BASKET_SIGMA ** 2 / 2)
    rows = pd.DataFrame({
        "campaign_id": campaign["campaign_id"],
        "creator_index": hired,
        "compensation": comp_name,
        "cost": np.round(cost, 2),
        "posted_at": posted_at,
        **observed,
        # truth
        "niche_fit": expected["niche_fit"],
        "audience_target_share": target_share[hired],
        "repeat_count": repeat,
        **{k: expected[k] for k in ("expected_impressions", "ctr", "cvr", "expected_clicks",
                                    "expected_conversions")},
        "expected_revenue": expected["expected_conversions"] * price * basket_mean,
    })

    other_compensation, other_names, other_cost, other_posted = _offer_terms(
        candidate_rng, state, others, context, assumptions)
    other_expected = _expected_outcome(state, history, norms, others, context,
                                       other_compensation, repeat_others, other_posted,
                                       affinity, assumptions)
    other_observed = _realise(candidate_rng, other_expected, price, assumptions)
    candidates = pd.DataFrame({
        "campaign_id": campaign["campaign_id"],
        "creator_index": np.concatenate([hired, others]),
        "hired": np.concatenate([np.ones(len(hired), bool), np.zeros(len(others), bool)]),
        "compensation": np.concatenate([comp_name, other_names]),
        "cost": np.round(np.concatenate([cost, other_cost]), 2),
        "niche_fit": np.concatenate([expected["niche_fit"], other_expected["niche_fit"]]),
        "repeat_count": np.concatenate([repeat, repeat_others]),
        "conversion_affinity": affinity[np.concatenate([hired, others])],
        "campaign_shock": shock,
        "expected_conversions": np.concatenate([expected["expected_conversions"],
                                                other_expected["expected_conversions"]]),
        "conversions": np.concatenate([observed["conversions"],
                                       other_observed["conversions"]]),
    })
    candidates["expected_revenue"] = candidates["expected_conversions"] * price * basket_mean
    return campaign, rows, candidates


def conversion_affinity(seed: int, n_creators: int, assumptions: WorldAssumptions
                        ) -> np.ndarray:
    """Per-creator unobserved conversion multiplier, mean 1 over the creators (all ones in the
    calibrated world)."""
    log_affinity = assumptions.affinity(np.random.default_rng([seed, AFFINITY_STREAM]),
                                        n_creators)
    multiplier = np.exp(log_affinity)
    return multiplier / multiplier.mean()


def simulate_campaigns(seed: int, n_campaigns: int, state: CreatorState, history: History,
                       norms: CreatorNorms, assumptions: WorldAssumptions = CALIBRATED
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(campaigns table, collaborations table, collaboration truth, candidate truth)."""
    brands = BrandHistory()
    affinity = conversion_affinity(seed, state.n, assumptions)
    campaigns, rows, candidates = [], [], []
    for i in range(n_campaigns):
        rng = np.random.default_rng([seed, CAMPAIGN_STREAM, i])
        campaign, collab, shortlist = _draw_campaign(rng, i, state, history, norms, brands,
                                                     seed, assumptions, affinity)
        campaigns.append(campaign)
        rows.append(collab)
        candidates.append(shortlist)
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
        return (campaign_frame, _collaboration_table(empty, state), empty,
                _candidate_table(pd.DataFrame(columns=CANDIDATE_COLUMNS), state))
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
    return (campaign_frame, collaborations, truth,
            _candidate_table(pd.concat(candidates, ignore_index=True), state))


CANDIDATE_COLUMNS = ("campaign_id", "creator_index", "hired", "compensation", "cost",
                     "niche_fit", "repeat_count", "conversion_affinity", "campaign_shock",
                     "expected_conversions", "conversions", "expected_revenue")


def _candidate_table(rows: pd.DataFrame, state: CreatorState) -> pd.DataFrame:
    """truth["candidate_truth"]: one row per (campaign, shortlisted creator), hired or not."""
    index = rows["creator_index"].to_numpy(dtype="int64")
    out = pd.DataFrame({
        "campaign_id": pd.array(rows["campaign_id"].astype(object), dtype="str"),
        "creator_id": pd.array(state.creator_id[index], dtype="str"),
        "tier": pd.array(np.asarray(TIERS, dtype=object)[state.tier[index]], dtype="str"),
        "hired": rows["hired"].to_numpy(dtype=bool),
        "compensation": pd.array(rows["compensation"].astype(object), dtype="str"),
        "niche_fit": pd.array(rows["niche_fit"].astype(object), dtype="str"),
    })
    for column in ("cost", "conversion_affinity", "campaign_shock", "expected_conversions",
                   "expected_revenue"):
        out[column] = rows[column].to_numpy(dtype="float64")
    out["repeat_count"] = rows["repeat_count"].to_numpy(dtype="int64")
    out["conversions"] = rows["conversions"].to_numpy(dtype="int64")
    return out


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
