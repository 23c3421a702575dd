"""Every quality figure of creatorscore next to its goal or published figure.

Generates a world (or reads a dataset directory with a truth/ folder), trains the bundle by the
validation protocol of training.protocol (time split: latest campaigns are the test set) and
prints: conversion metrics of the model against the brand managers' baselines, ROI captured
against the oracle, interval coverage, fake-follower risk figures and (unless --no-followers)
the follower-account classifier benchmarks from training.follower_accounts.

    python scripts/quality_report.py                       # 5,000 creators, 1,000 campaigns
    python scripts/quality_report.py --creators 2000 --campaigns 300 --fast-follower
    python scripts/quality_report.py --data DIR             # a dataset written by `generate`
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console(width=150)

# (metric, label, goal text)
CONVERSION_ROWS = (
    ("poisson_deviance", "Poisson deviance (lower is better)", "below every baseline"),
    ("spearman", "Spearman, predicted vs realised conversions", "above every baseline"),
    ("ndcg_at_10", "NDCG@10 within campaign (gain = conversions)", "above every baseline"),
    ("ndcg_at_10_roi", "NDCG@10 within campaign (gain = realised ROI)", "above every baseline"),
    ("roi_captured_at_10", "ROI captured vs oracle, top 10 per campaign", ">= 0.80"),
    ("roi_captured_at_3", "ROI captured vs oracle, top 3 per campaign", "(stricter view)"),
    ("level_ratio", "Level: sum predicted / sum realised conversions", "0.9-1.1"),
    # Every shortlisted candidate of the test campaigns, hired or not (training.stress).
    ("candidate_ndcg_at_10_roi", "Candidates: NDCG@10, predicted vs true ROI", ">= 0.86"),
    ("candidate_roi_captured_at_10", "Candidates: true ROI of top 10 / oracle's", ">= 0.85"),
    ("candidate_spearman", "Candidates: Spearman, expected vs true conversions", ">= 0.85"),
    ("candidate_level_ratio", "Candidates: sum predicted / sum true conversions", "0.9-1.1"),
    ("candidate_interval_coverage", "Candidates: 90% interval coverage", "0.85-0.95"),
)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3f}"


def _world(args):
    from data.loader import load_dataset, validate_tables
    from data.synthetic.truth import load_truth

    if args.data:
        return load_dataset(args.data), load_truth(args.data)
    from data.synthetic import generate_world

    with console.status(f"Generating {args.creators:,} creators, {args.campaigns:,} campaigns"):
        world = generate_world(args.creators, args.campaigns, seed=args.seed)
    return validate_tables(world.tables), world.truth


def _follower_classifier(args):
    if not args.fast_follower:
        return None, None
    from training.follower_accounts import train_fast_follower_classifier

    return train_fast_follower_classifier(seed=args.seed)


def conversion_table(m: dict) -> Table:
    table = Table(title="Conversion / ROI on the test campaigns (latest, time split)")
    for column in ("metric", "model", "by followers", "by engagement rate", "by tier rule",
                   "goal"):
        table.add_column(column, justify="left" if column in ("metric", "goal") else "right")
    for key, label, goal in CONVERSION_ROWS:
        table.add_row(label, _fmt(m.get(key)),
                      *(_fmt(m.get(f"baseline_{b}_{key}"))
                        for b in ("followers", "engagement_rate", "tier_rule")), goal)
    table.add_row("Oracle (truth expectation): Poisson deviance / NDCG@10",
                  f"{_fmt(m.get('oracle_poisson_deviance'))} / {_fmt(m.get('oracle_ndcg_at_10'))}",
                  "", "", "", "floor / ceiling")
    ratio = m.get("roi_captured_vs_followers")
    table.add_row("ROI captured, model / by-followers baseline", _fmt(ratio), "", "", "",
                  ">= 1.5")
    return table


def coverage_table(m: dict, nominal: float) -> Table:
    table = Table(title=f"Interval coverage (nominal {nominal:.0%})")
    table.add_column("interval")
    table.add_column("measured", justify="right")
    table.add_column("mean width", justify="right")
    table.add_column("where measured")
    rows = (
        ("expected conversions", "conversion_interval_coverage", "conversion_interval_width",
         "test campaigns"),
        ("expected conversions", "calibration_conversion_interval_coverage", None,
         "calibration campaigns"),
        ("expected conversions, worst quintile of the prediction",
         "conversion_interval_coverage_worst_quintile", None, "test campaigns"),
        ("expected revenue", "revenue_interval_coverage", None, "test campaigns"),
        ("predicted ROI", "roi_interval_coverage", None, "test campaigns"),
        ("fake share (model)", "fake_share_interval_coverage", "fake_share_interval_width",
         "held-out audits"),
        ("fake share (audience sample only)", "fake_share_sample_only_coverage", None,
         "held-out audits with a sample"),
    )
    for label, key, width, where in rows:
        table.add_row(label, _fmt(m.get(key)), _fmt(m.get(width)) if width else "", where)
    return table


def risk_table(m: dict) -> Table:
    table = Table(title="Fake-follower risk (held-out audited creators)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("reference")
    for key, label, reference in (
        ("risk_auc", "Bought-followers ROC AUC", "> 0.5 = better than chance"),
        ("risk_brier", "Bought-followers Brier score", f"base rate "
         f"{_fmt(m.get('risk_bought_rate'))}: constant forecast "
         f"{_fmt(m.get('risk_bought_rate', math.nan) * (1 - m.get('risk_bought_rate', 0)))}"),
        ("risk_ece", "Expected calibration error", "0 = calibrated"),
        ("fake_share_mae", "Fake share MAE (model)", "SRF audit: +/- ~3 pts by cutoff"),
        ("fake_share_mae_with_sample", "Fake share MAE, creators with a sample (model)", ""),
        ("fake_share_sample_only_mae", "Fake share MAE, audience-sample estimate alone", ""),
        ("risk_n_test_creators", "Held-out audited creators", ""),
    ):
        table.add_row(label, _fmt(m.get(key)), reference)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="dataset directory (with truth/)")
    parser.add_argument("--creators", type=int, default=5_000)
    parser.add_argument("--campaigns", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fast-follower", action="store_true",
                        help="train a small follower classifier on generated accounts instead "
                        "of the default one (minutes faster; follower figures not reported)")
    parser.add_argument("--no-followers", action="store_true",
                        help="skip the follower-account benchmarks")
    args = parser.parse_args()

    from training.protocol import TrainConfig, train_and_evaluate

    ds, truth = _world(args)
    classifier, info = _follower_classifier(args)
    started = time.perf_counter()
    with console.status("Training and evaluating") as status:
        result = train_and_evaluate(ds, TrainConfig(seed=args.seed, num_threads=args.threads),
                                    truth, classifier, info,
                                    progress=lambda s: status.update(f"Training: {s}"))
    elapsed = time.perf_counter() - started
    m = result.metrics
    console.print(f"{len(ds.creators):,} creators, {int(m['n_train_collaborations']):,} train / "
                  f"{int(m['n_calibration_collaborations']):,} calibration / "
                  f"{int(m['n_test_collaborations']):,} test collaborations "
                  f"({int(m['n_test_campaigns'])} test campaigns); trained in {elapsed:.0f} s")
    console.print(conversion_table(m))
    console.print(coverage_table(m, 1 - result.config.alpha))
    console.print(risk_table(m))
    if not args.no_followers:
        from training.follower_accounts import benchmark_follower_classifier

        with console.status("Follower-account benchmarks (published protocols)"):
            bench = benchmark_follower_classifier(seed=args.seed)
        table = Table(title="Follower-account classifier vs published figures")
        for column in ("benchmark", "protocol", "metric", "ours", "published", "source"):
            table.add_column(column)
        for row in bench.itertuples():
            table.add_row(str(row.benchmark), str(row.protocol), str(row.metric),
                          _fmt(row.ours), _fmt(row.published), str(row.published_source))
        console.print(table)


if __name__ == "__main__":
    main()
