"""Time splits of campaigns and random splits of audited creators.

Conversion models are validated on a time split: campaigns are ordered by start_date (ties
broken by campaign_id, so the split is deterministic) and whole campaigns go to one slice, so
no campaign is both trained on and evaluated on, and the test campaigns are the most recent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CampaignSplit:
    """Campaign ids of each slice, earliest first: train < calibration < test in start_date."""

    train: tuple[str, ...]
    calibration: tuple[str, ...]
    test: tuple[str, ...]

    def slice_of(self, campaign_ids) -> np.ndarray:
        """"train" / "calibration" / "test" / "" (unknown campaign) per campaign id."""
        lookup = {c: "train" for c in self.train}
        lookup.update({c: "calibration" for c in self.calibration})
        lookup.update({c: "test" for c in self.test})
        return np.asarray([lookup.get(c, "") for c in campaign_ids], dtype=object)


def time_split_campaigns(campaigns: pd.DataFrame, collaborations: pd.DataFrame | None = None,
                         calibration_fraction: float = 0.2, test_fraction: float = 0.2,
                         min_campaigns_per_slice: int = 1) -> CampaignSplit:
    """Split campaigns by start_date into train / calibration / test.

    Fractions are of collaborations when `collaborations` is given (so slices hold comparable
    numbers of labelled rows), else of campaigns. Only campaigns that have collaborations take
    part when `collaborations` is given. Raises ValueError when there are too few campaigns for
    every slice to get `min_campaigns_per_slice`.
    """
    if not (0 <= calibration_fraction < 1 and 0 < test_fraction < 1
            and calibration_fraction + test_fraction < 1):
        raise ValueError("time_split_campaigns: fractions must be in [0, 1) and sum below 1")
    frame = campaigns[["campaign_id", "start_date"]].copy()
    if collaborations is not None:
        counts = collaborations.groupby("campaign_id", observed=True).size()
        frame = frame[frame["campaign_id"].isin(counts.index)]
        frame["weight"] = frame["campaign_id"].map(counts).astype("float64")
    else:
        frame["weight"] = 1.0
    frame = frame.sort_values(["start_date", "campaign_id"], kind="stable")
    n = len(frame)
    n_slices = 3 if calibration_fraction > 0 else 2
    if n < n_slices * min_campaigns_per_slice:
        raise ValueError(
            f"time split needs at least {n_slices * min_campaigns_per_slice} campaigns with "
            f"collaborations, got {n}")
    # Cumulative share of rows *before* each campaign decides its slice.
    share_before = (frame["weight"].cumsum() - frame["weight"]) / frame["weight"].sum()
    position = share_before.to_numpy()
    # The tolerance keeps exact fractions (e.g. 12 of 20 campaigns) from float round-off.
    tolerance = 1e-9
    train_end = 1.0 - calibration_fraction - test_fraction
    is_test = position >= 1.0 - test_fraction - tolerance
    is_calibration = (position >= train_end - tolerance) & ~is_test
    ids = frame["campaign_id"].to_numpy()
    labels = np.where(is_test, 2, np.where(is_calibration, 1, 0))
    labels = _ensure_minimum(labels, min_campaigns_per_slice, n_slices)
    return CampaignSplit(
        train=tuple(ids[labels == 0]),
        calibration=tuple(ids[labels == 1]),
        test=tuple(ids[labels == 2]),
    )


def _ensure_minimum(labels: np.ndarray, minimum: int, n_slices: int) -> np.ndarray:
    """Move boundary campaigns so every slice has at least `minimum` (labels are sorted)."""
    labels = labels.copy()
    n = len(labels)
    # Test takes the last campaigns, calibration the ones before it.
    n_test = max(int(np.sum(labels == 2)), minimum)
    n_cal = max(int(np.sum(labels == 1)), minimum) if n_slices == 3 else 0
    n_train = n - n_test - n_cal
    if n_train < minimum:
        shortfall = minimum - n_train
        take_cal = min(shortfall, max(n_cal - minimum, 0))
        n_cal -= take_cal
        n_test -= shortfall - take_cal
        n_train = minimum
    labels[:n_train] = 0
    labels[n_train:n_train + n_cal] = 1
    labels[n_train + n_cal:] = 2
    return labels


def random_split_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask selecting round(fraction * n) of n rows at random (seeded)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: int(round(fraction * n))]] = True
    return mask
