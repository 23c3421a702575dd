import numpy as np
import pytest

from training import metrics


def test_poisson_deviance_zero_for_perfect_and_positive_otherwise():
    y = np.array([0, 1, 3, 10])
    assert metrics.poisson_deviance(y, y) == pytest.approx(0.0, abs=1e-8)
    assert metrics.poisson_deviance(y, y + 1.0) > 0
    # Hand-computed: y=2, mu=1 -> 2 * (2 log 2 - 1)
    assert metrics.poisson_deviance([2], [1]) == pytest.approx(2 * (2 * np.log(2) - 1))


def test_ndcg_perfect_reversed_and_ties():
    rel = np.array([3.0, 2.0, 1.0, 0.0])
    assert metrics.ndcg_at_k(rel, rel, k=10) == pytest.approx(1.0)
    worst = metrics.ndcg_at_k(rel, -rel, k=10)
    assert 0 < worst < 1
    assert metrics.ndcg_at_k(rel, rel, k=1) == pytest.approx(1.0)
    assert np.isnan(metrics.ndcg_at_k(np.zeros(3), [1, 2, 3]))
    with pytest.raises(ValueError):
        metrics.ndcg_at_k([-1.0, 1.0], [1, 2])


def test_mean_ndcg_is_per_group():
    rel = [1, 0, 0, 1]
    score = [1, 0, 1, 0]  # group a ranked right, group b ranked wrong
    groups = ["a", "a", "b", "b"]
    value = metrics.mean_ndcg_at_k(rel, score, groups, k=1)
    assert value == pytest.approx(0.5)


def test_roi_captured_oracle_is_one_and_random_is_lower():
    rng = np.random.default_rng(0)
    roi = rng.gamma(2.0, 1.0, size=200)
    groups = np.repeat(np.arange(10), 20)
    assert metrics.roi_captured(roi, roi, groups, k=5) == pytest.approx(1.0)
    assert metrics.roi_captured(roi, -roi, groups, k=5) < 0.5
    curve = metrics.roi_captured_curve(roi, roi, groups, ks=(1, 5))
    assert curve == {1: pytest.approx(1.0), 5: pytest.approx(1.0)}


def test_roi_captured_hand_example():
    roi = [5.0, 1.0, 2.0]
    score = [0.0, 2.0, 1.0]  # picks 1.0 then 2.0 at k=2
    assert metrics.roi_captured(roi, score, ["c"] * 3, k=2) == pytest.approx(3.0 / 7.0)


def test_coverage_auc_calibration():
    assert metrics.interval_coverage([1, 2, 3, 4], [0, 2, 4, 0], [1, 2, 5, 3]) == 0.5
    assert metrics.roc_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert np.isnan(metrics.roc_auc([1, 1], [0.1, 0.2]))
    table = metrics.calibration_table([0, 1, 1, 0], [0.05, 0.95, 0.85, 0.15], n_bins=10)
    assert table["count"].sum() == 4
    assert metrics.expected_calibration_error([0, 1], [0.0, 1.0]) == pytest.approx(0.0)


def test_spearman_constant_is_nan():
    assert np.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))
    assert metrics.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
