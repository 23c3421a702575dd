import pickle
import threading

import numpy as np
import pandas as pd
import pytest

from data.loader import validate_tables
from data.synthetic import generate_world
from features import FEATURE_VERSION, FEATURES, FeaturePipeline, build_feature_frames
from features import pipeline as features_pipeline
from features.audience import AUDITING_BESIDE_OTHER_WORK
from features.catalogue import FAMILIES
from models.follower_account import RuleBasedFollowerScorer
from tests.features.conftest import make_dataset, regular_posts


def _campaign_world(extra_post: bool = False):
    posts = pd.concat([
        regular_posts("a", 10, likes=200, comments=10, caption="#gym #workout leg day"),
        regular_posts("b", 10, likes=50, comments=5, caption="#recipe #baking cake"),
    ])
    if extra_post:  # a post after the campaign started: must change nothing
        late = regular_posts("a", 1, likes=90_000, comments=9_000, caption="#crypto #bitcoin",
                             start=pd.Timestamp("2024-03-01"), prefix="late")
        posts = pd.concat([posts, late])
    comments = pd.DataFrame({"creator_id": ["a", "a"], "post_id": ["a-p0", "a-p1"],
                             "commenter_id": ["u1", "u2"], "text": ["nice", "wow"]})
    if extra_post:
        comments = pd.concat([comments, pd.DataFrame({
            "creator_id": ["a"], "post_id": ["late-p0"], "commenter_id": ["u1"],
            "text": ["nice"]})])
    return make_dataset(
        creators={"creator_id": ["a", "b"], "platform": ["instagram", "tiktok"],
                  "followers": [10_000, 2_000], "country": ["FR", "US"]},
        posts=posts, comments=comments,
        campaigns={"campaign_id": ["k1", "k2", "k3"], "brand": ["Acme", "Acme", "Other"],
                   "niche": ["fitness", "fitness", "food"],
                   "brief": ["protein powder for gym workout fans", "gym wear", "baking kit"],
                   "target_countries": ["FR;BE", "FR", "DE"],
                   "product_price": [30.0, 50.0, None],
                   "start_date": ["2024-02-01", "2024-02-15", "2024-02-15"]},
        collaborations={"campaign_id": ["k1", "k2", "k3"], "creator_id": ["a", "a", "b"],
                        "compensation": ["fixed", "affiliate", "gifting"],
                        "cost": [500.0, 0.0, 40.0], "conversions": [3, 1, 0]},
    )


def test_collaboration_features_point_in_time_and_pairs():
    ds = _campaign_world()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    out = pipeline.transform_collaborations(ds)
    assert list(out.index.names) == ["campaign_id", "creator_id"]
    assert (out.dtypes == "float64").all()
    row = out.loc[("k1", "a")]
    assert row["campaign_niche_share"] == pytest.approx(1.0)
    assert row["campaign_niche_is_top"] == 1
    assert row["country_match"] == 1 and out.loc[("k3", "b"), "country_match"] == 0
    assert row["brief_similarity"] > 0.05  # shares "gym", "workout" with the brief
    assert row["log_product_price"] == pytest.approx(np.log1p(30.0))
    assert np.isnan(out.loc[("k3", "b"), "log_product_price"])
    assert row["compensation_code"] == 0 and out.loc[("k2", "a"), "compensation_code"] == 2
    assert row["log_cost"] == pytest.approx(np.log1p(500))
    assert row["repeat_partnerships"] == 0 and out.loc[("k2", "a"), "repeat_partnerships"] == 1
    # posts before 2024-02-01 only: a's posts are Jan 1..19, all before
    assert row["posts_analysed"] == 10

    late = _campaign_world(extra_post=True)
    out_late = pipeline.transform_collaborations(late)
    pd.testing.assert_frame_equal(out, out_late)
    # ...while the creator view with all data does see it
    assert (pipeline.transform_creators(late).loc["a", "posts_analysed"]
            == pipeline.transform_creators(ds).loc["a", "posts_analysed"] + 1)


def test_planned_collaborations_without_outcomes():
    ds = _campaign_world()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    planned = pd.DataFrame({"campaign_id": ["k3"], "creator_id": ["a"],
                            "compensation": ["hybrid"], "cost": [100.0]})
    out = pipeline.transform_collaborations(ds, collaborations=planned)
    assert out.shape == (1, len(pipeline.collaboration_feature_names_))
    assert out.loc[("k3", "a"), "compensation_code"] == 3
    with pytest.raises(ValueError, match="collaborations.creator_id"):
        pipeline.transform_collaborations(ds, collaborations=planned.assign(creator_id="zz"))


def test_missing_optional_tables_give_nan_and_flags():
    ds = make_dataset(creators={"creator_id": ["a"], "platform": ["youtube"], "followers": [50]},
                      posts=regular_posts("a", 1, likes=0, comments=0))
    out = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds).transform_creators(ds)
    row = out.loc["a"]
    assert row[["has_audience_sample", "has_comments", "has_follower_history"]].tolist() == [0] * 3
    assert np.isnan(row["audience_fake_share"]) and np.isnan(row["comment_generic_share"])
    assert np.isnan(row["follower_growth_max_robust_z"]) and np.isnan(row["posts_per_week"])
    assert (out.dtypes == "float64").all()
    # a creator without any post at all
    ds2 = make_dataset(creators={"creator_id": ["a", "b"], "platform": ["youtube"] * 2,
                                 "followers": [50, 60]},
                       posts=regular_posts("a", 2, likes=1, comments=0))
    out2 = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds2).transform_creators(
        ds2)
    assert out2.loc["b", "posts_analysed"] == 0 and np.isnan(out2.loc["b",
                                                                      "engagement_rate_median"])


def test_catalogue_covers_every_column_with_documentation():
    ds = _campaign_world()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    frames = build_feature_frames(ds, pipeline)
    columns = set(frames["creators"].columns) | set(frames["collaborations"].columns)
    assert columns == set(FEATURES)
    for name, spec in FEATURES.items():
        assert spec.name == name and spec.label and spec.formula and spec.unit
        assert spec.family in FAMILIES and spec.monotone in (-1, 0, 1)
    assert isinstance(FEATURE_VERSION, str)


def test_parity_single_creator_vs_batch_and_pickle(world_1500):
    ds = world_1500
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    pipeline = pickle.loads(pickle.dumps(pipeline))
    batch = pipeline.transform_creators(ds)
    assert batch.shape[0] == 1500 and (batch.dtypes == "float64").all()
    for creator_id in ["c000007", "c000321", "c001499"]:
        alone = ds.with_tables(**{
            name: frame[frame["creator_id"] == creator_id]
            for name, frame in ds.tables.items() if "creator_id" in frame})
        single = pipeline.transform_creators(alone)
        # The same bits (features.text.count_matrix): not merely close.
        pd.testing.assert_frame_equal(single, batch.loc[[creator_id]], check_exact=True)


def test_feature_frames_in_chunks_equal_the_whole():
    ds = _campaign_world()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    whole = build_feature_frames(ds, pipeline)
    chunked = build_feature_frames(ds, pipeline, chunk_creators=1)
    assert set(chunked) == set(whole)
    for name in whole:
        pd.testing.assert_frame_equal(chunked[name], whole[name], check_exact=True)


@pytest.mark.parametrize(("size", "threads"), [(1, 2), (13, 1), (13, 3), (10_000, 2)])
def test_fit_and_build_in_chunks_equals_fit_and_build_whole(tmp_path, monkeypatch, size,
                                                            threads):
    from data.chunked import ChunkedDataset
    from data.io import write_dataset
    from data.loader import load_dataset
    from features import fit_and_build_in_chunks
    from tests.training.small_world import small_world

    write_dataset(small_world().tables, tmp_path)
    ds = load_dataset(tmp_path)
    fitted = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    whole = build_feature_frames(ds, fitted)
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer())
    # Pieces one at a time or several at once (PIECE_THREADS): the same values.
    monkeypatch.setattr(features_pipeline, "PIECE_THREADS", threads)
    chunked = fit_and_build_in_chunks(ChunkedDataset.read(tmp_path, size), pipeline)
    assert set(chunked) == set(whole) == {"creators", "collaborations"}
    for name in whole:
        pd.testing.assert_frame_equal(chunked[name], whole[name], check_exact=True)
    # The fitted state itself: cohort statistics and the niche model.
    assert pipeline.cohort_reference_.cohort_size_ == fitted.cohort_reference_.cohort_size_
    for metric, cohorts in fitted.cohort_reference_.sorted_values_.items():
        for code, values in cohorts.items():
            np.testing.assert_array_equal(
                pipeline.cohort_reference_.sorted_values_[metric][code], values)
    np.testing.assert_array_equal(pipeline.niche_model_.vectorizer_.vocabulary_,
                                  fitted.niche_model_.vectorizer_.vocabulary_)
    np.testing.assert_array_equal(pipeline.niche_model_.centroids_.toarray(),
                                  fitted.niche_model_.centroids_.toarray())


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_in_order_keeps_order_and_takes_items_only_as_results_are_taken(threads):
    taken = []

    def items():
        for item in range(10):
            taken.append(item)
            yield item

    def slow_first(item: int) -> tuple[int, str]:
        if item % 3 == 0:  # later items finish first: the results still come in order
            threading.Event().wait(0.02)
        return item * item, threading.current_thread().name

    results = features_pipeline.in_order(slow_first, items(), threads)
    seen = []
    for square, _ in results:
        seen.append(square)
        # Never more than `threads` items taken ahead of the results handed out.
        assert len(taken) <= len(seen) + threads - 1
    assert seen == [item * item for item in range(10)]
    names = {name for _, name in features_pipeline.in_order(slow_first, range(6), threads)}
    assert all(name.startswith("piece") for name in names) == (threads > 1)


def test_in_order_raises_the_function_error_at_its_item():
    def fail_on_two(item: int) -> int:
        if item == 2:
            raise ValueError("item 2")
        return item

    got = []
    with pytest.raises(ValueError, match="item 2"):
        for value in features_pipeline.in_order(fail_on_two, range(5), 2):
            got.append(value)
    assert got == [0, 1]


def test_fit_texts_are_bio_then_captions_in_table_order():
    posts = pd.concat([
        regular_posts("b", 2, likes=5, comments=1, caption=["first b", "second b"]),
        regular_posts("a", 1, likes=5, comments=1, caption="only a"),
        regular_posts("b", 2, likes=5, comments=1, caption=[None, "third b"], prefix="b2"),
    ])
    ds = make_dataset(
        creators={"creator_id": ["a", "b", "c"], "platform": ["instagram"] * 3,
                  "followers": [1_000, 2_000, 3_000], "bio": ["bio a", None, "bio c"]},
        posts=posts)
    texts = FeaturePipeline.niche_members(ds)[0].to_pylist()
    # A missing caption is left out; a creator without posts keeps its bio.
    assert texts == ["bio a only a", " first b second b third b", "bio c "]


class _CountingScorer(RuleBasedFollowerScorer):
    audits = 0

    def audit(self, accounts, group=None, n_groups=None):
        self.audits += 1
        return super().audit(accounts, group, n_groups)


def test_remembered_audiences_equal_audiences_audited_afresh():
    ds = validate_tables(generate_world(300, 40, seed=3).tables)
    scorer = _CountingScorer()
    pipeline = FeaturePipeline(follower_scorer=scorer).fit(ds)
    some = ds.collaborations.iloc[::3][["campaign_id", "creator_id", "compensation", "cost"]]
    fresh = [pipeline.transform_creators(ds), pipeline.transform_collaborations(ds),
             pipeline.transform_collaborations(ds, some)]
    audits = scorer.audits
    with pipeline.remembering_audiences(ds):
        remembered = [pipeline.transform_creators(ds), pipeline.transform_collaborations(ds),
                      pipeline.transform_collaborations(ds, some)]
        other = ds.with_tables(audience_sample=ds.audience_sample.iloc[::2])
        pd.testing.assert_frame_equal(pipeline.transform_creators(other),
                                      FeaturePipeline(follower_scorer=scorer).fit(ds)
                                      .transform_creators(other))  # another sample: audited
        assert "_audience_memo" not in pickle.loads(pickle.dumps(pipeline)).__dict__
    assert scorer.audits == audits + 3  # the creators' once, `other` twice
    for before, after in zip(fresh, remembered, strict=True):
        pd.testing.assert_frame_equal(after, before, check_exact=True)
    assert "_audience_memo" not in pipeline.__dict__


@pytest.mark.parametrize("one_creator", [False, True])
def test_audience_audited_aside_equals_audited_inline(monkeypatch, one_creator):
    """A large sample's audit runs on a helper thread (pipeline.AUDIT_ASIDE_MIN_ACCOUNTS):
    the same features, in the same columns, as audited on the calling thread."""
    world = validate_tables(generate_world(300, 40, seed=3).tables)
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(world)
    ds = world
    if one_creator:
        creator_id = sorted(set(world.audience_sample["creator_id"])
                            & set(world.collaborations["creator_id"]))[0]
        ds = world.with_tables(**{name: frame[frame["creator_id"] == creator_id]
                                  for name, frame in world.tables.items()
                                  if "creator_id" in frame})
    plans = ds.collaborations[["campaign_id", "creator_id", "compensation", "cost"]]
    assert len(ds.audience_sample) and len(plans)
    inline = [pipeline.transform_creators(ds), pipeline.transform_collaborations(ds, plans)]
    threads = []
    audit = pipeline._audience_features
    monkeypatch.setattr(pipeline, "_audience_features", lambda *args: (
        threads.append((threading.current_thread(), AUDITING_BESIDE_OTHER_WORK.get())),
        audit(*args))[1])
    monkeypatch.setattr(features_pipeline, "AUDIT_ASIDE_MIN_ACCOUNTS", 1)
    aside = [pipeline.transform_creators(ds), pipeline.transform_collaborations(ds, plans)]
    assert len(threads) == 2
    assert all(thread is not threading.current_thread() and beside  # predicts on one core
               for thread, beside in threads)
    assert not AUDITING_BESIDE_OTHER_WORK.get()
    for before, after in zip(inline, aside, strict=True):
        pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_transform_in_pieces_gives_the_whole_datasets_rows_in_each_tables_order():
    from features import transform_in_pieces
    from tests.training.small_world import small_dataset

    ds = small_dataset()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    planned = ds.collaborations[["campaign_id", "creator_id", "compensation", "cost"]]
    shuffled = planned.sample(frac=1.0, random_state=0)
    pieces = list(ds.creator_chunks(37))
    assert len(pieces) == 9
    frames = transform_in_pieces(pipeline, pieces, {"planned": planned, "shuffled": shuffled,
                                                    "none": planned.iloc[:0]})
    pd.testing.assert_frame_equal(frames["creators"], pipeline.transform_creators(ds),
                                  check_exact=True)
    for name, table in (("planned", planned), ("shuffled", shuffled)):
        pd.testing.assert_frame_equal(frames[name],
                                      pipeline.transform_collaborations(ds, table),
                                      check_exact=True)
    assert len(frames["none"]) == 0 and list(frames["none"].columns) == \
        list(frames["planned"].columns)
    unknown = planned.assign(creator_id=planned["creator_id"].astype(object).where(
        np.arange(len(planned)) != 2, "nobody"))
    with pytest.raises(ValueError, match=r"planned.creator_id: rows \[2\].*nobody"):
        transform_in_pieces(pipeline, pieces, {"planned": unknown})


def test_transform_in_pieces_computes_the_last_table_on_the_helper_beside_the_others(
        monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from features import transform_in_pieces
    from tests.training.small_world import small_dataset

    ds = small_dataset()
    pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
    planned = ds.collaborations[["campaign_id", "creator_id", "compensation", "cost"]]
    expected = transform_in_pieces(pipeline, ds.creator_chunks(100), {"a": planned, "b": planned})
    threads: dict[str, set[str]] = {"a": set(), "b": set()}
    transform = pipeline.transform_collaborations

    def spied(piece, table):
        name = "a" if table is not None and table.attrs.get("which") == "a" else "b"
        threads[name].add(threading.current_thread().name)
        return transform(piece, table)

    first, second = planned.copy(), planned.copy()
    first.attrs["which"] = "a"
    monkeypatch.setattr(pipeline, "transform_collaborations", spied)
    with ThreadPoolExecutor(1, thread_name_prefix="aside") as helper:
        frames = transform_in_pieces(pipeline, ds.creator_chunks(100),
                                     {"a": first, "b": second}, helper)
    assert threads["a"] == {threading.current_thread().name}
    assert len(threads["b"]) == 1 and next(iter(threads["b"])).startswith("aside")
    for name in ("creators", "a", "b"):
        pd.testing.assert_frame_equal(frames[name], expected[name], check_exact=True)
