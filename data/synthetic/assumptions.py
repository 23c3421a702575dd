"""The generator's assumptions as one typed object, and the stress worlds that break them.

`WorldAssumptions()` is the calibrated world (`data/README.md`): every default reproduces the
generator's output bit for bit. Each named variant in `STRESS_WORLDS` changes one or more of
the assumptions our conversion model could silently depend on, so a model can be judged on
worlds we did not calibrate (`scripts/stress_report.py`):

What each world changes (calibrated value in brackets):
- saturating_reach: conversions saturate with reach, I impressions count as I / (1 + I / 20,000).
- threshold_reach: small reach barely converts, I counts as I * I / (I + 5,000).
- niche_dominated: off-niche posts convert at 0.05 (0.3), secondary niche 0.3 (0.65), and
  conversions grow like reach ** 0.6 (equal to the calibrated link at 10,000 impressions).
- heavy_tails: an unobserved creator conversion affinity, Student t (3 df, sd 0.5) on the log
  scale; over-dispersed counts: conversion Gamma shape 0.7 (2), impression noise 0.8 (0.4).
- selection_bias: an unobserved affinity (log-normal, sd 0.6) that brands see: their hiring
  log-weight adds 1.5 x log affinity, so hires convert better than the candidates beside them.
- price_cost_regime: prices 30% higher with log sd 1.0 (0.5), price elasticity 1.0 (0.6); fees
  track REAL followers (total) with log noise 0.6 (0.3) and are 50% higher.
- platform_tier_mix: Instagram / TikTok / YouTube 30 / 45 / 25% (50 / 30 / 20) and a flat tier
  mix (many more mid, macro and mega creators).
- campaign_shocks: each campaign's conversions are multiplied by an unobserved log-normal
  shock (sd 0.6, mean 1).
- combined: saturating reach + selection bias + heavy tails (affinity sd 0.6) + campaign
  shocks + the flat platform and tier mix.

Every world (the calibrated one too) keeps truth for each campaign's **candidates**: the
creators a brand shortlisted (its hires plus the next best by the brand's observable hiring
weight, `n_candidates` in all), hired or not, with offered terms (compensation, cost), the
noise-free expected conversions and revenue, and a realised conversion count (the hires' real
one, a draw from the same noise process for the others): `truth["candidate_truth"]`.
Candidates draw from their own random stream, so they never change the contract tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data.synthetic import params as P

REACH_RESPONSES = ("proportional", "saturating", "threshold", "niche_dominated")
COST_BASES = ("total_followers", "real_followers")
FLAT_TIER_MIX = {p: (0.40, 0.25, 0.15, 0.14, 0.06) for p in ("instagram", "tiktok", "youtube")}


@dataclass(frozen=True)
class WorldAssumptions:
    """Knobs of the generator a conversion model may depend on (defaults: calibrated world)."""

    name: str = "calibrated"
    description: str = "the calibrated world of data/README.md"
    # Creators
    platform_shares: dict[str, float] = field(default_factory=lambda: dict(P.PLATFORM_SHARES))
    tier_mix: dict[str, tuple[float, ...]] | None = None  # None: P.REALISTIC_TIER_MIX
    # Link between reach and conversions (see `reach_factor`)
    reach_response: str = "proportional"
    reach_scale: float = 20_000.0  # impressions: saturation / threshold / pivot point
    niche_fit_ctr: dict[str, float] = field(default_factory=lambda: dict(P.NICHE_FIT_CTR))
    # Unobserved per-creator conversion affinity (log scale): sd, Student t df (inf = normal)
    affinity_sigma: float = 0.0
    affinity_df: float = float("inf")
    # Brands' hiring log-weight gains selection_on_affinity * affinity (selection bias)
    selection_on_affinity: float = 0.0
    # Noise of the realised counts
    conversion_dispersion: float = P.CONVERSION_DISPERSION
    impression_noise_sigma: float = 0.4
    # Money
    price_sigma: float = 0.5
    price_level: float = 1.0
    price_elasticity: float = P.PRICE_ELASTICITY
    cost_basis: str = "total_followers"
    cost_noise_sigma: float = P.COST_NOISE_SIGMA
    cost_level: float = 1.0
    # Unobserved campaign-level log-normal shock on conversions (sd; mean 1)
    campaign_shock_sigma: float = 0.0
    # Candidates per campaign (hires included)
    n_candidates: int = 40

    def __post_init__(self):
        problems = []
        if self.reach_response not in REACH_RESPONSES:
            problems.append(f"reach_response must be one of {REACH_RESPONSES}, got "
                            f"{self.reach_response!r}")
        if self.cost_basis not in COST_BASES:
            problems.append(f"cost_basis must be one of {COST_BASES}, got {self.cost_basis!r}")
        for name in ("reach_scale", "conversion_dispersion", "price_level", "cost_level"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("affinity_sigma", "impression_noise_sigma", "price_sigma",
                     "cost_noise_sigma", "campaign_shock_sigma"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.affinity_df > 2:
            problems.append(f"affinity_df must be > 2 (finite variance), got {self.affinity_df}")
        if self.n_candidates < 1:
            problems.append(f"n_candidates must be >= 1, got {self.n_candidates}")
        if set(self.niche_fit_ctr) != set(P.NICHE_FIT_CTR):
            problems.append(f"niche_fit_ctr needs keys {sorted(P.NICHE_FIT_CTR)}")
        if sum(self.platform_shares.values()) <= 0 or min(self.platform_shares.values()) < 0:
            problems.append("platform_shares must be non-negative with a positive sum")
        if problems:
            raise ValueError("WorldAssumptions: " + "; ".join(problems))

    def reach_factor(self, impressions: np.ndarray) -> np.ndarray:
        """Conversions per expected impression relative to the calibrated world (1 there):
        the shape of the reach -> conversions link."""
        x = np.maximum(np.asarray(impressions, dtype="float64"), 0.0)
        k = self.reach_scale
        if self.reach_response == "proportional":
            return np.ones_like(x)
        if self.reach_response == "saturating":
            return 1.0 / (1.0 + x / k)
        if self.reach_response == "threshold":
            return x / (x + k)
        # niche_dominated: conversions grow like reach ** 0.6, equal to proportional at k
        return (np.maximum(x, 1.0) / k) ** -0.4

    def affinity(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Per-creator log affinity (zeros without one); a Student t is rescaled to unit sd."""
        if self.affinity_sigma == 0:
            return np.zeros(n)
        if np.isinf(self.affinity_df):
            z = rng.standard_normal(n)
        else:
            z = rng.standard_t(self.affinity_df, n) / np.sqrt(self.affinity_df
                                                            / (self.affinity_df - 2))
        return self.affinity_sigma * z

    @property
    def is_calibrated(self) -> bool:
        return self == WorldAssumptions()


CALIBRATED = WorldAssumptions()

_SATURATING = {"reach_response": "saturating", "reach_scale": 20_000.0}
_SELECTION = {"affinity_sigma": 0.6, "selection_on_affinity": 1.5}
_HEAVY = {"affinity_sigma": 0.5, "affinity_df": 3.0, "conversion_dispersion": 0.7,
          "impression_noise_sigma": 0.8}
_SHOCKS = {"campaign_shock_sigma": 0.6}
_FLAT_MIX = {"tier_mix": FLAT_TIER_MIX,
             "platform_shares": {"instagram": 0.30, "tiktok": 0.45, "youtube": 0.25}}

STRESS_WORLDS: dict[str, WorldAssumptions] = {w.name: w for w in (
    CALIBRATED,
    WorldAssumptions(name="saturating_reach", description="conversions saturate with reach: "
                     "I / (1 + I / 20,000) effective impressions", **_SATURATING),
    WorldAssumptions(name="threshold_reach", description="small reach barely converts: "
                     "I * I / (I + 5,000) effective impressions", reach_response="threshold",
                     reach_scale=5_000.0),
    WorldAssumptions(name="niche_dominated", description="niche fit dominates (off-niche x0.05,"
                     " secondary x0.3), reach elasticity 0.6", reach_response="niche_dominated",
                     reach_scale=10_000.0,
                     niche_fit_ctr={"primary": 1.0, "secondary": 0.3, "none": 0.05}),
    WorldAssumptions(name="heavy_tails", description="unobserved t(3) creator affinity (sd 0.5), "
                     "conversion Gamma shape 0.7, impression noise 0.8", **_HEAVY),
    WorldAssumptions(name="selection_bias", description="brands hire on an unobserved affinity "
                     "(sd 0.6, weight 1.5): hires beat the candidates", **_SELECTION),
    WorldAssumptions(name="price_cost_regime", description="prices 1.3x, log sd 1.0, elasticity "
                     "1.0; fees 1.5x on real followers, log noise 0.6", price_sigma=1.0,
                     price_level=1.3, price_elasticity=1.0, cost_basis="real_followers",
                     cost_noise_sigma=0.6, cost_level=1.5),
    WorldAssumptions(name="platform_tier_mix", description="TikTok/YouTube heavy, flat tier mix "
                     "(many large creators)", **_FLAT_MIX),
    WorldAssumptions(name="campaign_shocks", description="unobserved campaign shock on "
                     "conversions, log-normal sd 0.6", **_SHOCKS),
    WorldAssumptions(name="combined", description="saturating reach + selection bias + heavy "
                     "tails + campaign shocks + flat tier mix",
                     **{**_SATURATING, **_HEAVY, **_SELECTION, **_SHOCKS, **_FLAT_MIX,
                        "affinity_sigma": 0.6}),
)}


def assumptions_named(name: str) -> WorldAssumptions:
    """The named world of STRESS_WORLDS, or a ValueError listing the names."""
    try:
        return STRESS_WORLDS[name]
    except KeyError:
        raise ValueError(f"unknown world assumptions {name!r}; expected one of "
                         f"{sorted(STRESS_WORLDS)}") from None


__all__ = ["CALIBRATED", "STRESS_WORLDS", "WorldAssumptions", "assumptions_named"]
