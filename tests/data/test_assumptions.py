"""Stress worlds: each one generates a valid world, differs from the calibrated one as its
documentation says, and keeps truth for every candidate, hired or not."""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from data.loader import validate_tables
from data.synthetic import generate_world
from data.synthetic.assumptions import (
    CALIBRATED,
    STRESS_WORLDS,
    WorldAssumptions,
    assumptions_named,
)

N_CREATORS, N_CAMPAIGNS, POSTS = 500, 30, 10


@cache
def _world(name: str, n_candidates: int | None = None):
    assumptions = STRESS_WORLDS[name]
    if n_candidates is not None:
        assumptions = WorldAssumptions(**{**assumptions.__dict__, "n_candidates": n_candidates})
    return generate_world(N_CREATORS, N_CAMPAIGNS, seed=4, posts_per_creator=POSTS,
                          assumptions=assumptions)


def _candidates(name: str) -> pd.DataFrame:
    return _world(name).truth["candidate_truth"]


def test_at_least_six_stress_worlds_each_documented():
    stressed = [w for w in STRESS_WORLDS.values() if not w.is_calibrated]
    assert len(stressed) >= 6
    for world in stressed:
        assert world.description and world.description != CALIBRATED.description
    import data.synthetic.assumptions as module

    for name in STRESS_WORLDS:
        assert f"- {name}:" in module.__doc__ or name == "calibrated"


@pytest.mark.parametrize("name", sorted(STRESS_WORLDS))
def test_every_world_is_valid_and_keeps_truth_for_every_candidate(name):
    world = _world(name)
    validate_tables(world.tables)
    candidates = world.truth["candidate_truth"]
    collaborations = world.tables["collaborations"]
    per_campaign = candidates.groupby("campaign_id").size()
    assert (per_campaign == STRESS_WORLDS[name].n_candidates).all()
    assert len(per_campaign) == N_CAMPAIGNS
    assert not candidates.duplicated(["campaign_id", "creator_id"]).any()
    # The hires are exactly the collaborations, with the same truth and realised counts.
    hired = candidates[candidates["hired"]].merge(
        world.truth["collaboration_truth"][["campaign_id", "creator_id", "expected_conversions"]],
        on=["campaign_id", "creator_id"], suffixes=("", "_collab"))
    assert len(hired) == len(collaborations) == int(candidates["hired"].sum())
    np.testing.assert_allclose(hired["expected_conversions"], hired["expected_conversions_collab"])
    # Candidates nobody hired have truth too: offered terms and an expectation.
    others = candidates[~candidates["hired"]]
    assert len(others) > 0
    for column in ("expected_conversions", "expected_revenue", "cost"):
        assert np.isfinite(others[column]).all() and (others[column] >= 0).all()
    assert (others["conversions"] >= 0).all()


def test_candidates_never_change_the_contract_tables():
    # The shortlist draws from its own stream: its size changes no contract table.
    many, few = _world("calibrated"), _world("calibrated", n_candidates=5)
    for name, table in many.tables.items():
        pd.testing.assert_frame_equal(table, few.tables[name])
    pd.testing.assert_frame_equal(many.truth["collaboration_truth"],
                                  few.truth["collaboration_truth"])


def test_worlds_that_keep_the_creators_share_them_with_the_calibrated_world():
    calibrated = _world("calibrated").tables
    for name in ("saturating_reach", "threshold_reach", "niche_dominated", "campaign_shocks"):
        pd.testing.assert_frame_equal(_world(name).tables["creators"], calibrated["creators"])
        pd.testing.assert_frame_equal(_world(name).tables["campaigns"], calibrated["campaigns"])


def _ratio_by_reach(name: str) -> tuple[float, float]:
    """Expected conversions relative to the calibrated world, small vs large reach."""
    calibrated = _world("calibrated").truth["collaboration_truth"]
    stressed = _world(name).truth["collaboration_truth"]
    ratio = (stressed["expected_conversions"] / calibrated["expected_conversions"]).to_numpy()
    reach = calibrated["expected_impressions"].to_numpy()
    small = reach < np.quantile(reach, 0.25)
    large = reach > np.quantile(reach, 0.75)
    return float(np.median(ratio[small])), float(np.median(ratio[large]))


def test_reach_links_differ_as_documented():
    small, large = _ratio_by_reach("saturating_reach")
    assert large < 0.5 * small  # saturation: large reach loses most
    small, large = _ratio_by_reach("threshold_reach")
    assert small < 0.5 * large  # threshold: small reach loses most
    small, large = _ratio_by_reach("niche_dominated")
    assert large < small
    calibrated = _world("calibrated").truth["collaboration_truth"]
    niche = _world("niche_dominated").truth["collaboration_truth"]
    off = (calibrated["niche_fit"] == "none").to_numpy()
    ratio = niche["expected_conversions"] / calibrated["expected_conversions"]
    assert ratio[off].median() < 0.5 * ratio[~off].median()


def test_selection_bias_hires_better_than_the_candidates_beside_them():
    candidates = _candidates("selection_bias")
    hired = candidates["hired"].to_numpy()
    affinity = candidates["conversion_affinity"].to_numpy()
    assert np.median(affinity[hired]) > 1.3 * np.median(affinity[~hired])
    calibrated = _candidates("calibrated")
    assert (calibrated["conversion_affinity"] == 1.0).all()


def test_heavy_tails_and_shocks_are_unobserved_multipliers():
    heavy = _candidates("heavy_tails").drop_duplicates("creator_id")["conversion_affinity"]
    log_affinity = np.log(heavy.to_numpy())
    kurtosis = np.mean((log_affinity - log_affinity.mean()) ** 4) / np.var(log_affinity) ** 2
    assert kurtosis > 3.5  # heavier than a normal's 3
    shocks = _candidates("campaign_shocks").groupby("campaign_id")["campaign_shock"].first()
    assert shocks.std() > 0.3 and shocks.nunique() == N_CAMPAIGNS
    assert (_candidates("calibrated")["campaign_shock"] == 1.0).all()


def test_money_and_mix_regimes_differ_as_documented():
    calibrated, regime = _world("calibrated").tables, _world("price_cost_regime").tables
    assert (np.log(regime["campaigns"]["product_price"]).std()
            > 1.5 * np.log(calibrated["campaigns"]["product_price"]).std())
    mix = _world("platform_tier_mix").truth["creator_truth"]
    base = _world("calibrated").truth["creator_truth"]
    assert (mix["tier"] != "nano").mean() > 2 * (base["tier"] != "nano").mean()
    assert (mix["platform"] == "tiktok").mean() > (base["platform"] == "tiktok").mean() + 0.08


def test_bad_assumptions_are_named():
    with pytest.raises(ValueError, match="reach_response"):
        WorldAssumptions(reach_response="cubic")
    with pytest.raises(ValueError, match="n_candidates"):
        WorldAssumptions(n_candidates=0)
    with pytest.raises(ValueError, match="unknown world assumptions 'nope'"):
        assumptions_named("nope")


def test_generate_command_takes_the_assumptions(tmp_path):
    from creatorscore import app

    runner = CliRunner()
    bad = runner.invoke(app, ["generate", "--out", str(tmp_path / "x"), "--creators", "50",
                              "--campaigns", "2", "--assumptions", "nope"])
    assert bad.exit_code == 2 and "unknown world assumptions" in bad.output
    ok = runner.invoke(app, ["generate", "--out", str(tmp_path / "w"), "--creators", "80",
                             "--campaigns", "3", "--posts-per-creator", "5",
                             "--assumptions", "selection_bias"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "w" / "truth" / "candidate_truth.csv").exists()
