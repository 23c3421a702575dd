"""Print the follower-account classifier's figures next to the published ones.

Usage: python scripts/benchmark_follower_classifier.py [--shared-dir DIR] [--seed N] [--quick]
       [--csv OUT.csv]
Needs the shared labelled data sets (../shared/datasets or env CREATORSCORE_SHARED_DIR).
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from data.real_datasets import shared_datasets_dir
from training.follower_accounts import benchmark_follower_classifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="small grids and a Purba subsample (smoke test, not the benchmark)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    root = shared_datasets_dir(args.shared_dir)
    if not root.is_dir():
        print(f"shared data sets not found in {root}; set CREATORSCORE_SHARED_DIR",
              file=sys.stderr)
        return 2
    table = benchmark_follower_classifier(args.shared_dir, seed=args.seed, quick=args.quick)
    with pd.option_context("display.width", 200, "display.max_colwidth", 48):
        print(table[["benchmark", "metric", "ours", "published", "published_source"]]
              .to_string(index=False))
    print()
    for row in table.itertuples():
        print(f"- {row.benchmark}: {row.protocol}"
              + (f" [chosen: {row.chosen_params}]" if row.chosen_params else ""))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
