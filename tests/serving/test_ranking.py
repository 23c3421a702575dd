"""Budget selection: exact on small cases (checked by brute force), feasible always."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from serving.ranking import objective_values, rank_order, select_within_budget


def _brute_force(value: np.ndarray, cost: np.ndarray, budget: float) -> float:
    best = 0.0
    for mask in itertools.product((False, True), repeat=len(value)):
        chosen = np.array(mask, dtype=bool)
        if cost[chosen].sum() <= budget:
            best = max(best, value[chosen & (value > 0)].sum())
    return best


@pytest.mark.parametrize("seed", range(5))
def test_dp_is_exact_and_greedy_within_half_on_small_cases(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(1, 10))
        value = rng.normal(1.0, 2.0, n)
        cost = rng.integers(0, 60, n).astype(float)
        budget = float(rng.integers(0, 160))
        best = _brute_force(value, cost, budget)
        exact = select_within_budget(value, cost, budget)
        greedy = select_within_budget(value, cost, budget, method="greedy_fixup")
        assert exact.method == "knapsack_dp"
        assert exact.total_value == pytest.approx(best, abs=1e-9)
        assert exact.spent <= budget and greedy.spent <= budget
        assert greedy.total_value >= best / 2 - 1e-9


def test_fractional_costs_stay_feasible_and_auto_switches_to_greedy():
    rng = np.random.default_rng(7)
    value = rng.gamma(2.0, 500.0, 3_000)
    cost = rng.gamma(2.0, 300.0, 3_000)
    budget = 100_000.0
    dp = select_within_budget(value - cost, cost, budget, max_dp_cells=10**9)
    auto = select_within_budget(value - cost, cost, budget)
    assert dp.method == "knapsack_dp" and auto.method == "greedy_fixup"
    assert dp.spent <= budget and auto.spent <= budget
    # The DP result is never worse than greedy (it is compared with it), and close to it.
    assert dp.total_value >= auto.total_value - 1e-6
    assert auto.total_value >= 0.99 * dp.total_value


def test_missing_or_non_positive_values_are_never_selected_and_free_ones_always():
    value = np.array([5.0, np.nan, -1.0, 2.0, 3.0])
    cost = np.array([10.0, 1.0, 1.0, 0.0, np.nan])
    selection = select_within_budget(value, cost, 100.0)
    assert sorted(selection.indices.tolist()) == [0, 3]


def test_selection_follows_ranking_order():
    value = np.array([1.0, 3.0, 2.0])
    cost = np.array([1.0, 1.0, 1.0])
    order = rank_order(np.array([0.1, 0.9, 0.5]))
    assert order.tolist() == [1, 2, 0]
    assert select_within_budget(value, cost, 2.0, order=order).indices.tolist() == [1, 2]


def test_objectives():
    revenue, conversions, cost = np.array([300.0, 50.0]), np.array([3.0, 1.0]), np.array([100.0, 0])
    roi, profit = objective_values("roi", revenue, conversions, cost)
    assert roi[0] == pytest.approx(3.0) and np.isinf(roi[1]) and profit.tolist() == [200.0, 50.0]
    assert objective_values("conversions", revenue, conversions, cost)[1].tolist() == [3.0, 1.0]
    with pytest.raises(ValueError):
        objective_values("likes", revenue, conversions, cost)
    assert rank_order(np.array([np.nan, 1.0, 2.0])).tolist() == [2, 1, 0]
