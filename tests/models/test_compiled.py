"""The compiled follower classifier predicts what LightGBM predicts (to 1e-9), and the account
cache gives the same probabilities, computed once per account content."""
from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest

from data.synthetic.audience import generate_follower_accounts
from models.compiled import PARALLEL_MIN_ROWS
from models.follower_account import FollowerAccountClassifier, _feature_matrix


@pytest.fixture(scope="module")
def classifier_and_accounts():
    accounts = generate_follower_accounts(600, 600, seed=3)
    labels = accounts.pop("is_fake").to_numpy()
    classifier = FollowerAccountClassifier(n_estimators=40, n_folds=2).fit(accounts, labels)
    return classifier, accounts


@pytest.mark.skipif(shutil.which("gcc") is None, reason="compiling trees needs gcc")
def test_compiled_trees_match_lightgbm(classifier_and_accounts, tmp_path):
    shared, accounts = classifier_and_accounts
    classifier = copy.copy(shared)  # compiled here only: the other tests' stays LightGBM's
    X = _feature_matrix(accounts)
    rng = np.random.default_rng(0)
    X_missing = X.copy()
    X_missing[rng.random(X.shape) < 0.3] = np.nan  # every field may be absent in a sample
    expected = [classifier.booster_.predict(m, num_threads=1) for m in (X, X_missing)]
    assert classifier.compile(tmp_path)
    assert classifier.is_compiled and list(tmp_path.glob("*.so"))
    for matrix, reference in zip((X, X_missing), expected, strict=True):
        assert np.max(np.abs(classifier.predict_rows(matrix) - reference)) <= 1e-9
    # A batch of PARALLEL_MIN_ROWS rows or more goes to the predictor on every core: the same.
    big = np.tile(X_missing, (PARALLEL_MIN_ROWS // len(X_missing) + 1, 1))
    assert len(big) >= PARALLEL_MIN_ROWS
    compiled = classifier.__dict__["_compiled"]
    if compiled.parallel_predictor is not None:  # one core: no parallel predictor
        assert np.max(np.abs(compiled.predict(big) - np.tile(
            expected[1], len(big) // len(X_missing)))) <= 1e-9
    # Compiled predictions cost less than the account cache: it is not consulted.
    classifier.accelerate(cache_size=10_000)
    try:
        assert np.max(np.abs(classifier.predict_rows(X_missing) - expected[1])) <= 1e-9
        assert classifier.account_cache.hits == classifier.account_cache.misses == 0
    finally:
        classifier.__dict__.pop("_account_cache", None)
    # A second compile of the same model reuses the library on disk.
    again = FollowerAccountClassifier(n_estimators=40, n_folds=2)
    again.booster_ = classifier.booster_
    assert again.compile(tmp_path) and len(list(tmp_path.glob("*.so"))) == 1


def test_account_cache_scores_each_content_once(classifier_and_accounts):
    classifier, accounts = classifier_and_accounts
    plain = classifier.predict_fake_proba(accounts)
    classifier.accelerate(cache_size=10_000)
    try:
        assert np.array_equal(classifier.predict_fake_proba(accounts), plain)
        cache = classifier.account_cache
        first_misses = cache.misses
        # The same accounts under other names and creators: the content is the key.
        renamed = accounts.assign(creator_id="someone_else")
        assert np.array_equal(classifier.predict_fake_proba(renamed), plain)
        assert cache.misses == first_misses and cache.hits >= len(accounts)
        # Changed content is a new key, never a stale probability.
        changed = accounts.assign(followers=accounts["followers"] + 1)
        classifier.predict_fake_proba(changed)
        assert cache.misses > first_misses
    finally:
        classifier.__dict__.pop("_account_cache", None)


def test_runtime_aids_are_not_pickled(classifier_and_accounts):
    import pickle

    classifier, _ = classifier_and_accounts
    classifier.accelerate(cache_size=10)
    try:
        restored = pickle.loads(pickle.dumps(classifier))
        assert restored.account_cache is None and not restored.is_compiled
    finally:
        classifier.__dict__.pop("_account_cache", None)


class _RecordingPredictor:
    """Stands for a tl2cgen predictor: which one predicted, and the same numbers."""

    def __init__(self, name: str, calls: list):
        self.name, self.calls = name, calls

    def predict(self, dmatrix):
        self.calls.append(self.name)
        return np.full(dmatrix.shape[0], 0.25)


def test_an_audit_beside_other_work_predicts_on_one_core(classifier_and_accounts):
    """In features.pipeline's helper thread (AUDITING_BESIDE_OTHER_WORK), a large batch goes to
    the one-thread predictor: the request's other core is busy with its other features."""
    pytest.importorskip("tl2cgen")
    from features.audience import AUDITING_BESIDE_OTHER_WORK
    from models.compiled import CompiledBooster

    shared, accounts = classifier_and_accounts
    classifier = copy.copy(shared)
    calls: list[str] = []
    classifier._compiled = CompiledBooster(
        _RecordingPredictor("one", calls), shared.booster_.num_feature(),
        _RecordingPredictor("every", calls))
    X = _feature_matrix(accounts)
    big = np.tile(X, (PARALLEL_MIN_ROWS // len(X) + 1, 1))
    classifier.predict_rows(big)
    beside = AUDITING_BESIDE_OTHER_WORK.set(True)
    try:
        classifier.predict_rows(big)
        classifier.predict_rows(X)
    finally:
        AUDITING_BESIDE_OTHER_WORK.reset(beside)
    assert calls == ["every", "one", "one"]
