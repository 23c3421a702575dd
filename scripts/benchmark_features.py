"""Throughput and memory of the feature pipeline, single-creator latency, and the `features` and
`score` commands end to end.

Usage: python scripts/benchmark_features.py [--creators 10000] [--posts 50] [--repeats 200]
                                            [--cli] [--score-creators 50000]

The follower accounts are scored by the shipped classifier (the champion's, from the MLflow
store of MLFLOW_TRACKING_URI); without a champion the rule-based scorer is used and the report
says so. Shared CI machines are noisy, so each figure is also given as a ratio to a floor
measured in the same run on the same data: a pandas groupby-sum of likes per creator (the
feature step), the same groupby on the single creator's 30 posts (latency), and reading the
dataset's CSV files with pyarrow (the commands, which read, validate, compute and write).
With --cli the commands run as subprocesses on a world written to a temporary directory, and
their peak resident memory is reported (os.wait4, from a small launcher process: see _run).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import run_times  # noqa: E402

from features import FeaturePipeline  # noqa: E402
from models.follower_account import RuleBasedFollowerScorer  # noqa: E402
from store.registry import RegistryError, load_champion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def follower_scorer():
    """(scorer, description): the champion's follower classifier, else the rule-based one."""
    try:
        bundle, info = load_champion()
    except RegistryError:  # no champion: say so
        return RuleBasedFollowerScorer(), "rule-based scorer (no champion in the store)"
    classifier = bundle.follower_classifier or bundle.pipeline.follower_scorer_
    return classifier, f"{type(classifier).__name__} of {info.model_version}"


def make_world(n_creators: int, posts: int, seed: int):
    try:
        from data.loader import validate_tables
        from data.synthetic import generate_world
    except ImportError:
        from tests.features.conftest import synthetic_dataset
        return synthetic_dataset(n_creators, posts, seed=seed), "tests.features.conftest"
    world = generate_world(n_creators, max(n_creators // 50, 5), seed,
                           posts_per_creator=posts)
    return validate_tables(world.tables), "data.synthetic.generate_world"


def best_of(function, repeats: int) -> float:
    return min(run_times(function, repeats))


def groupby_likes(ds) -> None:
    ds.posts.groupby("creator_id", sort=False)["likes"].sum()


def peak_mib(function) -> float:
    """Peak traced memory of one call (traced separately: tracing slows allocations down)."""
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def single_creator(ds, posts: int = 30):
    """The dataset of one creator with comments and an audience sample, `posts` posts."""
    has_both = set(ds.comments["creator_id"]) & set(ds.audience_sample["creator_id"])
    creator_id = sorted(has_both)[0] if has_both else ds.creators["creator_id"].iloc[0]
    tables = {}
    for name, frame in ds.tables.items():
        if "creator_id" in frame:
            frame = frame[frame["creator_id"] == creator_id]
            tables[name] = frame
    commented = tables["posts"]["post_id"].isin(set(tables["comments"]["post_id"]))
    # Commented posts first, so that the 30 posts come with their comments.
    tables["posts"] = tables["posts"].iloc[np.argsort(~commented.to_numpy(),
                                                      kind="stable")[:posts]]
    kept_posts = set(tables["posts"]["post_id"])
    tables["comments"] = tables["comments"][tables["comments"]["post_id"].isin(kept_posts)]
    return ds.with_tables(**tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--cli", action="store_true",
                        help="also time `creatorscore features` and `creatorscore score` end to "
                             "end (subprocesses, with peak memory)")
    parser.add_argument("--score-creators", type=int, default=50_000)
    parser.add_argument("--chunk-creators", type=int, default=None,
                        help="passed to the commands (their memory: one piece of this many "
                             "creators plus the dataset's id columns)")
    args = parser.parse_args()
    scorer, scorer_name = follower_scorer()
    print(f"follower accounts scored by the {scorer_name}")
    for n in (args.creators // 2, args.creators):
        ds, source = make_world(n, args.posts, seed=n)
        pipeline = FeaturePipeline(follower_scorer=scorer).fit(ds)
        pipeline.transform_creators(ds.with_tables(creators=ds.creators.iloc[:10]))  # warm-up
        elapsed = best_of(lambda: pipeline.transform_creators(ds), 2)  # noqa: B023
        baseline = best_of(lambda: groupby_likes(ds), 5)  # noqa: B023
        peak = peak_mib(lambda: pipeline.transform_creators(ds))  # noqa: B023
        print(f"{n:>7} creators x {args.posts} posts ({source}): {elapsed:6.2f} s, "
              f"{n / elapsed:8.0f} creators/s, {elapsed / baseline:5.0f}x a pandas groupby-sum "
              f"of likes ({1000 * baseline:.1f} ms), peak traced memory {peak:7.1f} MiB")

    alone = single_creator(ds)
    sizes = {name: len(frame) for name, frame in alone.tables.items()
             if frame is not None and "creator_id" in frame}
    for _ in range(5):
        pipeline.transform_creators(alone)
    timings, baselines = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        pipeline.transform_creators(alone)
        timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        groupby_likes(alone)
        baselines.append(time.perf_counter() - started)
    p50, p99 = np.percentile(timings, [50, 99]) * 1000
    base = float(np.median(baselines)) * 1000
    print(f"single creator {sizes}: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
          f"({p50 / base:.1f}x / {p99 / base:.1f}x a pandas groupby-sum of its likes, "
          f"{base:.2f} ms)")
    if args.cli:
        for command, n in (("features", args.creators), ("score", args.score_creators)):
            command_figures(command, n, args.posts, args.chunk_creators)


# The commands are started by a small launcher process, which reports their figures: on Linux
# a child's peak resident memory (ru_maxrss) is at least that of the process it was forked from
# (exec keeps the larger), and this process holds the worlds it made (1.5 GB for a 10k-creator
# run), which every command's peak then showed instead of its own.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started, "peak_kib": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "code": os.waitstatus_to_exitcode(status)}))
"""


def _run(argv: list[str]) -> tuple[float, float, float]:
    """(seconds, peak resident MiB, CPU seconds: user + system, every thread) of one
    subprocess. On a shared machine the CPU time is the steadier figure: the wall time also
    counts waiting for a core."""
    launched = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], cwd=ROOT,
                              capture_output=True, text=True)
    if launched.returncode != 0 or not launched.stdout.strip():
        raise SystemExit(f"{' '.join(argv)} failed to start: {launched.stderr[-2000:]}")
    figures = json.loads(launched.stdout.strip().splitlines()[-1])
    if figures["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {launched.stderr[-2000:]}")
    return figures["seconds"], figures["peak_kib"] / 1024, figures["cpu"]


def command_figures(command: str, n_creators: int, posts: int,
                    chunk_creators: int | None = None) -> None:
    """`creatorscore <command> --data DIR --out FILE` end to end on a written world, against
    reading the same CSV files with pyarrow."""
    import pyarrow.csv as pacsv

    from data.io import write_dataset
    from data.synthetic import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        world = generate_world(n_creators, max(n_creators // 50, 5), n_creators,
                               posts_per_creator=posts)
        data = Path(tmp) / "world"
        write_dataset(world.tables, data)
        del world
        started = time.perf_counter()
        for path in data.glob("*.csv"):
            pacsv.read_csv(path)
        floor = time.perf_counter() - started
        cli = str(Path(sys.executable).with_name("creatorscore"))
        chunking = [] if chunk_creators is None else ["--chunk-creators", str(chunk_creators)]
        elapsed, peak, cpu = _run([cli, command, "--data", str(data), "--out",
                                   str(Path(tmp) / f"{command}.parquet"), *chunking])
    print(f"creatorscore {command}, {n_creators:,} creators x {posts} posts, end to end: "
          f"{elapsed:6.1f} s, {n_creators / elapsed:7.0f} creators/s (CPU {cpu:.1f} s: "
          f"{n_creators / cpu:.0f} creators per CPU second), peak RSS {peak:,.0f} MiB "
          f"({1024 * peak / n_creators:.0f} KiB a creator); {elapsed / floor:.0f}x reading its "
          f"CSV files with pyarrow ({floor:.2f} s)")


if __name__ == "__main__":
    main()
