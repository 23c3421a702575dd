"""Latency of the per-request feature path for ONE creator: validate_tables + transform_creators.

Usage: python scripts/benchmark_single_creator.py [--repeats 500] [--posts 30] [--trained]

The request's tables are laid out as the service builds them (serving.convert): numbers as
float64 arrays, text, booleans, dates and timestamps as object arrays of ISO strings; one
creator with `--posts` posts (those with comments first), its comments, follower snapshots and
audience sample. `--trained` scores the audience with a FollowerAccountClassifier fitted on
synthetic accounts (as the shipped bundle does) instead of the rule-based scorer.

Shared machines are noisy: each figure is a percentile of many repetitions, and the ratio to a
baseline measured in the same loop (a pandas groupby-sum of the creator's likes) is printed too.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.contract import TABLES  # noqa: E402
from data.loader import validate_tables  # noqa: E402
from data.synthetic import generate_world  # noqa: E402
from data.synthetic.audience import generate_follower_accounts  # noqa: E402
from features import FeaturePipeline  # noqa: E402
from models.follower_account import (  # noqa: E402
    FollowerAccountClassifier,
    RuleBasedFollowerScorer,
)

REQUEST_TABLES = ("creators", "posts", "follower_history", "audience_sample", "comments")


def _request_column(values: pd.Series, column_type: str) -> np.ndarray:
    if column_type in ("int", "float"):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    if column_type in ("date", "ts"):
        text = values.dt.strftime("%Y-%m-%d" if column_type == "date" else "%Y-%m-%dT%H:%M:%S")
        return text.to_numpy(dtype=object, na_value=None)
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


def request_tables(tables: dict[str, pd.DataFrame], posts: int) -> dict[str, pd.DataFrame]:
    """Raw frames of one creator that has comments and an audience sample."""
    both = set(tables["comments"]["creator_id"]) & set(tables["audience_sample"]["creator_id"])
    creator_id = sorted(both)[0]
    rows = {name: tables[name][tables[name]["creator_id"] == creator_id]
            for name in REQUEST_TABLES}
    commented = rows["posts"]["post_id"].isin(set(rows["comments"]["post_id"])).to_numpy()
    rows["posts"] = rows["posts"].iloc[np.argsort(~commented, kind="stable")[:posts]]
    rows["comments"] = rows["comments"][
        rows["comments"]["post_id"].isin(set(rows["posts"]["post_id"]))]
    return {name: pd.DataFrame({c.name: _request_column(frame[c.name], c.type)
                                for c in TABLES[name].columns if c.name in frame})
            for name, frame in rows.items()}


def percentiles_ms(timings: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(timings) * 1000, [50, 99])
    return float(p50), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--creators", type=int, default=400, help="world the pipeline is fit on")
    parser.add_argument("--trained", action="store_true",
                        help="score follower accounts with a trained classifier")
    args = parser.parse_args()

    world = generate_world(args.creators, max(args.creators // 50, 5), seed=7,
                           posts_per_creator=max(args.posts, 30))
    accounts = generate_follower_accounts(2000, 1000, seed=1)
    labels = accounts.pop("is_fake")
    scorer = (FollowerAccountClassifier() if args.trained else RuleBasedFollowerScorer()
              ).fit(accounts, labels)
    pipeline = FeaturePipeline(follower_scorer=scorer).fit(validate_tables(world.tables))
    raw = request_tables(world.tables, args.posts)
    sizes = {name: len(frame) for name, frame in raw.items()}

    def validate():
        return validate_tables(raw)

    ds = validate()
    stages = {"validate_tables": validate,
              "transform_creators": lambda: pipeline.transform_creators(ds),
              "both": lambda: pipeline.transform_creators(validate())}
    for function in stages.values():  # warm-up: lazy imports, regex and Arrow kernels
        for _ in range(10):
            function()
    timings: dict[str, list[float]] = {name: [] for name in stages}
    baselines = []
    likes = ds.posts
    for _ in range(args.repeats):  # interleaved, so load spikes hit every stage alike
        for name, function in stages.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        likes.groupby("creator_id", sort=False)["likes"].sum()
        baselines.append(time.perf_counter() - started)
    base = float(np.median(baselines)) * 1000
    scorer_name = "trained classifier" if args.trained else "rule-based scorer"
    print(f"one creator {sizes}, {scorer_name}, {args.repeats} repeats")
    for name, values in timings.items():
        p50, p99 = percentiles_ms(values)
        print(f"  {name:<20} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"({p50 / base:5.1f}x a pandas groupby-sum of its likes, {base:.2f} ms)")


if __name__ == "__main__":
    main()
