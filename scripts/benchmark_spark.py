"""Batch scoring throughput and peak memory: the pandas path vs Spark local[1] vs local[2].

Usage:
    python scripts/benchmark_spark.py [--sizes 10000 50000 200000] [--posts 30]
                                      [--creators-per-group 2000] [--work DIR]

For each size, a generated world (`data.synthetic.generate_world`, Parquet) is scored with one
small bundle trained once (on a 1,500-creator world, few trees: the figures are about the
scoring machinery, not model quality) by:
- pandas: `load_dataset` + `ScoringBundle.score` on the whole dataset + Parquet output, in
  one process (`creatorscore score` computes the same numbers in chunks of --chunk-creators);
- spark local[1] and local[2]: `serving.batch_spark.score_directory`, what
  `creatorscore score --engine spark` does (JVM start excluded from the scoring time, given
  apart).
Each measurement runs in its own process; its peak memory is the largest resident set of the
whole process tree (driver, JVM and Python workers), sampled every 0.2 s. creators/s is the
number of creators over the scoring wall time (reading, features, models, writing).
"vs pandas" is the ratio of creators/s to the pandas path measured in the same run, on the
same data: shared machines are noisy, the ratio less so.

On a cluster: `spark-submit --master yarn|k8s://...|spark://... serving/batch_spark.py --data
DIR --out DIR` with the package and its pinned requirements on the executors (a wheel in
`--py-files` and the requirements in the executors' image, or a packed virtual environment
with `--archives venv.tar.gz#environment` and `spark.pyspark.python=./environment/bin/python`),
MLFLOW_TRACKING_URI pointing at the tracking server (the driver loads the champion; the bundle
goes to the executors as one broadcast), data and output on shared storage (s3a://, hdfs://,
abfss://) and executor memory sized to --creators-per-group (see serving/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("pandas", "spark local[1]", "spark local[2]")


def make_world(directory: Path, n_creators: int, posts: int, seed: int) -> None:
    from data.io import write_dataset
    from data.synthetic import generate_world

    world = generate_world(n_creators, max(n_creators // 100, 10), seed, posts_per_creator=posts)
    write_dataset(world.tables, directory, fmt="parquet")


def train_bundle(work: Path) -> Path:
    """A small bundle, pickled to work/bundle.pkl."""
    import pickle

    from data.loader import validate_tables
    from data.synthetic import generate_follower_accounts, generate_world
    from models.follower_account import RuleBasedFollowerScorer
    from training.protocol import TrainConfig, train_and_evaluate

    world = generate_world(1_500, 40, seed=3, posts_per_creator=30)
    accounts = generate_follower_accounts(1_000, 1_000, seed=0)
    scorer = RuleBasedFollowerScorer().fit(accounts.drop(columns="is_fake"), accounts["is_fake"])
    result = train_and_evaluate(validate_tables(world.tables),
                                TrainConfig(conversion_rounds=60, risk_rounds=60),
                                follower_classifier=scorer,
                                follower_info={"scorer": "rule-based (benchmark)"})
    path = work / "bundle.pkl"
    path.write_bytes(pickle.dumps(result.bundle, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def run_one(engine: str, bundle_path: str, data: str, out: str, per_group: int) -> dict:
    """One measurement, in this process (called with --run-one)."""
    import pickle

    import pandas as pd

    bundle = pickle.loads(Path(bundle_path).read_bytes())
    if engine == "pandas":
        from data.loader import load_dataset

        started = time.perf_counter()
        ds = load_dataset(data)
        table = bundle.score(ds).table
        table.to_parquet(Path(out) / "scores.parquet", index=False)
        return {"seconds": time.perf_counter() - started, "rows": len(table), "start": 0.0}
    from serving.batch_spark import score_directory, spark_session

    started = time.perf_counter()
    spark = spark_session(engine.split()[-1], driver_memory="2g")
    spark.range(1).count()  # the JVM and its first job
    start = time.perf_counter() - started
    started = time.perf_counter()
    result = score_directory(spark, bundle, data, out, creators_per_group=per_group)
    seconds = time.perf_counter() - started
    rows = len(pd.read_parquet(out, columns=["creator_id"]))
    spark.stop()
    assert rows == result.rows
    return {"seconds": seconds, "rows": rows, "start": start}


def measure(engine: str, bundle: Path, data: Path, work: Path, per_group: int) -> dict:
    out = work / f"out_{engine.replace(' ', '_').replace('[', '').replace(']', '')}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, __file__, "--run-one", engine, str(bundle), str(data), str(out),
         str(per_group)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(child.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{engine} on {data} failed (exit {child.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_mib"] = peak / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--posts", type=int, default=30, help="posts per creator")
    parser.add_argument("--creators-per-group", type=int, default=2_000)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--work", type=Path, default=None,
                        help="working directory (default: a temporary one, removed after)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="benchmark_spark_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"training the benchmark bundle in {work} ...", flush=True)
        bundle = train_bundle(work)
        print(f"{'creators':>9} {'engine':>15} {'seconds':>9} {'creators/s':>11} "
              f"{'vs pandas':>9} {'peak MiB':>9} {'JVM start s':>11}", flush=True)
        for size in args.sizes:
            data = work / f"world_{size}"
            if not data.exists():
                make_world(data, size, args.posts, seed=size)
            floor = None
            for engine in args.engines:
                result = measure(engine, bundle, data, work, args.creators_per_group)
                rate = size / result["seconds"]
                if engine == "pandas":
                    floor = rate
                ratio = f"{rate / floor:9.2f}" if floor else f"{'-':>9}"
                start = f"{result['start']:11.1f}" if engine != "pandas" else f"{'-':>11}"
                print(f"{size:>9,} {engine:>15} {result['seconds']:9.1f} {rate:11.0f} {ratio} "
                      f"{result['peak_mib']:9.0f} {start}", flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--run-one":
        print(json.dumps(run_one(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                                 int(sys.argv[6]))))
    else:
        main()
