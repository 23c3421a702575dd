"""Loaders of the shared labelled fake-account data sets (skip without ../shared/datasets)."""
from __future__ import annotations

import pandas as pd
import pytest

from data.real_datasets import (
    AUDIENCE_COLUMNS,
    COMMON_COLUMNS,
    PURBA_POSTING_COLUMNS,
    RealDataMissingError,
    load_instafake,
    load_kaggle,
    load_purba,
    load_real_accounts,
    shared_datasets_available,
    shared_datasets_dir,
)

needs_shared = pytest.mark.skipif(
    not shared_datasets_available(),
    reason=f"shared labelled data sets not found in {shared_datasets_dir()} "
           "(set CREATORSCORE_SHARED_DIR or provide <repo>/../shared/datasets)",
)
pytestmark = pytest.mark.real_data


def _check_common_types(frame: pd.DataFrame) -> None:
    assert list(frame.columns[: len(COMMON_COLUMNS)]) == list(COMMON_COLUMNS)
    for column in ("followers", "following", "posts_count", "bio_length", "username_length",
                   "username_digit_count"):
        assert frame[column].dtype == "Int64", column
    for column in ("has_profile_pic", "is_private", "has_external_url"):
        assert frame[column].dtype == "boolean", column
    assert frame["is_fake"].dtype == bool
    assert frame["username_digit_ratio"].dtype == "float64"
    assert frame["follower_id"].is_unique
    assert (frame[["followers", "following", "posts_count"]] >= 0).all().all()


@needs_shared
def test_purba_counts_classes_and_columns():
    frame = load_purba(shared_datasets_dir() / "purba_instagram_fake")
    assert len(frame) == 43_307
    assert frame["purba_class"].value_counts().to_dict() == {
        "a": 12_054, "i": 10_549, "r": 10_441, "s": 10_263}
    assert frame["is_fake"].sum() == 43_307 - 10_441
    assert (frame["is_fake"] == frame["purba_class"].ne("r")).all()
    assert frame.duplicated().sum() == 0  # follower_id makes rows distinct...
    assert frame.drop(columns="follower_id").duplicated().sum() == 1_082  # ...as in PROVENANCE
    _check_common_types(frame)
    assert set(PURBA_POSTING_COLUMNS.values()) <= set(frame.columns)
    assert frame["is_private"].isna().all() and frame["username_length"].isna().all()
    assert frame["followers"].notna().all() and frame["has_external_url"].notna().all()


@needs_shared
def test_instafake_counts_and_username_fields():
    frame = load_instafake()
    assert len(frame) == 1_194 and frame["is_fake"].sum() == 200
    _check_common_types(frame)
    assert frame["has_external_url"].isna().all()
    assert frame["username_length"].notna().all()
    ratio = frame["username_digit_count"] / frame["username_length"]
    assert (ratio.astype("float64") - frame["username_digit_ratio"]).abs().max() < 1e-12


@needs_shared
@pytest.mark.parametrize(("split", "rows"), [("train", 576), ("test", 120)])
def test_kaggle_splits_balanced(split, rows):
    frame = load_kaggle(split=split)
    assert len(frame) == rows and frame["is_fake"].sum() == rows // 2
    _check_common_types(frame)
    # Only the digits/length ratio is published: count and length stay missing.
    assert frame["username_length"].isna().all() and frame["username_digit_count"].isna().all()
    assert frame["username_digit_ratio"].between(0, 1).all()
    assert frame["is_private"].notna().all()


@needs_shared
def test_real_accounts_default_excludes_noncommercial_instafake():
    frame = load_real_accounts()
    assert frame["source"].value_counts().to_dict() == {"purba": 43_307, "kaggle": 696}
    assert list(frame.columns) == list(COMMON_COLUMNS)
    assert set(AUDIENCE_COLUMNS) <= set(frame.columns)
    with_instafake = load_real_accounts(sources=("purba", "instafake", "kaggle"))
    assert len(with_instafake) == 43_307 + 1_194 + 696
    assert with_instafake["follower_id"].is_unique


def test_missing_folder_raises_clear_error(tmp_path):
    with pytest.raises(RealDataMissingError, match="Purba data set not found"):
        load_purba(tmp_path / "nowhere")
    with pytest.raises(RealDataMissingError, match="kaggle_instagram_fake"):
        load_real_accounts(tmp_path, sources=("kaggle",))
    assert not shared_datasets_available(tmp_path)


def test_bad_arguments_rejected(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_kaggle(tmp_path, split="validation")
    with pytest.raises(ValueError, match="unknown or no sources"):
        load_real_accounts(tmp_path, sources=("twitter",))


def test_bad_label_named(tmp_path):
    folder = tmp_path / "purba_instagram_fake"
    folder.mkdir()
    header = "pos,flw,flg,bl,pic,lin," + ",".join(PURBA_POSTING_COLUMNS) + ",class\n"
    row = ",".join(["1"] * (6 + len(PURBA_POSTING_COLUMNS)))
    (folder / "user_fake_authentic_4class.csv").write_text(header + row + ",x\n")
    with pytest.raises(ValueError, match="unknown labels"):
        load_purba(folder)
