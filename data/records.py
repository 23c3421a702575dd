"""Contract tables -> JSON-ready records (the inverse of validating records into tables).

The request bodies of the service (serving.payloads) and the input of the registered pyfunc
model (store.pyfunc) are contract rows as plain dicts: dates as YYYY-MM-DD, timestamps as
YYYY-MM-DDTHH:MM:SS, missing values omitted.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from data.contract import TABLES


def json_value(value, column_type: str):
    """One contract value as JSON (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if column_type == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if column_type == "ts":
        return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, np.generic):
        return value.item()
    return value


def records(table: str, frame: pd.DataFrame, drop: Sequence[str] = ()) -> list[dict]:
    """Rows of a contract table as JSON-ready dicts (missing values omitted)."""
    columns = [c for c in TABLES[table].columns if c.name in frame.columns and c.name not in drop]
    values = {c.name: frame[c.name].astype(object).tolist() for c in columns}
    out = []
    for i in range(len(frame)):
        row = {}
        for column in columns:
            value = json_value(values[column.name][i], column.type)
            if value is not None:
                row[column.name] = value
        out.append(row)
    return out


def table_records(tables: dict[str, pd.DataFrame]) -> dict[str, list[dict]]:
    """Every contract table of `tables` as records, by table name (unknown tables left out)."""
    return {name: records(name, frame) for name, frame in tables.items()
            if name in TABLES and frame is not None}
