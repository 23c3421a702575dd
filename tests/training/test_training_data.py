"""Training on a dataset read in pieces of creators: the same bundle and figures as on the
whole dataset, with only the small tables kept whole."""
from functools import lru_cache

import pandas as pd
import pytest

from data.loader import load_dataset
from data.synthetic.truth import load_truth
from data.validation import ContractError
from tests.training.small_world import (
    fast_config,
    small_dataset,
    small_follower_classifier,
    small_world,
)
from training.promotion import compare_on_holdout
from training.protocol import train_and_evaluate
from training.training_data import EXAMPLE_CREATORS, TrainingData, read_training_data

PIECE = 37  # 300 creators: 9 pieces, the last one short


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from data.synthetic import write_world

    return write_world(small_world(), tmp_path_factory.mktemp("world") / "data")


@lru_cache(maxsize=1)
def _trained_whole(data_dir):
    return train_and_evaluate(load_dataset(data_dir), fast_config(), load_truth(data_dir),
                              small_follower_classifier(), {})


def test_training_in_pieces_gives_the_bundle_and_figures_of_training_whole(data_dir):
    whole = _trained_whole(data_dir)
    truth = load_truth(data_dir)
    with read_training_data(data_dir, PIECE) as data:
        assert data.n_pieces == 9
        pieces = train_and_evaluate(data, fast_config(), truth, small_follower_classifier(), {})
        # The champion judged on the holdout read in pieces: the figures of the whole data.
        champion_in_pieces = compare_on_holdout(whole.bundle, pieces, data, truth)
    champion_whole = compare_on_holdout(whole.bundle, whole, load_dataset(data_dir), truth)

    figures = {k: v for k, v in whole.metrics.items() if k != "training_seconds"}
    assert "candidate_spearman" in figures and "risk_auc" in figures
    assert {k: v for k, v in pieces.metrics.items() if k != "training_seconds"} == figures
    pd.testing.assert_frame_equal(pieces.test_predictions, whole.test_predictions,
                                  check_exact=True)
    pd.testing.assert_frame_equal(pieces.risk_test, whole.risk_test, check_exact=True)
    for name, frame in whole.feature_frames.items():
        pd.testing.assert_frame_equal(pieces.feature_frames[name], frame, check_exact=True)
    assert pieces.bundle.metadata["n_creators"] == whole.bundle.metadata["n_creators"] == 300
    assert champion_in_pieces.champion == champion_whole.champion
    assert champion_in_pieces.decision == champion_whole.decision


def test_pieces_keep_the_small_tables_whole_in_file_order(data_dir):
    ds = load_dataset(data_dir)
    with read_training_data(data_dir, PIECE) as data:
        for name in ("campaigns", "collaborations", "authenticity_labels"):
            pd.testing.assert_frame_equal(getattr(data.tables, name), getattr(ds, name),
                                          check_exact=True)
        assert data.tables.rows("creators") == data.tables.rows("posts") == 0
        assert (data.n_creators, data.n_audience) == (300, ds.rows("audience_sample"))
        example = data.example.creators["creator_id"].tolist()
        assert example == ds.creators["creator_id"].head(EXAMPLE_CREATORS).tolist()
        assert set(data.example.posts["creator_id"]) == set(example)
        # Re-iterable: every pass gives the pieces again, in order.
        first = [p.rows("creators") for p in data.pieces()]
        assert first == [p.rows("creators") for p in data.pieces()] == [PIECE] * 8 + [4]


def test_a_whole_dataset_is_one_piece():
    data = TrainingData.of_dataset(small_dataset())
    assert data.n_pieces == 1 and list(data.pieces()) == [small_dataset()]
    assert data.tables is small_dataset() and data.n_creators == 300


def test_contract_problems_are_reported_before_training(tmp_path, data_dir):
    creators = pd.read_csv(data_dir / "creators.csv")
    creators.loc[250, "followers"] = -5  # in the seventh piece
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in data_dir.iterdir():
        if path.is_file():
            (bad / path.name).write_bytes(path.read_bytes())
    creators.to_csv(bad / "creators.csv", index=False)
    with pytest.raises(ContractError) as caught, read_training_data(bad, PIECE):
        pytest.fail("no piece may reach training")
    problem, = caught.value.problems
    assert (problem.table, problem.column) == ("creators", "followers")
    # The file's row, as validating the whole table reports it (1-based data rows).
    assert problem.rows == (251,) and "-5" in str(problem)
