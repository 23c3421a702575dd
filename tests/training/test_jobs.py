import numpy as np

from tests.training.small_world import (
    fast_config,
    small_dataset,
    small_follower_classifier,
    small_train_result,
    small_world,
)
from training.protocol import train_and_evaluate


def test_metrics_cover_model_baselines_coverage_and_risk():
    metrics = small_train_result().metrics
    for key in ("poisson_deviance", "spearman", "ndcg_at_10", "roi_captured_at_10",
                "conversion_interval_coverage", "revenue_interval_coverage",
                "baseline_followers_poisson_deviance", "baseline_followers_roi_captured_at_10",
                "baseline_engagement_rate_ndcg_at_10", "baseline_tier_rule_ndcg_at_10",
                "risk_auc", "fake_share_interval_coverage"):
        assert key in metrics and np.isfinite(metrics[key]), key
    # Coverage is measured on later campaigns than the calibration slice: near nominal 90%.
    assert 0.75 <= metrics["conversion_interval_coverage"] <= 1.0
    assert metrics["poisson_deviance"] < metrics["baseline_followers_poisson_deviance"]
    assert metrics["risk_auc"] > 0.7


def test_time_split_holds_out_the_latest_campaigns():
    result = small_train_result()
    starts = small_dataset().campaigns.set_index("campaign_id")["start_date"]
    assert starts[list(result.split.train)].max() <= starts[list(result.split.test)].min()
    assert set(result.test_predictions["campaign_id"]) == set(result.split.test)


def test_same_seed_same_model():
    again = train_and_evaluate(small_dataset(), fast_config(), truth=small_world().truth,
                               follower_classifier=small_follower_classifier())
    first = small_train_result()
    np.testing.assert_array_equal(first.test_predictions["expected_conversions"],
                                  again.test_predictions["expected_conversions"])
    assert first.metrics["poisson_deviance"] == again.metrics["poisson_deviance"]
