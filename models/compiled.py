"""LightGBM boosters compiled to native code (treelite + tl2cgen, with gcc), for prediction only.

The follower-account classifier scores every sampled account of every creator: at a /rank of
1,000 candidates that is ~60k accounts x 100 trees, and compiled trees predict them ~3x faster
than LightGBM with the same numbers. A compiled library is used only after it reproduced the
booster's predictions to `MAX_DIFFERENCE` on probe rows (with missing values); anything that
goes wrong (no compiler, a treelite version mismatch) leaves LightGBM in charge. Explanations
keep LightGBM's exact TreeSHAP (`pred_contrib`): only plain predictions are compiled.

Compiling takes tens of seconds, so libraries are kept in `cache_directory()` under the hash
of the model text and reused by every worker and restart.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np

logger = logging.getLogger(__name__)

MAX_DIFFERENCE = 1e-9
# quantize: thresholds become integer bins (one binary search per feature per row, then integer
# comparisons): 1.7x faster on the follower classifier (443 -> 265 ms on 63k accounts), same
# predictions (checked on the probe rows like every library). parallel_comp: the trees in 8
# translation units, compiled in parallel.
COMPILE_PARAMS = {"parallel_comp": 8, "quantize": 1}
PROBE_ROWS = 2_000
# Environment: CREATORSCORE_COMPILE_TREES=0 keeps LightGBM; CREATORSCORE_CACHE_DIR is where the
# compiled libraries go (default ~/.cache/creatorscore).
COMPILE_VARIABLE = "CREATORSCORE_COMPILE_TREES"
CACHE_VARIABLE = "CREATORSCORE_CACHE_DIR"
# From this many rows, the compiled trees predict on every core. One /rank of 1,000 never-seen
# candidates (~63k accounts) with the 100-tree classifier: 35 ms on one thread, 18 ms on two
# (quiet 2-core machine; 20k rows 11.3 -> 5.8 ms, 630k 374 -> 205 ms). A /score's few hundred
# or few thousand rows stay on one thread: the service runs a worker per core, and concurrent
# requests must not compete for cores (with the other core busy, two threads gain nothing:
# 42 vs 39 ms at load 1.6; with the former 300-tree model 244 vs 196 ms at load 2.3).
PARALLEL_MIN_ROWS = 20_000


def compile_enabled(env=None) -> bool:
    env = os.environ if env is None else env
    return env.get(COMPILE_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def cache_directory(env=None) -> Path:
    env = os.environ if env is None else env
    configured = env.get(CACHE_VARIABLE, "").strip()
    return Path(configured) if configured else Path.home() / ".cache" / "creatorscore"


class CompiledBooster:
    """Predictions of a compiled booster library (`compile_booster` builds and checks one):
    `predictor` on one thread, `parallel_predictor` (every core) from PARALLEL_MIN_ROWS rows
    when given. Both load the same library: the same predictions."""

    def __init__(self, predictor, n_features: int, parallel_predictor=None):
        self.predictor = predictor
        self.n_features = n_features
        self.parallel_predictor = parallel_predictor

    def predict(self, X: np.ndarray) -> np.ndarray:
        parallel = self.parallel_predictor is not None and len(X) >= PARALLEL_MIN_ROWS
        return self.predict_on(self.parallel_predictor if parallel else self.predictor, X)

    @staticmethod
    def predict_on(predictor, X: np.ndarray) -> np.ndarray:
        # tl2cgen is imported lazily: an optional accelerator, absent when compiling is off.
        import tl2cgen

        matrix = np.ascontiguousarray(X, dtype="float64")
        return np.asarray(predictor.predict(tl2cgen.DMatrix(matrix, dtype="float64")),
                          dtype="float64").reshape(len(matrix))


def probe_rows(booster: lgb.Booster, n_rows: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows that reach every kind of branch: values drawn around each feature's split
    thresholds (both sides of each), with a fifth of them missing."""
    model = booster.dump_model()
    n_features = booster.num_feature()
    thresholds: list[list[float]] = [[] for _ in range(n_features)]

    def walk(node: dict) -> None:
        if "split_feature" in node:
            threshold = node.get("threshold")
            if isinstance(threshold, (int, float)):
                thresholds[node["split_feature"]].append(float(threshold))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in model["tree_info"]:
        walk(tree["tree_structure"])
    rng = np.random.default_rng(seed)
    X = np.empty((n_rows, n_features))
    for j, values in enumerate(thresholds):
        centres = np.asarray(values or [0.0])
        picked = centres[rng.integers(len(centres), size=n_rows)]
        X[:, j] = picked + rng.normal(scale=np.maximum(np.abs(picked) * 0.01, 1e-3))
    X[rng.random(X.shape) < 0.2] = np.nan
    return X


def compile_booster(booster: lgb.Booster, directory: Path | None = None,
                    probe: np.ndarray | None = None) -> CompiledBooster | None:
    """The booster compiled (or loaded from `directory`), or None when it cannot be compiled
    or does not reproduce LightGBM's predictions to MAX_DIFFERENCE."""
    directory = directory or cache_directory()
    try:
        import tl2cgen  # lazy: optional native compiler (see the module docstring)
        import treelite

        text = booster.model_to_string()
        digest = hashlib.sha256(
            f"{tl2cgen.__version__}/{treelite.__version__}/{sorted(COMPILE_PARAMS.items())}\n"
            f"{text}".encode()).hexdigest()[:32]
        library = directory / f"lightgbm-{digest}.so"
        if not library.exists():
            directory.mkdir(parents=True, exist_ok=True)
            model = treelite.frontend.from_lightgbm(booster)
            with tempfile.TemporaryDirectory(dir=directory) as work:
                built = Path(work) / library.name
                tl2cgen.export_lib(model, toolchain="gcc", libpath=built,
                                   params=COMPILE_PARAMS,
                                   nthread=max(1, os.cpu_count() or 1))
                os.replace(built, library)  # atomic: other workers never see a partial file
        cores = os.cpu_count() or 1
        compiled = CompiledBooster(
            tl2cgen.Predictor(library, nthread=1), booster.num_feature(),
            tl2cgen.Predictor(library, nthread=cores) if cores > 1 else None)
        probe = probe_rows(booster) if probe is None else probe
        expected = booster.predict(probe, num_threads=1)
        # Both predictors are checked: the probe is predicted once on each.
        difference = max(
            float(np.max(np.abs(compiled.predict_on(predictor, probe) - expected)))
            for predictor in (compiled.predictor, compiled.parallel_predictor)
            if predictor is not None)
    except Exception:  # noqa: BLE001 - an accelerator: LightGBM stays in charge on any failure
        logger.warning("could not compile the booster; predicting with LightGBM",
                       exc_info=True)
        return None
    if not difference <= MAX_DIFFERENCE:
        logger.warning("compiled booster differs from LightGBM by %.3g (> %g); predicting "
                       "with LightGBM", difference, MAX_DIFFERENCE)
        return None
    return compiled
