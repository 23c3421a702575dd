"""What the brand manager's pages show: template contexts built from the engine's answers
(serving.shortlist) and the charts (serving.charts), rendered with the package's Jinja2
templates. Used by the web app and by `creatorscore rank --out FILE.html` (the same page,
static)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

from serving.charts import (
    growth_chart,
    interval_geometry,
    percentile_chart,
    share_bars,
    waterfall_chart,
)
from serving.shortlist import (
    OBJECTIVE_WORDS,
    Shortlist,
    cohort_engagement,
    conversion_waterfall,
    follower_growth,
    score_creator,
)

TEMPLATES = Path(__file__).parent / "templates"
INTERVAL_COLUMNS = ("fake_share", "conversions", "roi")
MODEL_TITLES = {"bought_followers": "Bought-followers probability",
                "fake_share": "Estimated fake-follower share",
                "conversions": "Expected conversions"}


def _missing(value) -> bool:
    return (value is None or isinstance(value, Undefined)
            or (isinstance(value, float) and not math.isfinite(value)))


def _number(value, digits: int = 2) -> str:
    if _missing(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _money(value) -> str:
    return _number(value, 0)


def _percent(value, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{100 * value:.{digits}f}%"


def _raw(value) -> str:
    """A number as a data attribute (sorting, tests): repr precision, '' when unknown."""
    return "" if _missing(value) else repr(float(value))


def top_reasons(model: dict, n: int = 8) -> list[str]:
    """A model's `n` largest contributions (across families), in the API's words."""
    items = [item for family in model["families"] for item in family["contributions"]]
    items.sort(key=lambda item: abs(item["contribution"]), reverse=True)
    return [item["text"] for item in items[:n]]


environment = Environment(loader=FileSystemLoader(TEMPLATES),
                          autoescape=select_autoescape(("html",)), trim_blocks=True,
                          lstrip_blocks=True)
environment.filters.update(number=_number, money=_money, percent=_percent, raw=_raw)
environment.globals.update(objective_words=OBJECTIVE_WORDS, model_titles=MODEL_TITLES,
                           top_reasons=top_reasons)


def render(template: str, **context) -> str:
    return environment.get_template(template).render(**context)


def _axis(rows, name: str) -> tuple[float, float]:
    values = [v for row in rows for v in (getattr(row, name)["low"], getattr(row, name)["high"],
                                           getattr(row, name)["estimate"]) if v is not None]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return (0.0, 1.0)
    lo, hi = min(min(values), 0.0), max(values)
    return (lo, hi if hi > lo else lo + 1.0)


def shortlist_context(shortlist: Shortlist) -> dict:
    rows = shortlist.rows
    axes = {name: _axis(rows, name) for name in INTERVAL_COLUMNS}
    bars = [{name: interval_geometry(getattr(row, name)["estimate"], getattr(row, name)["low"],
                                     getattr(row, name)["high"], *axes[name])
             for name in INTERVAL_COLUMNS} for row in rows]
    selection = shortlist.selection
    spent_share = (selection["spent"] / shortlist.budget) if shortlist.budget > 0 else 0.0
    return {"shortlist": shortlist, "rows": list(zip(rows, bars, strict=True)), "axes": axes,
            "selection": selection, "spent_share": min(spent_share, 1.0),
            "campaign": shortlist.campaign,
            "verdict_counts": {v: sum(r.verdict == v for r in rows)
                               for v in ("ok", "check", "avoid", "unknown")}}


def creator_detail(engine, source, request: Mapping, shortlist: Shortlist,
                   creator_id: str) -> dict:
    """Everything the creator view shows: the /score answer (explained with every family),
    the conversion waterfall, the follower growth with its step, the engagement rate in its
    cohort, the audience classes and top niches."""
    score = score_creator(engine, request, creator_id)
    row = next((r for r in shortlist.rows if r.creator_id == creator_id), None)
    charts = {}
    waterfall = conversion_waterfall(score)
    if waterfall is not None:
        charts["waterfall"] = waterfall_chart(*waterfall)
    evidence = {c["name"]: c["evidence"] for c in score["authenticity"]["components"]}
    growth = follower_growth(source.creator_rows(creator_id),
                             request["campaign"].get("start_date"),
                             evidence.get("bought_followers_risk", {}))
    charts["growth"] = growth_chart(growth)
    engagement = score["engagement"]
    charts["engagement"] = percentile_chart(np.asarray(cohort_engagement(engine, score)),
                                            engagement["engagement_rate"],
                                            engagement["percentile"])
    charts["audience"] = share_bars("Audience sample by account class",
                                    score["authenticity"]["audience_classes"])
    charts["niches"] = share_bars("Top niches (share of the creator's content)",
                                  {n["niche"]: n["score"] for n in score["niche"]["top_niches"]})
    return {"creator_id": creator_id, "score": score, "row": row, "charts": charts,
            "waterfall": waterfall, "growth": growth,
            "profile": shortlist.profiles.get(creator_id, {})}
