"""The MLflow jobs behind `creatorscore train` and `creatorscore retrain`: thin adapters that
load the data, run the protocol (training.protocol), compare (training.promotion), log the run
and move the registry's aliases (store.registry) only after everything else succeeded.
"""
from __future__ import annotations

from dataclasses import dataclass

import mlflow

from data.chunked import CHUNK_CREATORS
from data.synthetic.truth import load_truth
from store import registry, tracking
from store.locking import store_lock
from training.promotion import Comparison, compare_on_holdout
from training.protocol import Progress, TrainConfig, TrainResult, no_progress, train_and_evaluate
from training.run_log import log_training_run
from training.training_data import read_training_data


@dataclass
class RunOutcome:
    result: TrainResult
    run_id: str
    version: registry.VersionInfo
    promoted: bool
    comparison: Comparison | None = None


def run_train(data_dir, config: TrainConfig | None = None, tracking_uri: str | None = None,
              progress: Progress = no_progress, follower_classifier=None,
              follower_info: dict | None = None, log_plots: bool = True,
              chunk_creators: int = CHUNK_CREATORS) -> RunOutcome:
    """`creatorscore train`: read the data in pieces of `chunk_creators` creators (memory:
    training.training_data.read_training_data), train everything in one MLflow run, register
    the bundle; the first registered version becomes champion (aliases move only after
    success)."""
    uri = tracking.configure_tracking(tracking_uri)
    experiment_id = tracking.ensure_experiment(uri)
    _close_dead_runs(uri, experiment_id, progress)
    progress("reading and validating the dataset")
    with read_training_data(data_dir, chunk_creators) as data:
        truth = load_truth(data_dir)
        result = train_and_evaluate(data, config, truth, follower_classifier, follower_info,
                                    progress)
    progress("logging the run to MLflow")
    with mlflow.start_run(experiment_id=experiment_id, run_name="train",
                          tags=tracking.job_tags()) as run:
        model_info = log_training_run(result, data_dir, tags={"job": "train"},
                                      log_plots=log_plots, training_data=data.example)
    version = registry.register(model_info.model_uri, run.info.run_id,
                                tags={"job": "train", "feature_version":
                                      result.bundle.feature_version}, tracking_uri=uri)
    with store_lock(uri):
        promoted = registry.get_alias(registry.CHAMPION, uri) is None
        if promoted:
            registry.promote(version.version, reason="first trained model", tracking_uri=uri)
    result.bundle.model_version = version.model_version
    return RunOutcome(result, run.info.run_id, version, promoted)


def run_retrain(data_dir, config: TrainConfig | None = None, tracking_uri: str | None = None,
                primary_metric: str = "poisson_deviance", min_improvement: float = 0.01,
                guardrails=None, retrain_follower_classifier: bool = False,
                progress: Progress = no_progress, log_plots: bool = True,
                chunk_creators: int = CHUNK_CREATORS) -> RunOutcome:
    """`creatorscore retrain`: validate the new data, train a challenger, compare it with the
    champion on the same most recent holdout and promote only if it is better.

    The champion's follower-account classifier is reused unless asked otherwise: it is trained
    on the labelled account data sets, not on the campaign data being retrained on.
    The data is read in pieces of `chunk_creators` creators, as by `run_train`.
    Nothing in the registry changes until the run has been logged and the version registered;
    then the challenger alias moves to the new version and, if the decision says so, the
    champion alias too.
    """
    uri = tracking.configure_tracking(tracking_uri)
    experiment_id = tracking.ensure_experiment(uri)
    _close_dead_runs(uri, experiment_id, progress)
    progress("loading the champion")
    champion, champion_info = registry.load_champion(uri)
    progress("reading and validating the dataset")
    # The pieces are read again to evaluate the champion (and again if it moved meanwhile).
    with read_training_data(data_dir, chunk_creators) as data:
        truth = load_truth(data_dir)
        classifier = None if retrain_follower_classifier else champion.follower_classifier
        info = None if retrain_follower_classifier else {
            **champion.metadata.get("follower_info", {}),
            "reused_from": champion_info.model_version}
        result = train_and_evaluate(data, config, truth, classifier, info, progress)
        comparison = compare_on_holdout(champion, result, data, truth, primary_metric,
                                        min_improvement, guardrails, progress)
        progress("logging the run to MLflow")
        decision = comparison.decision
        with mlflow.start_run(experiment_id=experiment_id, run_name="retrain",
                              tags=tracking.job_tags()) as run:
            holdout = {f"holdout_challenger_{k}": v for k, v in comparison.challenger.items()}
            holdout.update({f"holdout_champion_{k}": v for k, v in comparison.champion.items()})
            model_info = log_training_run(
                result, data_dir, extra_metrics=holdout, log_plots=log_plots,
                training_data=data.example,
                tags={"job": "retrain", "champion_version": champion_info.version,
                      "decision": "promote" if decision.promote else "keep champion",
                      "decision_reasons": " | ".join(decision.reasons)[:4900],
                      "primary_metric": primary_metric, "min_improvement": str(min_improvement)})
        version = registry.register(model_info.model_uri, run.info.run_id,
                                    tags={"job": "retrain", "decision": "promote" if
                                          decision.promote else "keep champion"}, tracking_uri=uri)
        registry.set_challenger(version.version, uri)
        with store_lock(uri):
            # Compare-and-set: another retrain may have promoted while this one trained. Then the
            # challenger is compared again with the new champion, under the lock, so the
            # champion cannot move between that comparison and the promotion.
            current = registry.get_alias(registry.CHAMPION, uri)
            moved = current is not None and current.version != champion_info.version
            if decision.promote and moved:
                progress(f"the champion moved to version {current.version}: comparing again")
                champion, champion_info = registry.load_champion(uri)
                comparison = compare_on_holdout(champion, result, data, truth, primary_metric,
                                                min_improvement, guardrails, progress)
                decision = comparison.decision
            registry.tag_version(version.version, {
                "compared_with": champion_info.version,
                "decision": "promote" if decision.promote else "keep champion"}, uri)
            if decision.promote:
                registry.promote(version.version, reason=f"retrain: {primary_metric} improved "
                                 f"{100 * decision.improvement:.2f}% over version "
                                 f"{champion_info.version}", tracking_uri=uri,
                                 if_champion=champion_info.version)
    result.bundle.model_version = version.model_version
    return RunOutcome(result, run.info.run_id, version, decision.promote, comparison)


def _close_dead_runs(uri: str, experiment_id: str, progress: Progress) -> None:
    failed = tracking.fail_dead_runs(uri, experiment_id)
    if failed:
        progress(f"marked {len(failed)} run(s) of ended processes FAILED: {', '.join(failed)}")
