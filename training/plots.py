"""Cheap diagnostic plots logged with every training run (matplotlib Agg backend, no display).

- risk calibration curve (observed bought-followers rate vs predicted probability);
- SHAP summary of the conversion model (shap.summary_plot of exact TreeSHAP values from
  LightGBM's pred_contrib, on a sample of test rows);
- ROI-captured (gain) curve: share of the oracle's ROI captured by the top k per campaign, for
  the model and the baselines;
- interval coverage: measured coverage of the conversion interval by predicted-mean bin, and of
  the fake-share interval, against the nominal level.
"""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from training import metrics  # noqa: E402
from training.evaluation import baseline_scores, ranking_score  # noqa: E402

SHAP_SAMPLE = 500
CURVE_KS = (1, 2, 3, 5, 10, 15, 20)


def calibration_figure(y_true, p, n_bins: int = 10):
    table = metrics.calibration_table(y_true, p, n_bins)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(table["mean_predicted"], table["observed_rate"], "o-", label="risk model")
    ax.set_xlabel("predicted P(bought followers)")
    ax.set_ylabel("observed rate")
    ax.set_title("Fake-follower risk calibration (held-out audits)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def shap_summary_figure(booster, X: pd.DataFrame, seed: int = 0, max_display: int = 15):
    with warnings.catch_warnings():
        # shap is heavy (numba, its own plotting stack) and only this plot uses it: imported
        # here, once per training run. shap 0.51 registers colormaps with matplotlib calls
        # deprecated in 3.10.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    sample = X.sample(min(SHAP_SAMPLE, len(X)), random_state=seed) if len(X) else X
    contrib = booster.predict(sample.to_numpy(dtype="float64"), pred_contrib=True,
                              num_threads=1)
    plt.figure()  # shap draws on the current figure: never on another plot's
    shap.summary_plot(contrib[:, :-1], sample, show=False, max_display=max_display,
                      plot_size=(7, 6))
    fig = plt.gcf()
    fig.suptitle("Conversion model: SHAP (log expected conversions)")
    fig.tight_layout()
    return fig


def roi_curve_figure(test: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    groups = test["campaign_id"].to_numpy(dtype=object)
    if "true_roi" not in test.columns:
        ax.text(0.5, 0.5, "no truth: ROI captured needs a generated world", ha="center")
        return fig
    truth = test["true_roi"].to_numpy(dtype="float64")
    rankings = {"model": test["predicted_roi"].to_numpy(dtype="float64")}
    rankings.update({f"by {name}": roi for name, (_, roi) in baseline_scores(test).items()})
    for name, score in rankings.items():
        curve = metrics.roi_captured_curve(truth, ranking_score(score), groups, CURVE_KS)
        ax.plot(list(curve), list(curve.values()), "o-", label=name)
    ax.set_xlabel("shortlist size k per campaign")
    ax.set_ylabel("share of the oracle's ROI captured")
    ax.set_ylim(0, 1.05)
    ax.set_title("ROI captured vs oracle (test campaigns)")
    ax.legend()
    fig.tight_layout()
    return fig


def coverage_figure(test: pd.DataFrame, risk_test: pd.DataFrame | None, nominal: float,
                    n_bins: int = 5):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    mean = test["expected_conversions"].to_numpy(dtype="float64")
    inside = ((test["conversions"] >= test["expected_conversions_low"])
              & (test["conversions"] <= test["expected_conversions_high"])).to_numpy()
    edges = np.unique(np.quantile(mean, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": bins, "inside": inside, "mean": mean})
    by_bin = frame.groupby("bin").agg(coverage=("inside", "mean"), mean=("mean", "median"))
    axes[0].bar(range(len(by_bin)), by_bin["coverage"])
    axes[0].axhline(nominal, color="red", linestyle="--", label=f"nominal {nominal:.0%}")
    axes[0].set_xticks(range(len(by_bin)), [f"{m:.2g}" for m in by_bin["mean"]])
    axes[0].set_xlabel("median expected conversions of the bin")
    axes[0].set_ylabel("coverage")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Conversion interval coverage (test)")
    axes[0].legend(loc="lower right")
    if risk_test is not None and not risk_test.empty and "fake_share_low" in risk_test:
        labelled = risk_test[risk_test["fake_follower_share"].notna()]
        y = labelled["fake_follower_share"].to_numpy(dtype="float64")
        covered = metrics.interval_coverage(y, labelled["fake_share_low"],
                                            labelled["fake_share_high"])
        axes[1].bar(["fake share"], [covered])
        axes[1].axhline(nominal, color="red", linestyle="--")
        axes[1].set_ylim(0, 1.05)
        axes[1].set_title("Fake-share interval coverage (held-out audits)")
    else:
        axes[1].text(0.5, 0.5, "no audited creators held out", ha="center")
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)
