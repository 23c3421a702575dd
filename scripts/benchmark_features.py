"""Throughput and memory of the feature pipeline at two sizes, and single-creator latency.

Usage: python scripts/benchmark_features.py [--creators 10000] [--posts 50]
Uses data.synthetic.generate_world when available, else the fast test world of
tests/features/conftest.py (comments and audience samples for ~30% of creators).
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

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


def measure(pipeline: FeaturePipeline, ds) -> tuple[float, float]:
    """(seconds, peak traced MiB): timed untraced, since tracing slows allocations down."""
    started = time.perf_counter()
    pipeline.transform_creators(ds)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    pipeline.transform_creators(ds)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    for n in (args.creators // 2, args.creators):
        ds, source = make_world(n, args.posts, seed=n)
        pipeline = FeaturePipeline().fit(ds)
        pipeline.transform_creators(ds.with_tables(creators=ds.creators.iloc[:10]))  # warm-up
        elapsed, peak = measure(pipeline, ds)
        print(f"{n:>7} creators x {args.posts} posts ({source}): {elapsed:6.2f} s, "
              f"{n / elapsed:8.0f} creators/s, peak traced memory {peak:7.1f} MiB")
    creator_id = ds.creators["creator_id"].iloc[0]
    alone = ds.with_tables(**{name: frame[frame["creator_id"] == creator_id].iloc[:30]
                              if name == "posts" else frame[frame["creator_id"] == creator_id]
                              for name, frame in ds.tables.items() if "creator_id" in frame})
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        pipeline.transform_creators(alone)
        timings.append(time.perf_counter() - started)
    timings.sort()
    print(f"single creator (30 posts): median {1000 * timings[25]:.1f} ms, "
          f"p90 {1000 * timings[45]:.1f} ms")


if __name__ == "__main__":
    main()
