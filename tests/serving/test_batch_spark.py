"""Batch scoring on Spark (local[2]) gives the pandas path's numbers, row by row.

Skipped when pyspark or Java is missing, except under CI (`CREATORSCORE_REQUIRE_SPARK=1`,
set by .ci/run), where a Spark that cannot start fails the tests.
"""
from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from data.loader import load_dataset
from models.bundle import campaign_plans
from tests.store.test_pyfunc import assert_same_scores

REQUIRED = os.environ.get("CREATORSCORE_REQUIRE_SPARK") == "1"
KEYS = ["campaign_id", "creator_id"]


def _spark_available() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError:
        return "pyspark is not installed (pip install 'creatorscore[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install default-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark():
    missing = _spark_available()
    if missing:
        if REQUIRED:
            pytest.fail(f"Spark is required here (CREATORSCORE_REQUIRE_SPARK=1): {missing}")
        pytest.skip(missing)
    from serving.batch_spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEYS, na_position="first", kind="stable").reset_index(drop=True)


def _pandas_scores(bundle, data_dir, campaign=None) -> pd.DataFrame:
    ds = load_dataset(data_dir)
    return bundle.score(ds, campaign_id=campaign,
                        collaborations=campaign_plans(ds, campaign)).table


def _campaigns(tables) -> tuple[str, str]:
    """A campaign with planned collaborations and one without any."""
    planned = tables["collaborations"]["campaign_id"].value_counts()
    unplanned = sorted(set(tables["campaigns"]["campaign_id"]) - set(planned.index))
    if not unplanned:  # make one: drop the plans of the least planned campaign
        unplanned = [planned.index[-1]]
    return str(planned.index[0]), str(unplanned[0])


@pytest.fixture(scope="module")
def world_dirs(champion, tmp_path_factory):
    tables = dict(champion.tables)
    with_plans, without = _campaigns(tables)
    collaborations = tables["collaborations"]
    tables["collaborations"] = collaborations[collaborations["campaign_id"] != without]
    root = tmp_path_factory.mktemp("spark_world")
    write_dataset(tables, root / "csv")
    write_dataset(tables, root / "parquet", fmt="parquet")
    return root, with_plans, without


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_spark_scores_equal_pandas_row_by_row(spark, champion, world_dirs, tmp_path, fmt):
    from serving.batch_spark import score_directory

    root, with_plans, without = world_dirs
    data = root / fmt
    # Every scoring mode on Parquet; CSV (read as text, as the pandas loader) once.
    for campaign in (None, with_plans, without) if fmt == "parquet" else (with_plans,):
        out = tmp_path / f"scores_{campaign}"
        # Small groups: several groups, each holding whole creators.
        result = score_directory(spark, champion.bundle, data, out, campaign,
                                 creators_per_group=70)
        assert result.groups > 1
        expected = _sorted(_pandas_scores(champion.bundle, data, campaign))
        got = _sorted(pd.read_parquet(out))
        assert result.rows == len(expected) > 0
        assert_same_scores(expected, got)


@pytest.mark.slow
def test_spark_reports_contract_problems_by_creator(spark, champion, world_dirs, tmp_path):
    from serving.batch_spark import SparkScoringError, score_directory

    root, _, _ = world_dirs
    bad = tmp_path / "bad"
    shutil.copytree(root / "csv", bad)
    posts = pd.read_csv(bad / "posts.csv", dtype=str)
    creator = posts["creator_id"].iloc[3]
    posts.loc[3, "likes"] = "many"
    posts.to_csv(bad / "posts.csv", index=False)
    with pytest.raises(SparkScoringError) as caught:
        score_directory(spark, champion.bundle, bad, tmp_path / "out")
    message = str(caught.value)
    assert "posts.likes" in message and f"creator {creator}" in message
    assert "'many'" in message and "expected" in message
    with pytest.raises(SparkScoringError, match="is not in the campaigns table"):
        score_directory(spark, champion.bundle, root / "csv", tmp_path / "out2", "nope")
    # A line with a field too many or too few: named, never reshaped into the scores.
    ragged = tmp_path / "ragged"
    shutil.copytree(root / "csv", ragged)
    lines = (ragged / "posts.csv").read_text(encoding="utf-8").splitlines()
    lines[2] += ",extra"
    lines[4] = ",".join(lines[4].split(",")[:-2])
    (ragged / "posts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SparkScoringError) as caught:
        score_directory(spark, champion.bundle, ragged, tmp_path / "out3")
    message = str(caught.value)
    assert message.startswith("posts.csv: 2 line(s) whose number of fields differs")
    assert "extra" in message and "expected every line" in message


@pytest.mark.slow
def test_cli_engine_spark_gives_the_pandas_numbers(spark, champion, world_dirs, tmp_path,
                                                   monkeypatch):
    root, with_plans, _ = world_dirs
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
    runner = CliRunner()
    args = ["score", "--data", str(root / "parquet"), "--campaign", with_plans]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "pandas.parquet")])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "spark"), "--engine", "spark",
                               "--spark-master", "local[2]", "--creators-per-group", "100"])
    assert done.exit_code == 0, done.output
    assert "rows scored with creatorscore/" in done.output
    assert_same_scores(_sorted(pd.read_parquet(tmp_path / "pandas.parquet")),
                       _sorted(pd.read_parquet(tmp_path / "spark")))
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "x"), "--engine", "dask"])
    assert done.exit_code == 2 and "expected one of pandas, spark" in done.output
