"""Candidate figures (training.stress): exact on an oracle, computed for a trained bundle on the
candidates of the test campaigns, hired or not, and the suite's machinery on a small world."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.training.small_world import (
    fast_config,
    small_dataset,
    small_follower_classifier,
    small_train_result,
    small_world,
)
from training.stress import (
    SuiteSize,
    candidate_frame,
    candidate_metrics,
    evaluate_candidates,
    run_stress_suite,
    suite_average,
)


def _test_candidates() -> pd.DataFrame:
    table = small_world().truth["candidate_truth"]
    test = small_train_result().split.test
    return table[table["campaign_id"].isin(test)].reset_index(drop=True)


def test_an_oracle_scores_perfectly_and_a_halved_level_reads_half():
    frame = candidate_frame(small_train_result().bundle, small_dataset(), _test_candidates())
    oracle = frame.copy()
    oracle["expected_conversions"] = oracle["true_expected_conversions"]
    value = oracle["revenue_per_conversion"] * np.exp(0.25 ** 2 / 2)
    oracle["predicted_roi"] = oracle["true_expected_conversions"] * value / oracle["cost"]
    m = candidate_metrics(oracle)
    assert m["candidate_ndcg_at_10_roi"] == pytest.approx(1.0)
    assert m["candidate_roi_captured_at_10"] == pytest.approx(1.0)
    assert m["candidate_spearman"] == pytest.approx(1.0)
    assert m["candidate_level_ratio"] == pytest.approx(1.0)
    half = oracle.assign(expected_conversions=oracle["expected_conversions"] / 2)
    assert candidate_metrics(half)["candidate_level_ratio"] == pytest.approx(0.5)


def test_bundle_is_measured_on_every_candidate_hired_or_not():
    candidates = _test_candidates()
    assert (~candidates["hired"]).sum() > candidates["hired"].sum()
    m = evaluate_candidates(small_train_result().bundle, small_dataset(), small_world().truth,
                            small_train_result().split.test)
    assert m["candidate_n"] == len(candidates)
    for key in ("candidate_ndcg_at_10_roi", "candidate_roi_captured_at_10",
                "candidate_spearman", "candidate_level_ratio", "candidate_interval_coverage",
                "candidate_interval_coverage_worst_quintile", "candidate_level_ratio_not_hired",
                "baseline_followers_candidate_ndcg_at_10_roi",
                "baseline_engagement_rate_candidate_roi_captured_at_10",
                "baseline_tier_rule_candidate_spearman"):
        assert np.isfinite(m[key]), key
    assert 0 < m["candidate_interval_coverage"] <= 1
    # The model must beat ranking by followers on the candidates' true ROI.
    assert (m["candidate_roi_captured_at_10"]
            > m["baseline_followers_candidate_roi_captured_at_10"])
    assert evaluate_candidates(small_train_result().bundle, small_dataset(), None, ["x"]) == {}


def test_missing_truth_columns_are_named():
    with pytest.raises(ValueError, match="candidate_truth: missing column"):
        candidate_frame(small_train_result().bundle, small_dataset(),
                        _test_candidates().drop(columns=["expected_revenue"]))


def test_suite_runs_each_world_and_averages():
    from data.synthetic.assumptions import STRESS_WORLDS

    worlds = [STRESS_WORLDS["calibrated"], STRESS_WORLDS["selection_bias"]]
    results = run_stress_suite(worlds, SuiteSize(creators=250, campaigns=40,
                                                 posts_per_creator=10, seed=2),
                               fast_config(conversion_rounds=40, risk_rounds=30),
                               small_follower_classifier())
    assert [r.name for r in results] == ["calibrated", "selection_bias"]
    mean = suite_average(results)
    for r in results:
        assert r.metrics["candidate_n"] > 0
    assert mean["candidate_level_ratio"] == pytest.approx(
        np.mean([r.metrics["candidate_level_ratio"] for r in results]))


def test_holdout_level_ratio_is_sum_over_sum():
    from training.evaluation import evaluate_predictions

    test = small_train_result().test_predictions
    m = evaluate_predictions(test, with_baselines=False)
    assert m["level_ratio"] == pytest.approx(test["expected_conversions"].sum()
                                             / test["conversions"].sum())
