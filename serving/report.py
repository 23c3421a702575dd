"""The shortlist as files: CSV (every candidate, full precision), a one-page PDF report
(matplotlib's PDF backend) and the page itself as static HTML (serving.app's templates, with
the reasons of the explained creators). Written by the page's exports and by
`creatorscore rank --out FILE.{csv,html,pdf}`.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from matplotlib import rcParams
from matplotlib.figure import Figure

from serving.shortlist import OBJECTIVE_WORDS, Shortlist

rcParams["pdf.fonttype"] = 42  # TrueType text: searchable and extractable (pdftotext)
REPORT_FORMATS = (".csv", ".html", ".pdf")
PDF_ROWS = 24  # rows that fit one A4 landscape page; the CSV has every candidate

CSV_COLUMNS = (
    "rank", "creator_id", "platform", "tier", "selected", "verdict", "verdict_reason",
    "audience_quality", "fake_share", "fake_share_low", "fake_share_high", "niche_fit",
    "expected_conversions", "expected_conversions_low", "expected_conversions_high",
    "expected_revenue", "expected_revenue_low", "expected_revenue_high",
    "predicted_roi", "predicted_roi_low", "predicted_roi_high", "cost", "objective_value",
)


def _cell(value) -> object:
    return "" if value is None else value


def shortlist_csv(shortlist: Shortlist) -> str:
    """Every candidate in rank order; numbers at full precision, empty when unknown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in shortlist.rows:
        intervals = []
        for interval in (row.fake_share, None, row.conversions, row.revenue, row.roi):
            if interval is None:
                intervals.append(row.niche_fit)
                continue
            intervals += [interval["estimate"], interval["low"], interval["high"]]
        writer.writerow([_cell(v) for v in (
            row.rank, row.creator_id, row.platform, row.tier, str(row.selected).lower(),
            row.verdict, row.verdict_reason, row.audience_quality, *intervals, row.cost,
            row.objective_value)])
    return buffer.getvalue()


def _fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _interval_text(interval: dict, digits: int) -> str:
    return (f"{_fmt(interval['estimate'], digits)} ({_fmt(interval['low'], digits)}-"
            f"{_fmt(interval['high'], digits)})")


def shortlist_pdf(shortlist: Shortlist) -> bytes:
    """A one-page A4 landscape report: the campaign, the selection against the budget and the
    ranked candidates (the first PDF_ROWS; the CSV has all)."""
    campaign, selection = shortlist.campaign, shortlist.selection
    rows = shortlist.rows
    figure = Figure(figsize=(11.69, 8.27))
    figure.text(0.04, 0.95, f"Creator shortlist: campaign {campaign['campaign_id']} "
                f"({campaign.get('brand', '')}, {campaign.get('niche', '')})",
                fontsize=15, weight="bold")
    figure.text(0.04, 0.915, f"Ranked by {OBJECTIVE_WORDS[shortlist.objective]}. Product "
                f"price {_fmt(campaign.get('product_price'))}; target countries "
                f"{campaign.get('target_countries') or 'any'}.", fontsize=9)
    figure.text(0.04, 0.885, (
        f"Selected {len(selection['creator_ids'])} of {len(rows)} candidates; spend "
        f"{_fmt(selection['spent'], 0)} of budget {_fmt(selection['budget'], 0)}; expected "
        f"conversions {_fmt(selection['expected_conversions'], 1)}, revenue "
        f"{_fmt(selection['expected_revenue'], 0)}, ROI {_fmt(selection['expected_roi'])} "
        f"({selection['method']})."), fontsize=10, weight="bold")
    header = ["#", "creator", "platform", "tier", "verdict", "quality", "fake followers (90%)",
              "niche fit", "conversions (90%)", "ROI (90%)", "cost", "selected"]
    cells = []
    for row in rows[:PDF_ROWS]:
        share = row.fake_share
        cells.append([
            str(row.rank), row.creator_id, row.platform or "", row.tier or "", row.verdict,
            _fmt(row.audience_quality, 0),
            "n/a" if share["estimate"] is None else
            f"{100 * share['estimate']:.0f}% ({100 * (share['low'] or 0):.0f}-"
            f"{100 * (share['high'] or 0):.0f}%)",
            "n/a" if row.niche_fit is None else f"{100 * row.niche_fit:.0f}%",
            _interval_text(row.conversions, 1), _interval_text(row.roi, 2),
            _fmt(row.cost, 0), "yes" if row.selected else ""])
    axes = figure.add_axes((0.04, 0.08, 0.92, 0.78))
    axes.set_axis_off()
    if cells:
        table = axes.table(cellText=cells, colLabels=header, loc="upper center",
                           cellLoc="left", colLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7.5)
        table.auto_set_column_width(list(range(len(header))))
        for (r, _), cell in table.get_celld().items():
            cell.set_height(0.032)
            if r == 0:
                cell.set_facecolor("#eceff1")
            elif rows[r - 1].selected:
                cell.set_facecolor("#e8f5e9")
    more = len(rows) - len(cells)
    provenance = shortlist.answer["provenance"]
    figure.text(0.04, 0.035, (f"{more} more candidates in the CSV export. " if more > 0 else "")
                + "Intervals are 90% intervals; selected rows are highlighted. Model "
                f"{provenance['model_version']}, features {provenance['feature_version']}.",
                fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf", metadata={
        "Title": f"creatorscore shortlist {campaign['campaign_id']}"})
    return buffer.getvalue()


def shortlist_html(shortlist: Shortlist, details: list[dict]) -> str:
    """The shortlist page as one static, self-contained HTML file, with the creator sections
    in `details` (serving.app.views.creator_detail)."""
    from serving.app.views import render, shortlist_context

    return render("shortlist.html", static=True, details=details,
                  provenance=shortlist.answer["provenance"], **shortlist_context(shortlist))


def check_report_path(out: Path) -> Path:
    """`out`, or ValueError when its extension is not a report format."""
    if out.suffix.lower() not in REPORT_FORMATS:
        raise ValueError(f"--out {out.name!r}: unknown report format {out.suffix!r}; expected "
                         f"one of {list(REPORT_FORMATS)}")
    return out


def write_report(shortlist: Shortlist, out: Path, details: list[dict] | None = None) -> None:
    """Write the shortlist to `out`; its extension (REPORT_FORMATS) chooses the format."""
    suffix = check_report_path(out).suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        out.write_text(shortlist_csv(shortlist), encoding="utf-8")
    elif suffix == ".pdf":
        out.write_bytes(shortlist_pdf(shortlist))
    else:
        out.write_text(shortlist_html(shortlist, details or []), encoding="utf-8")
