"""Dataset: the validator's tables are frames made when first read, equal to eager ones."""
from __future__ import annotations

import pickle

import pandas as pd
import pytest

from data.contract import TABLES
from data.dataset import TABLE_NAMES, Dataset, DeferredFrame
from data.synthetic import generate_world
from data.validation import _Collector, coerce_table, validate_tables


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_world(n_creators=12, n_campaigns=2, seed=3, posts_per_creator=5).tables


def test_validated_tables_are_made_on_first_read_and_equal_eager_ones(tables):
    dataset = validate_tables(tables)
    present = [name for name in TABLE_NAMES if name in tables]
    assert all(isinstance(dataset._frames[name], DeferredFrame) for name in present)
    # Row counts, presence and columns are read without making a frame.
    for name in TABLE_NAMES:
        assert dataset.has(name) == (name in tables)
        assert dataset.rows(name) == (len(tables[name]) if name in tables else 0)
    assert list(dataset.column("posts", "post_id")) == tables["posts"]["post_id"].tolist()
    assert all(isinstance(dataset._frames[name], DeferredFrame) for name in present)

    for name in present:
        frame = getattr(dataset, name)
        pd.testing.assert_frame_equal(frame, coerce_table(TABLES[name], tables[name],
                                                          _Collector()))
        assert getattr(dataset, name) is frame  # made once
        # The frame holds the arrays `column` reads.
        assert frame["creator_id" if "creator_id" in frame else frame.columns[0]].array is \
            dataset.column(name, "creator_id" if "creator_id" in frame else frame.columns[0])
    assert dataset.follower_history is None or dataset.has("follower_history")


def test_with_tables_keeps_deferred_frames_and_replaces_or_drops_the_given_ones(tables):
    dataset = validate_tables(tables)
    empty_posts = dataset.posts.iloc[:0]
    kept = dataset.with_tables(posts=empty_posts, comments=None)
    assert isinstance(kept._frames["creators"], DeferredFrame)
    assert kept.posts is empty_posts and kept.rows("posts") == 0
    assert not kept.has("comments") and kept.comments is None
    assert "posts" not in kept.arrays and "creators" in kept.arrays
    with pytest.raises(TypeError, match="unknown table"):
        dataset.with_tables(post=empty_posts)
    with pytest.raises(AttributeError, match="read-only"):
        dataset.posts = empty_posts


def test_a_dataset_pickles_with_its_frames(tables):
    dataset = validate_tables(tables)
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.tables.keys() == dataset.tables.keys()
    for name, frame in dataset.tables.items():
        pd.testing.assert_frame_equal(copy.tables[name], frame)
    assert repr(copy) == repr(dataset) == "Dataset(" + ", ".join(
        f"{name}={len(frame)} rows" for name, frame in dataset.tables.items()) + ")"


def test_frames_given_to_a_dataset_are_kept_as_given(tables):
    frames = {name: tables[name] for name in ("creators", "posts")}
    dataset = Dataset(**frames)
    assert dataset.creators is frames["creators"] and dataset.rows("posts") == len(
        frames["posts"])
    assert dataset.arrays == {} and dataset.audience_sample is None
