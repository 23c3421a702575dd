"""train -> retrain (better: promoted) -> retrain (worse: kept) -> CLI, in a temp MLflow store."""
import pandas as pd
import pytest
from typer.testing import CliRunner

from store import registry
from tests.training.small_world import fast_config, small_follower_classifier, small_world
from training.jobs import run_retrain, run_train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from data.synthetic import write_world

    return write_world(small_world(), tmp_path_factory.mktemp("world") / "data")


@pytest.fixture()
def app():
    from creatorscore import app as application

    return application


# A deliberately weak model: without the log-linear part and the level correction, 3 boosting
# rounds barely move off "conversions proportional to exposure", so a normally trained
# challenger must beat it.
WEAK = {"conversion_rounds": 3, "conversion_glm": False, "conversion_calibrate_level": False}


def test_train_retrain_promotion_and_cli(mlflow_store, data_dir, app, tmp_path, monkeypatch):
    classifier = small_follower_classifier()
    # Read in pieces of 100 creators (the retrains below: one piece).
    first = run_train(data_dir, fast_config(**WEAK), follower_classifier=classifier,
                      follower_info={"training_data": "synthetic (test)"}, log_plots=False,
                      chunk_creators=100)
    assert first.promoted and first.version.version == "1"
    assert registry.get_alias(registry.CHAMPION).version == "1"
    assert "roi_captured_at_10" in first.result.metrics  # truth/ found next to the data

    better = run_retrain(data_dir, fast_config(), min_improvement=0.01)
    assert better.comparison.challenger["poisson_deviance"] < \
        better.comparison.champion["poisson_deviance"]
    assert better.promoted
    # Both sides are judged on every candidate of the holdout campaigns, hired or not.
    for side in (better.comparison.champion, better.comparison.challenger):
        for key in ("candidate_ndcg_at_10_roi", "candidate_roi_captured_at_10",
                    "candidate_spearman", "candidate_level_ratio",
                    "candidate_interval_coverage", "baseline_followers_candidate_spearman"):
            assert 0 < side[key] < 2, key
    assert registry.get_alias(registry.CHAMPION).version == "2"
    assert registry.get_alias(registry.CHALLENGER).version == "2"

    worse = run_retrain(data_dir, fast_config(**WEAK), min_improvement=0.01, log_plots=False)
    assert not worse.promoted
    assert any("poisson_deviance" in r for r in worse.comparison.decision.reasons)
    assert registry.get_alias(registry.CHAMPION).version == "2"  # unchanged
    assert registry.get_alias(registry.CHALLENGER).version == "3"

    runner = CliRunner()
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["score", "--data", str(data_dir), "--out", str(out),
                                 "--campaign", "cp00059"])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert (scored["campaign_id"] == "cp00059").all()
    assert (scored["model_version"] == "creatorscore/2").all()

    result = runner.invoke(app, ["rollback"])
    assert result.exit_code == 0 and "creatorscore/1" in result.output
    result = runner.invoke(app, ["promote", "3"])
    assert result.exit_code == 0 and registry.get_alias(registry.CHAMPION).version == "3"

    accounts = small_world().tables["audience_sample"].head(150)
    accounts_csv = tmp_path / "accounts.csv"
    accounts.drop(columns=["creator_id"]).to_csv(accounts_csv, index=False)
    audited = tmp_path / "audited.csv"
    result = runner.invoke(app, ["audit-followers", str(accounts_csv), "--out", str(audited)])
    assert result.exit_code == 0, result.output
    assert "Estimated fake share" in result.output
    table = pd.read_csv(audited)
    assert len(table) == 150 and table["p_fake"].between(0, 1).all()
    assert set(table["account_class"]) <= {"real", "mass_follower", "influencer", "suspicious"}


def test_cli_errors_are_clear(mlflow_store, app, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["score", "--data", str(tmp_path), "--out",
                                 str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "creatorscore train" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["retrain", "--data", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "creators.csv").write_text("creator_id,platform,followers\nc1,myspace,10\n")
    (bad / "posts.csv").write_text("post_id,creator_id,posted_at,likes,comments\n")
    result = runner.invoke(app, ["train", "--data", str(bad)])
    assert result.exit_code == 1
    assert "platform" in result.output and "Traceback" not in result.output
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("followers,following,posts_count\nten,1,1\n")
    result = runner.invoke(app, ["audit-followers", str(accounts), "--out",
                                 str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and "followers" in result.output
