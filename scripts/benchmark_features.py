"""Throughput and memory of the feature pipeline at two sizes, and single-creator latency.

Usage: python scripts/benchmark_features.py [--creators 10000] [--posts 50] [--repeats 200]

Shared CI machines are noisy, so each figure is also given as a ratio to a baseline measured
in the same run on the same data: the time pandas needs to groupby-sum likes per creator
(batch), and the same groupby on the single creator's 30 posts (latency).
Uses data.synthetic.generate_world when available, else the fast test world of
tests/features/conftest.py.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from models.follower_account import RuleBasedFollowerScorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features import FeaturePipeline  # noqa: E402


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
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


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
    args = parser.parse_args()
    for n in (args.creators // 2, args.creators):
        ds, source = make_world(n, args.posts, seed=n)
        pipeline = FeaturePipeline(follower_scorer=RuleBasedFollowerScorer()).fit(ds)
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


if __name__ == "__main__":
    main()
