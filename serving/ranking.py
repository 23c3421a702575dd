"""Ranking candidates and choosing the best selection within a budget (0/1 knapsack).

Objectives (the `objective` of a /rank request; the value each candidate adds):

- "roi" (default): candidates are ranked by predicted ROI, expected revenue / cost (the
  ScoringBundle's definition: revenue per unit spent); the selection maximises the total
  expected profit, sum(expected revenue - cost), so a candidate whose expected revenue does
  not cover its cost is never selected (it would lower the total). Profit per unit of cost is
  ROI - 1: the greedy method's order is the ROI order.
- "profit": the same selection, ranked by expected profit instead of ROI.
- "conversions": ranked and selected by expected conversions (for campaigns without a product
  price, where revenue is unknown).
- "revenue": ranked and selected by expected revenue.

Selection method, chosen by size:

- "knapsack_dp": exact 0/1 knapsack by dynamic programming over costs rounded *up* to a grid of
  `grid_steps` cells over the budget (the grid is finer when costs are whole currency units
  and the budget is small). Rounding up keeps every selection feasible at its true cost; the
  result is optimal for the rounded costs, i.e. within one grid cell per selected candidate of
  the true optimum. The budget the rounding left unused is then filled greedily, and the
  greedy result below is computed too: the better of the two is returned, so the DP answer
  is never worse than the greedy one. Used while candidates x cells <= `max_dp_cells` (2,000
  candidates on the default 10,000-cell grid): O(n x cells) time, n x cells bytes of memory.
- "greedy_fixup" beyond that: candidates by value per unit cost, each taken if it still fits;
  then the fix-up: (1) if the single most valuable affordable candidate beats the greedy set,
  take it alone (this bounds the result at >= 1/2 of the optimum), (2) one pass of swaps that
  replace a selected candidate by an unselected one when it raises the total and fits.

Candidates with no cost (gifting with no product value, say) and a positive value are always
taken; candidates with a missing value or cost are never selected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECTIVES = ("roi", "profit", "conversions", "revenue")
DEFAULT_GRID_STEPS = 10_000
DEFAULT_MAX_DP_CELLS = 20_000_000


@dataclass(frozen=True)
class Selection:
    indices: np.ndarray  # selected candidates, in ranking order
    method: str
    spent: float
    total_value: float


def objective_values(objective: str, expected_revenue: np.ndarray,
                     expected_conversions: np.ndarray, cost: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(ranking score, additive value for the selection) of each candidate."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
    revenue = np.asarray(expected_revenue, dtype="float64")
    cost = np.asarray(cost, dtype="float64")
    if objective in ("roi", "profit"):
        profit = revenue - cost
        if objective == "profit":
            return profit, profit
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(cost > 0, revenue / cost, np.where(revenue > 0, np.inf, np.nan))
        return roi, profit
    if objective == "revenue":
        return revenue, revenue
    conversions = np.asarray(expected_conversions, dtype="float64")
    return conversions, conversions


def rank_order(score: np.ndarray) -> np.ndarray:
    """Candidate positions by decreasing score; missing scores last, ties in input order."""
    score = np.asarray(score, dtype="float64")
    keyed = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-keyed, kind="stable")
    missing = np.isnan(score[order])
    return np.concatenate([order[~missing], order[missing]])


def _grid_cell(budget: float, cost: np.ndarray, grid_steps: int) -> float:
    cell = budget / grid_steps
    whole_units = np.all(np.mod(cost, 1.0) == 0) and float(budget).is_integer()
    if whole_units and budget <= grid_steps:
        return 1.0  # exact: whole-unit costs on a unit grid
    return cell


def knapsack_dp(value: np.ndarray, cost: np.ndarray, budget: float,
                grid_steps: int = DEFAULT_GRID_STEPS) -> np.ndarray:
    """Boolean mask of the selection maximising sum(value) with sum(cost) <= budget.

    Expects positive values and positive costs (see `select_within_budget`).
    """
    n = len(value)
    cell = _grid_cell(budget, cost, grid_steps)
    capacity = int(np.floor(budget / cell + 1e-9))
    weights = np.ceil(cost / cell - 1e-9).astype("int64")
    best = np.zeros(capacity + 1, dtype="float64")
    taken = np.zeros((n, capacity + 1), dtype=bool)
    for i in range(n):
        w = weights[i]
        if w > capacity:
            continue
        candidate = best[: capacity + 1 - w] + value[i]
        improves = candidate > best[w:]
        taken[i, w:] = improves
        best[w:] = np.where(improves, candidate, best[w:])
    chosen = np.zeros(n, dtype=bool)
    remaining = capacity
    for i in range(n - 1, -1, -1):
        if taken[i, remaining]:
            chosen[i] = True
            remaining -= weights[i]
    return chosen


def _greedy_fill(value: np.ndarray, cost: np.ndarray, budget: float,
                 chosen: np.ndarray) -> np.ndarray:
    """Add unselected candidates by value per cost while they fit (in place)."""
    spent = float(cost[chosen].sum())
    for i in np.argsort(-(value / cost), kind="stable"):
        if not chosen[i] and spent + cost[i] <= budget:
            chosen[i] = True
            spent += cost[i]
    return chosen


def greedy_fixup(value: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Boolean mask: greedy by value per cost, then best-single and one pass of swaps."""
    n = len(value)
    chosen = _greedy_fill(value, cost, budget, np.zeros(n, dtype=bool))
    spent = float(cost[chosen].sum())
    affordable = np.flatnonzero(cost <= budget)
    if affordable.size:
        single = affordable[np.argmax(value[affordable])]
        if value[single] > value[chosen].sum():
            chosen[:] = False
            chosen[single] = True
            spent = float(cost[single])
    # One improving swap per selected candidate: out i, in the best j that fits.
    for i in np.flatnonzero(chosen):
        outside = ~chosen
        fits = outside & (cost <= budget - spent + cost[i])
        gain = np.where(fits, value - value[i], -np.inf)
        j = int(np.argmax(gain))
        if gain[j] > 0:
            chosen[i], chosen[j] = False, True
            spent += cost[j] - cost[i]
    return chosen


def select_within_budget(value, cost, budget: float, order: np.ndarray | None = None,
                         grid_steps: int = DEFAULT_GRID_STEPS,
                         max_dp_cells: int = DEFAULT_MAX_DP_CELLS,
                         method: str = "auto") -> Selection:
    """The selection maximising the total `value` with total `cost` <= `budget`.

    `order` (a ranking of all candidates) orders the returned indices. `method` is "auto",
    "knapsack_dp" or "greedy_fixup".
    """
    value = np.asarray(value, dtype="float64")
    cost = np.asarray(cost, dtype="float64")
    if value.shape != cost.shape:
        raise ValueError("value and cost must have the same length")
    if not (np.isfinite(budget) and budget >= 0):
        raise ValueError(f"budget must be a finite number >= 0, got {budget}")
    usable = np.isfinite(value) & np.isfinite(cost) & (cost >= 0) & (value > 0)
    free = usable & (cost == 0)
    priced = np.flatnonzero(usable & (cost > 0) & (cost <= budget))
    if method == "auto":
        method = ("knapsack_dp" if priced.size * (grid_steps + 1) <= max_dp_cells
                  else "greedy_fixup")
    chosen = np.zeros(len(value), dtype=bool)
    chosen[free] = True
    if priced.size:
        if method == "knapsack_dp":
            v, c = value[priced], cost[priced]
            picked = _greedy_fill(v, c, budget, knapsack_dp(v, c, budget, grid_steps))
            greedy = greedy_fixup(v, c, budget)
            if v[greedy].sum() > v[picked].sum():
                picked = greedy
        elif method == "greedy_fixup":
            picked = greedy_fixup(value[priced], cost[priced], budget)
        else:
            raise ValueError(f"unknown method {method!r}")
        chosen[priced[picked]] = True
    if order is None:
        order = np.arange(len(value))
    order = np.asarray(order, dtype="int64")
    indices = order[chosen[order]]
    return Selection(indices=indices, method=method, spent=float(cost[chosen].sum()),
                     total_value=float(value[chosen].sum()))
