import pandas as pd
import pytest

from training.splits import random_split_mask, time_split_campaigns


def _campaigns(n):
    return pd.DataFrame({
        "campaign_id": [f"c{i:02d}" for i in range(n)],
        "start_date": pd.date_range("2024-01-01", periods=n, freq="7D")[::-1],
    })


def test_time_split_is_ordered_and_disjoint():
    campaigns = _campaigns(20)
    split = time_split_campaigns(campaigns)
    start = campaigns.set_index("campaign_id")["start_date"]
    assert set(split.train) | set(split.calibration) | set(split.test) == set(start.index)
    assert start[list(split.train)].max() < start[list(split.calibration)].min()
    assert start[list(split.calibration)].max() < start[list(split.test)].min()
    assert len(split.test) == 4 and len(split.calibration) == 4


def test_time_split_weights_by_collaborations_and_keeps_minimum():
    campaigns = _campaigns(5)
    collabs = pd.DataFrame({"campaign_id": ["c04"] * 50 + ["c03", "c02", "c01", "c00"]})
    split = time_split_campaigns(campaigns, collabs, min_campaigns_per_slice=1)
    assert split.train == ("c04",)  # the earliest campaign holds most rows
    assert len(split.calibration) >= 1 and len(split.test) >= 1
    assert list(split.slice_of(["c04", "zz"])) == ["train", ""]


def test_time_split_too_few_campaigns():
    with pytest.raises(ValueError, match="at least 3"):
        time_split_campaigns(_campaigns(2))


def test_random_split_mask_seeded():
    a = random_split_mask(100, 0.3, seed=4)
    assert a.sum() == 30
    assert (a == random_split_mask(100, 0.3, seed=4)).all()
