"""Print the follower-account classifier's figures next to the published ones, then the fake
share off-domain: leave one data set out, artificial audiences at 0-60% fake, every
quantification method's error and the coverage of its 90% interval.

Usage: python scripts/benchmark_follower_classifier.py [--shared-dir DIR] [--seed N] [--quick]
       [--csv OUT.csv] [--share-only]
Needs the shared labelled data sets (../shared/datasets or env CREATORSCORE_SHARED_DIR).
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from data.real_datasets import shared_datasets_dir
from models.follower_account import DOMAIN_ERROR, SHARE_METHOD
from training.follower_accounts import (
    benchmark_follower_classifier,
    benchmark_share_estimators,
    interval_coverage,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="small grids and a Purba subsample (smoke test, not the benchmark)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    parser.add_argument("--share-only", action="store_true",
                        help="only the leave-one-dataset-out share benchmark")
    args = parser.parse_args(argv)
    root = shared_datasets_dir(args.shared_dir)
    if not root.is_dir():
        print(f"shared data sets not found in {root}; set CREATORSCORE_SHARED_DIR",
              file=sys.stderr)
        return 2
    if not args.share_only:
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
        print()
    print_share_benchmark(benchmark_share_estimators(args.shared_dir, seed=args.seed,
                                                     quick=args.quick))
    return 0


def print_share_benchmark(result: dict[str, pd.DataFrame]) -> None:
    audiences = result["audiences"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print("Leave one data set out: train on the others, test on the one left out "
              "(its audit fields only).")
        print(result["accounts"].round(3).to_string(index=False))
        print("\nShare MAE on artificial audiences (prevalence 0-60%, 100 and 500 accounts):")
        print(result["methods"].round(3).to_string())
        print("\nOff-domain error that gives 90% coverage pooled, and the coverage per set:")
        print(result["calibration"].to_string())
        shipped = audiences[audiences["method"] == SHARE_METHOD]
        coverage = interval_coverage(shipped, DOMAIN_ERROR)
        mae = shipped.groupby("held_out")["abs_error"].mean()
        worst = shipped.groupby(["held_out", "prevalence"])["abs_error"].mean().groupby(
            "held_out").max()
        print(f"\nShipped: {SHARE_METHOD} with off-domain error {DOMAIN_ERROR}:")
        printed = ((shipped["printed_low"] <= shipped["prevalence"])
                   & (shipped["prevalence"] <= shipped["printed_high"])).groupby(
            shipped["held_out"]).mean()
        width = (shipped["printed_high"] - shipped["printed_low"]).groupby(
            shipped["held_out"]).mean()
        print(pd.DataFrame({"share_mae": mae, "worst_prevalence_mae": worst,
                            "coverage_90_plain": coverage,
                            "coverage_90_printed": printed,
                            "printed_width": width}).round(3).to_string())
        print("(plain: share +- sqrt((z se)^2 + off-domain error^2); printed: widened to every "
              "method's estimate when the domain check fails, as audit-followers prints it)")
        drift = shipped.groupby(["held_out", "size"])["drift"].agg(
            ["median", lambda d: (d > 0.15).mean()]).rename(
            columns={"<lambda_0>": "share_failing_check"})
        print("\nDomain check on the held-out audiences (excess Hellinger distance):")
        print(drift.round(3).to_string())


if __name__ == "__main__":
    raise SystemExit(main())
