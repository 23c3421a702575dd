"""Concurrent retrains and interrupted runs (issue 14, findings 4 and 7).

Two retrains on one store used to both compare against the same champion and both promote:
the last to finish won, even when worse. Promotion is now compare-and-set under the store's
lock: a retrain whose champion moved while it trained compares again with the new one.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest

from store import registry, tracking
from tests.training.small_world import fast_config, small_follower_classifier, small_world
from tests.training.test_end_to_end import WEAK
from training.jobs import run_retrain, run_train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from data.synthetic import write_world

    return write_world(small_world(), tmp_path_factory.mktemp("world") / "data")


def test_a_retrain_compares_again_when_the_champion_moved(mlflow_store, data_dir):
    run_train(data_dir, fast_config(**WEAK), follower_classifier=small_follower_classifier(),
              follower_info={"training_data": "synthetic (test)"}, log_plots=False)
    others = []

    def other_retrain_finishes_first(step: str) -> None:
        # Ours has compared against version 1; another retrain of the same model finishes
        # now and is promoted (better than the weak version 1).
        if step == "logging the run to MLflow" and not others:
            others.append(run_retrain(data_dir, fast_config(), log_plots=False))

    ours = run_retrain(data_dir, fast_config(), log_plots=False,
                       progress=other_retrain_finishes_first)
    (other,) = others
    assert other.promoted and other.version.version == "2"
    # Against version 1 ours was better; against version 2 (the same model) it is a tie,
    # which keeps the champion. The old code promoted it on its stale comparison.
    assert ours.version.version == "3" and not ours.promoted
    assert registry.get_alias(registry.CHAMPION).version == "2"
    tags = mlflow.MlflowClient().get_model_version("creatorscore", "3").tags
    assert tags["compared_with"] == "2" and tags["decision"] == "keep champion"
    assert [h["version"] for h in registry.champion_history()] == ["1", "2"]


def test_runs_of_dead_processes_are_marked_failed(mlflow_store):
    experiment = tracking.ensure_experiment(mlflow_store)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    client = mlflow.MlflowClient()
    orphan = client.create_run(experiment, tags={**tracking.job_tags(),
                                                 tracking.RUN_PID_TAG: dead})
    alive = client.create_run(experiment, tags=tracking.job_tags())  # this very process
    # What the dead run left behind: an artifact and a logged model with its files.
    client.log_text(orphan.info.run_id, "half written", "partial.txt")
    model = client.create_logged_model(experiment, source_run_id=orphan.info.run_id)
    model_folder = Path(urlparse(model.artifact_location).path)
    model_folder.mkdir(parents=True, exist_ok=True)
    (model_folder / "bundle.pkl").write_bytes(b"half a pickle")
    run_folder = Path(urlparse(orphan.info.artifact_uri).path)
    assert (run_folder / "partial.txt").exists()
    client.log_text(alive.info.run_id, "still being written", "partial.txt")

    assert tracking.fail_dead_runs(mlflow_store, experiment) == [orphan.info.run_id]
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    assert not run_folder.exists() and not model_folder.exists()
    assert client.search_logged_models([experiment], filter_string=(
        f"source_run_id = '{orphan.info.run_id}'")) == []
    alive_folder = Path(urlparse(alive.info.artifact_uri).path)
    assert (alive_folder / "partial.txt").exists()


# A retrain in a child process that SIGKILLs itself at one point: "register" (inside the
# MLflow run's aftermath: run logged, model not yet registered) or "promote" (the history
# written, the champion alias not yet moved).
_KILLED_RETRAIN = """
import os, signal, sys
from store import registry
from tests.training.small_world import fast_config
from training import jobs

point = sys.argv[2]
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if point == "register":
    jobs.registry.register = die
else:
    original = registry._write_history
    def write_then_die(client, history):
        original(client, history)
        die()
    registry._write_history = write_then_die
jobs.run_retrain(sys.argv[1], fast_config(), log_plots=False)
"""


@pytest.mark.slow
def test_a_killed_retrain_leaves_the_champion_and_no_running_run(mlflow_store, data_dir):
    run_train(data_dir, fast_config(**WEAK), follower_classifier=small_follower_classifier(),
              follower_info={"training_data": "synthetic (test)"}, log_plots=False)
    experiment = tracking.ensure_experiment(mlflow_store)
    client = mlflow.MlflowClient()
    for point in ("register", "promote"):
        done = subprocess.run([sys.executable, "-c", _KILLED_RETRAIN, str(data_dir), point],
                              capture_output=True, text=True, timeout=900,
                              cwd=str(Path(__file__).parents[2]))
        assert done.returncode == -9, done.stderr[-2000:]
        assert registry.get_alias(registry.CHAMPION).version == "1", point
        bundle, _ = registry.load_champion()
        assert hasattr(bundle, "score")
        assert [h["version"] for h in registry.champion_history()
                if h["version"] == "1"] == ["1"]
    # The next job's start marks the killed runs FAILED: nothing stays RUNNING.
    tracking.fail_dead_runs(mlflow_store, experiment)
    assert not client.search_runs([experiment], "attributes.status = 'RUNNING'")
    # The history written by the promotion killed before its alias moved is not taken for a
    # champion: the next promotion and rollback see version 1 as the champion.
    latest = max(int(v.version) for v in client.search_model_versions("name='creatorscore'"))
    registry.promote(str(latest))
    old, restored = registry.rollback()
    assert (old.version, restored.version) == (str(latest), "1")
