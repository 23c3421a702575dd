"""Conversion figures on a stress suite of generated worlds, next to the baselines.

For every world of data.synthetic.assumptions.STRESS_WORLDS (the calibrated one and worlds that
break its assumptions), generates it, trains the bundle by the validation protocol (time split)
and measures it on every candidate of the test campaigns, hired or not (training.stress):
NDCG@10 of predicted vs true ROI, top-10 ROI captured vs the oracle, Spearman of expected vs
true conversions, level ratio, 90% interval coverage overall and in the worst quintile of the
prediction; the followers / engagement-rate / tier-rule baselines beside them; the mean over
the worlds; and the goals of issue 15.

    python scripts/stress_report.py                        # every world, 3,000 creators each
    python scripts/stress_report.py --worlds calibrated,combined --creators 1000 --campaigns 150
    python scripts/stress_report.py --set objective=poisson --set conversion_num_leaves=15
    python scripts/stress_report.py --markdown             # the table for training/README.md
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from scripts.quality_report import _fmt  # noqa: E402  (one number format for the reports)

console = Console(width=200)

BASELINES = ("followers", "engagement_rate", "tier_rule")
# (figure, header, goal on the suite average)
FIGURES = (
    ("candidate_ndcg_at_10_roi", "NDCG@10 ROI", ">= 0.86"),
    ("candidate_roi_captured_at_10", "top-10 capture", ">= 0.85"),
    ("candidate_spearman", "Spearman conv.", ">= 0.85"),
)
MODEL_ONLY = (
    ("candidate_level_ratio", "level ratio", "0.9-1.1"),
    ("candidate_level_ratio_not_hired", "level, not hired", ""),
    ("candidate_interval_coverage", "coverage 90%", "0.85-0.95 each"),
    ("candidate_interval_coverage_worst_quintile", "worst quintile", ""),
)


def _parse_overrides(pairs: list[str]) -> dict:
    from training.protocol import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set expects NAME=VALUE with NAME a TrainConfig field "
                             f"({', '.join(fields)}); got {pair!r}")
        default = getattr(TrainConfig(), key)
        if isinstance(default, bool):
            out[key] = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            out[key] = int(raw)
        elif isinstance(default, float):
            out[key] = float(raw)
        else:
            out[key] = None if raw == "None" else raw
    return out


def _cells(m: dict, key: str) -> list[str]:
    suffix = key.removeprefix("candidate_")
    return [_fmt(m.get(key))] + [_fmt(m.get(f"baseline_{b}_candidate_{suffix}"))
                                 for b in BASELINES]


def rich_table(rows: list[tuple[str, dict]]) -> Table:
    table = Table(title="Stress suite: candidates of the test campaigns (model | followers | "
                  "engagement rate | tier rule)")
    table.add_column("world")
    for _, header, _ in FIGURES:
        table.add_column(header, justify="right")
    for _, header, _ in MODEL_ONLY:
        table.add_column(header, justify="right")
    for name, m in rows:
        table.add_row(name, *(" | ".join(_cells(m, key)) for key, _, _ in FIGURES),
                      *(_fmt(m.get(key)) for key, _, _ in MODEL_ONLY))
    table.add_row("goal", *(goal for _, _, goal in FIGURES), *(goal for _, _, goal in MODEL_ONLY))
    return table


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    head = (["world"] + [f"{h} (model / fol. / ER / tier)" for _, h, _ in FIGURES]
            + [h for _, h, _ in MODEL_ONLY])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows:
        lines.append("| " + " | ".join([name] + [" / ".join(_cells(m, k)) for k, _, _ in FIGURES]
                                       + [_fmt(m.get(k)) for k, _, _ in MODEL_ONLY]) + " |")
    lines.append("| goal | " + " | ".join(g for _, _, g in FIGURES + MODEL_ONLY) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default="all",
                        help="comma-separated names of data.synthetic.assumptions.STRESS_WORLDS")
    parser.add_argument("--creators", type=int, default=3_000)
    parser.add_argument("--campaigns", type=int, default=400)
    parser.add_argument("--posts-per-creator", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="TrainConfig override (repeatable), to compare model choices")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args()

    from data.synthetic.assumptions import STRESS_WORLDS, assumptions_named
    from training.follower_accounts import train_fast_follower_classifier
    from training.protocol import TrainConfig
    from training.stress import SuiteSize, run_stress_suite, suite_average

    try:
        worlds = (list(STRESS_WORLDS.values()) if args.worlds == "all"
                  else [assumptions_named(n.strip()) for n in args.worlds.split(",")])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    config = TrainConfig(seed=args.seed, **_parse_overrides(args.set))
    size = SuiteSize(args.creators, args.campaigns, args.posts_per_creator, args.seed)
    started = time.perf_counter()
    with console.status("Follower-account classifier (fast, generated accounts)"):
        classifier, info = train_fast_follower_classifier(seed=args.seed)
    with console.status("Stress suite") as status:
        results = run_stress_suite(worlds, size, config, classifier, info,
                                   progress=lambda name: status.update(f"World: {name}"))
    elapsed = time.perf_counter() - started
    rows = [(r.name, r.metrics) for r in results] + [("mean", suite_average(results))]
    console.print(f"{len(worlds)} worlds of {size.creators:,} creators and {size.campaigns} "
                  f"campaigns (seed {size.seed}); config overrides: {args.set or 'none'}")
    for r in results:
        console.print(f"  {r.name}: {r.description} ({int(r.metrics.get('candidate_n', 0)):,} "
                      f"candidates in {int(r.metrics.get('candidate_n_campaigns', 0))} test "
                      f"campaigns, {r.seconds:.0f} s)")
    console.print(rich_table(rows))
    if args.markdown:
        print(markdown_table(rows))
    console.print(f"Total {elapsed:.0f} s (2-core host shared with other jobs: noisy).")


if __name__ == "__main__":
    main()
