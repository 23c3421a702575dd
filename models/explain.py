"""Served explanations from LightGBM's exact TreeSHAP (`predict(pred_contrib=True)`).

For each row and model, the features with the largest contributions, with their readable label
and family (the `labels` the caller passes: the bundle gives the feature catalogue's), the
creator's value, the direction and a size a person can
read:

- "probability" models (binary, raw score = log-odds): the size is in probability points,
  sigmoid(total) - sigmoid(total - contribution), i.e. how much the probability would drop if
  this feature's contribution were removed while the others stay. Contributions in log-odds add
  up exactly; their probability-point sizes are this per-feature approximation and need not.
- "share" models (cross-entropy on a share in [0, 1], raw score = logit of the share): the same
  formula, in share points.
- "count" models (Poisson / Tweedie, raw score = log of the mean): the size is a multiplier
  exp(contribution) on the expected count; multipliers of all features multiply exactly to the
  prediction over the base value.

Each explanation also carries the total contribution of its family (engagement, authenticity,
niche, campaign) for the same model, so answers can be grouped by family.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.matrix import FeatureMatrix

KINDS = ("probability", "share", "count")
UNITS = {"probability": "probability_points", "share": "share_points", "count": "multiplier"}


def _spec(name: str, labels: dict) -> tuple[str, str, str]:
    """(label, family, unit) of a feature: from `labels`, else the name itself."""
    if name in labels:
        return tuple(labels[name])
    return name.replace("_", " "), "campaign" if name.startswith("campaign") else "other", ""


# (names, labels) -> their specs and family columns: a model explains the same features on
# every request (two risk models, the conversion model), and labels are the catalogue's.
_SPECS: dict[tuple, tuple] = {}
_NO_LABELS: dict = {}
_MAX_SPECS = 64


def _feature_specs(names: list[str], labels: dict) -> tuple[list, dict[str, np.ndarray]]:
    """(label, family, unit) of each feature, and each family's column mask (families
    sorted), remembered per list of names and labels object (checked by identity: ~50 us of
    Python per call otherwise)."""
    key = (tuple(names), id(labels))
    found = _SPECS.get(key)
    if found is not None and found[0] is labels:
        return found[1], found[2]
    specs = [_spec(n, labels) for n in names]
    families = np.asarray([s[1] for s in specs], dtype=object)
    family_columns = {f: families == f for f in sorted(set(families))}
    if len(_SPECS) >= _MAX_SPECS:
        _SPECS.clear()
    _SPECS[key] = (labels, specs, family_columns)
    return specs, family_columns


def _format_value(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if unit in ("share", "ratio", "fraction", "%", "percent"):
        return f"{100 * value:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _names_and_values(X: pd.DataFrame | FeatureMatrix) -> tuple[list[str], np.ndarray]:
    """The feature names and float64 values of a frame or a FeatureMatrix (which the scorer
    has already: a frame of it costs ~60 us per request)."""
    if isinstance(X, FeatureMatrix):
        return X.columns, X.values
    return X.columns.tolist(), X.to_numpy(dtype="float64")


def contributions(booster, X: pd.DataFrame | FeatureMatrix | np.ndarray,
                  num_threads: int = 1) -> np.ndarray:
    """(n, p + 1) exact TreeSHAP contributions in raw-score units; last column = base value."""
    # A plain array: LightGBM's pandas path costs milliseconds per call in validation.
    values = X if isinstance(X, np.ndarray) else _names_and_values(X)[1]
    return np.asarray(booster.predict(values, pred_contrib=True, num_threads=num_threads))


def readable_sizes(contrib: np.ndarray, kind: str) -> np.ndarray:
    """Per-feature sizes (n, p) in the unit of `kind` (see module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown explanation kind {kind!r}; expected one of {KINDS}")
    per_feature = contrib[:, :-1]
    if kind == "count":
        return np.exp(per_feature)
    total = contrib.sum(axis=1, keepdims=True)
    return _sigmoid(total) - _sigmoid(total - per_feature)


def explain_rows(booster, X: pd.DataFrame | FeatureMatrix, model: str, kind: str, top_n: int = 5,
                 num_threads: int = 1, labels: dict | None = None,
                 contrib: np.ndarray | None = None, base_offset: float = 0.0
                 ) -> list[list[dict]]:
    """Top `top_n` explanations per row of X for one model (largest |raw contribution| first).

    `labels`: {feature: (label, family, unit)}; a feature absent from it shows its name.
    Each item carries the model's `base_value` in the output's unit: the prediction with no
    feature contribution (the TreeSHAP expected raw score plus `base_offset`, an offset the
    booster does not hold, through the model's link).
    """
    names, values = _names_and_values(X)
    if contrib is None:
        contrib = contributions(booster, values, num_threads)
    specs, family_columns = _feature_specs(names, labels or _NO_LABELS)
    sizes = readable_sizes(contrib, kind)
    raw = contrib[:, :-1]
    # Family totals in readable units: log-odds / log-mean contributions add up within a family.
    family_raw = {f: raw[:, columns].sum(axis=1) for f, columns in family_columns.items()}
    total = contrib.sum(axis=1)
    base_raw = contrib[:, -1] + base_offset
    base_value = np.exp(base_raw) if kind == "count" else _sigmoid(base_raw)
    order = np.argsort(-np.abs(raw), axis=1, kind="stable")[:, :top_n]
    unit = UNITS[kind]
    result: list[list[dict]] = []
    for i in range(len(values)):
        items = []
        for j in order[i]:
            if raw[i, j] == 0.0:
                continue
            label, family, feature_unit = specs[j]
            size = float(sizes[i, j])
            fam_raw = float(family_raw[family][i])
            if kind == "count":
                family_size = math.exp(fam_raw)
            else:
                family_size = float(_sigmoid(total[i]) - _sigmoid(total[i] - fam_raw))
            direction = "up" if raw[i, j] > 0 else "down"
            items.append({
                "model": model, "feature": names[j], "label": label, "family": family,
                "value": None if np.isnan(values[i, j]) else float(values[i, j]),
                "contribution": size, "raw_contribution": float(raw[i, j]), "unit": unit,
                "direction": direction, "family_contribution": family_size,
                "base_value": float(base_value[i]),
                "text": _text(model, label, values[i, j], feature_unit, size, kind, direction),
            })
        result.append(items)
    return result


_OUTPUT_NAMES = {"bought_followers": "the bought-followers probability",
                 "fake_share": "the estimated fake-follower share",
                 "conversions": "expected conversions"}


def _text(model: str, label: str, value: float, unit: str, size: float, kind: str,
          direction: str) -> str:
    target = _OUTPUT_NAMES.get(model, model)
    shown = _format_value(value, unit)
    if kind == "count":
        return f"{label} = {shown} multiplies {target} by {size:.2f}"
    verb = "raises" if direction == "up" else "lowers"
    return f"{label} = {shown} {verb} {target} by {abs(100 * size):.1f} points"
