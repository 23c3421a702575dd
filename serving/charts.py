"""Server-side charts of the brand manager's page and reports: matplotlib figures as inline SVG
(text kept as text, so the page's font and screen readers see it), each with a text alternative.

Figures are built with matplotlib's object API (no pyplot state), so concurrent requests never
share a figure.
"""
from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass

import numpy as np
from matplotlib import rcParams
from matplotlib.figure import Figure

from serving.shortlist import WaterfallStep

rcParams["svg.fonttype"] = "none"  # text as <text>, not paths
# Fixed ids: the same chart gives the same SVG (stable pages, no random ids).
rcParams["svg.hashsalt"] = "creatorscore"

UP, DOWN, BASE, MARK = "#2e7d32", "#c62828", "#546e7a", "#1565c0"


@dataclass(frozen=True)
class Chart:
    svg: str
    alt: str  # the chart in words (aria-label and the text below it)


def _svg(figure: Figure, alt: str) -> Chart:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prologue and doctype: inline SVG
    # Drop the RDF metadata (creation date, licence URLs): stable, self-contained pages.
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(alt)}" ', 1)
    return Chart(svg=text, alt=alt)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def waterfall_chart(steps: list[WaterfallStep], prediction: float) -> Chart:
    """Horizontal waterfall of expected conversions: the base value, each step's change, the
    prediction."""
    figure = Figure(figsize=(7.0, 0.45 * (len(steps) + 1) + 0.8))
    axes = figure.subplots()
    labels = [s.label for s in steps] + ["Expected conversions (prediction)"]
    for i, step in enumerate(steps):
        if step.multiplier is None:
            axes.barh(i, step.after, color=BASE)
            axes.text(step.after, i, f" {step.after:.2f}", va="center", fontsize=8)
            continue
        left, width = min(step.before, step.after), abs(step.delta)
        axes.barh(i, width, left=left, color=UP if step.delta >= 0 else DOWN)
        axes.text(max(step.before, step.after), i,
                  f" x{step.multiplier:.2f} ({step.delta:+.2f})", va="center", fontsize=8)
    axes.barh(len(steps), prediction, color=MARK)
    axes.text(prediction, len(steps), f" {prediction:.2f}", va="center", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("expected conversions")
    axes.margins(x=0.25)
    axes.spines[["top", "right"]].set_visible(False)
    parts = [f"base value {steps[0].after:.2f}"] + [
        f"{s.label} x{s.multiplier:.2f} ({s.delta:+.2f})" for s in steps[1:]]
    return _svg(figure, "Waterfall of expected conversions: " + ", ".join(parts)
                + f"; prediction {prediction:.2f}.")


def growth_chart(growth: dict) -> Chart:
    """Followers over time with the largest step marked."""
    figure = Figure(figsize=(7.0, 2.6))
    axes = figure.subplots()
    if len(growth["dates"]) < 2:
        axes.text(0.5, 0.5, "no follower history", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set_axis_off()
        return _svg(figure, "No follower history was given for this creator.")
    axes.plot(growth["dates"], growth["followers"], color=BASE, marker=".", markersize=3)
    if growth["step_date"] is not None:
        axes.axvline(growth["step_date"], color=DOWN, linestyle="--", linewidth=1)
        axes.annotate(f"step +{100 * growth['step_size']:.1f}%", (growth["step_date"], 1.0),
                      xycoords=("data", "axes fraction"), xytext=(3, -12),
                      textcoords="offset points", color=DOWN, fontsize=8)
    axes.set_ylabel("followers")
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    first, last = growth["followers"][0], growth["followers"][-1]
    return _svg(figure, f"Followers from {first:,.0f} ({growth['dates'][0]:%Y-%m-%d}) to "
                f"{last:,.0f} ({growth['dates'][-1]:%Y-%m-%d}); {growth['words']}.")


def percentile_chart(reference: np.ndarray, value: float | None,
                     percentile: float | None) -> Chart:
    """The cohort's engagement rates (histogram) with the creator's rate marked."""
    figure = Figure(figsize=(7.0, 2.4))
    axes = figure.subplots()
    finite = reference[np.isfinite(reference)]
    if finite.size:
        axes.hist(100 * finite, bins=min(30, max(5, finite.size // 5)), color="#b0bec5")
    shown = "unknown" if value is None else f"{100 * value:.2f}%"
    rank = "unknown" if percentile is None else f"{percentile:.0f}"
    if value is not None:
        axes.axvline(100 * value, color=MARK, linewidth=2)
        axes.annotate(f"this creator: {shown} (percentile {rank})", (100 * value, 1.0),
                      xycoords=("data", "axes fraction"), xytext=(4, -12),
                      textcoords="offset points", color=MARK, fontsize=8)
    axes.set_xlabel("engagement rate (median per post, %)")
    axes.set_ylabel("creators in cohort")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, f"Engagement rate {shown}, percentile {rank} among {finite.size} "
                "creators of the same platform and tier.")


def share_bars(title: str, shares: dict[str, float | None], unit: str = "%") -> Chart:
    """Horizontal bars of shares in [0, 1] (audience classes, top niches)."""
    items = [(name, value) for name, value in shares.items() if value is not None]
    figure = Figure(figsize=(7.0, 0.35 * max(len(items), 1) + 0.7))
    axes = figure.subplots()
    if not items:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return _svg(figure, f"{title}: no data.")
    names = [name.replace("_", " ") for name, _ in items]
    values = [100 * value for _, value in items]
    axes.barh(range(len(items)), values, color=MARK)
    for i, value in enumerate(values):
        axes.text(value, i, f" {value:.0f}{unit}", va="center", fontsize=8)
    axes.set_yticks(range(len(items)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(100.0, max(values) * 1.15) if unit == "%" else max(values) * 1.2)
    axes.set_title(title, fontsize=9, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, f"{title}: " + ", ".join(
        f"{n} {v:.0f}{unit}" for n, v in zip(names, values, strict=True)) + ".")


def interval_geometry(point: float | None, low: float | None, high: float | None,
                      lo: float, hi: float, width: int = 120) -> dict | None:
    """Pixel positions of a point with its interval bar on a shared [lo, hi] axis (the
    table's inline SVG cells), or None when the point is unknown."""
    if point is None or not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return None

    def x(value):
        value = min(max(value, lo), hi)
        return round(4 + (width - 8) * (value - lo) / (hi - lo), 1)

    return {"x": x(point), "x_low": x(low if low is not None else point),
            "x_high": x(high if high is not None else point), "width": width}
