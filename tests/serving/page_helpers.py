"""Reading the brand manager's page as data (rows' data attributes) and zipping a world."""
from __future__ import annotations

import io
import math
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from data.io import write_dataset


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.by_id: dict[str, dict] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "candidate" in (attrs.get("class") or "").split():
            self.rows.append(attrs)
        element_id = attrs.get("id")
        if element_id:
            self.by_id[element_id] = attrs


def page_rows(html: str) -> tuple[list[dict], dict[str, dict]]:
    """The shortlist rows' attributes (in page order) and every element with an id."""
    parser = _Rows()
    parser.feed(html)
    return parser.rows, parser.by_id


def number(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def world_zip(tables: dict[str, pd.DataFrame], directory: Path) -> bytes:
    """The world's contract tables as CSV files in a zip (what a brand manager uploads)."""
    write_dataset({k: v for k, v in tables.items() if k != "authenticity_labels"}, directory)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.glob("*.csv")):
            archive.write(path, f"world/{path.name}")
    return buffer.getvalue()
