"""Coercion and validation of contract tables: a pure core that takes raw frames, returns typed ones.

Every problem is collected before failing, so a customer fixes a dataset in one pass. A problem
names the table, the column, the first offending rows (1-based data rows, header excluded) with
their values, and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.contract import PANDAS_DTYPES, TABLES, Column, Table
from data.dataset import Dataset

MAX_EXAMPLES = 5
_TRUE = {"true", "1", "t", "yes", "y", "1.0"}
_FALSE = {"false", "0", "f", "no", "n", "0.0"}


@dataclass(frozen=True)
class Problem:
    table: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    values: tuple = ()
    expected: str = ""
    count: int = 0

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.message}"
        if self.count:
            shown = ", ".join(
                f"row {r} ({v!r})" if v is not _NO_VALUE else f"row {r}"
                for r, v in zip(self.rows, self.values or (_NO_VALUE,) * len(self.rows),
                                strict=False)
            )
            more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            text += f" in {self.count} row(s): {shown}{more}"
        if self.expected:
            text += f"; expected {self.expected}"
        return text

    def to_dict(self) -> dict:
        return {
            "table": self.table, "column": self.column, "message": self.message,
            "rows": list(self.rows), "values": [_jsonable(v) for v in self.values],
            "count": self.count, "expected": self.expected,
        }


_NO_VALUE = object()


def _jsonable(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class ContractError(ValueError):
    """The input does not follow the data contract; `problems` lists every violation found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"{len(self.problems)} problem(s) with the input data "
                 "(rows are 1-based data rows, header excluded):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)

    def add_rows(self, table: str, column: str | None, mask: np.ndarray, values: pd.Series | None,
                 message: str, expected: str = "") -> None:
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        first = positions[:MAX_EXAMPLES]
        shown = tuple(values.iloc[first].tolist()) if values is not None else ()
        self.problems.append(Problem(
            table=table, column=column, message=message, rows=tuple(int(p) + 1 for p in first),
            values=shown, expected=expected, count=int(positions.size),
        ))

    def add(self, table: str, message: str, column: str | None = None, expected: str = "") -> None:
        self.problems.append(Problem(table=table, column=column, message=message,
                                     expected=expected))


def _expected_text(column: Column) -> str:
    kinds = {
        "str": "text", "int": "a whole number", "float": "a number",
        "bool": "true/false or 1/0", "date": "an ISO 8601 date YYYY-MM-DD",
        "ts": "an ISO 8601 timestamp (UTC if no offset)",
    }
    text = kinds[column.type]
    if column.min_value is not None and column.max_value is not None:
        text += f" between {column.min_value:g} and {column.max_value:g}"
    elif column.min_value == 0:
        text += " >= 0"
    return text


def _coerce_str(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind in ("string", "empty"):
        out = raw.astype("str")
        bad = np.zeros(len(raw), dtype=bool)
    else:
        # Numbers are fine as identifiers or text (creator_id 123), containers are not.
        is_container = raw.map(lambda v: isinstance(v, (list, dict, set, tuple))).to_numpy(bool)
        out = raw.where(~is_container).map(lambda v: v if pd.isna(v) else str(v)).astype("str")
        bad = is_container
    out = out.str.strip()
    out = out.mask(out == "")
    return out, bad


def _coerce_number(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64"), np.zeros(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        out = raw.astype("float64")
        return out, np.zeros(len(raw), dtype=bool)
    is_bool_value = raw.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(bool)
    text = raw.where(~is_bool_value)
    out = pd.to_numeric(text.map(lambda v: v.strip() if isinstance(v, str) else v)
                        .replace("", np.nan), errors="coerce").astype("float64")
    present = raw.notna().to_numpy() & ~(raw.map(lambda v: v == "" if isinstance(v, str)
                                                 else False).to_numpy(bool))
    bad = present & out.isna().to_numpy()
    bad |= ~np.isfinite(out.to_numpy()) & out.notna().to_numpy()
    return out.where(~bad), bad


def _coerce_bool(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), np.zeros(len(raw), dtype=bool)

    def parse(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
            return bool(v)
        if isinstance(v, str):
            s = v.strip().lower()
            if s == "":
                return pd.NA
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
        return _NO_VALUE

    parsed = raw.map(parse)
    bad = parsed.map(lambda v: v is _NO_VALUE).to_numpy(bool)
    out = parsed.where(~bad, pd.NA).astype("boolean")
    return out, bad


def _coerce_time(raw: pd.Series, is_date: bool) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        out = raw
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        out = out.astype("datetime64[ns]")
        bad = np.zeros(len(raw), dtype=bool)
    else:
        as_text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
        as_text = as_text.where(~as_text.map(lambda v: isinstance(v, (bool, int, float, list,
                                                                     dict, np.number))
                                             and not (isinstance(v, float) and np.isnan(v))),
                                "\x00invalid")
        as_text = as_text.replace("", np.nan)
        parsed = pd.to_datetime(as_text, errors="coerce", utc=True, format="ISO8601")
        out = parsed.dt.tz_localize(None).astype("datetime64[ns]")
        bad = as_text.notna().to_numpy() & out.isna().to_numpy()
    if is_date:
        out = out.dt.normalize()
    return out, bad


def _coerce_column(table: Table, column: Column, raw: pd.Series,
                   collect: _Collector) -> pd.Series:
    if column.type == "str":
        out, bad = _coerce_str(raw)
    elif column.type in ("int", "float"):
        out, bad = _coerce_number(raw)
        if column.type == "int":
            fractional = out.notna().to_numpy() & (np.mod(out.fillna(0).to_numpy(), 1) != 0)
            bad = bad | fractional
    elif column.type == "bool":
        out, bad = _coerce_bool(raw)
    else:
        out, bad = _coerce_time(raw, is_date=column.type == "date")
    if bad.any():
        collect.add_rows(table.name, column.name, bad, raw, "wrong type",
                         _expected_text(column))
        out = out.where(~bad)
    if column.type == "int":
        out = out.round().astype("Int64")

    missing = out.isna().to_numpy() & ~bad
    if not column.nullable and missing.any():
        collect.add_rows(table.name, column.name, missing, None, "missing value",
                         _expected_text(column))
    if column.min_value is not None or column.max_value is not None:
        numbers = out.astype("float64").to_numpy()
        low = numbers < column.min_value if column.min_value is not None else False
        high = numbers > column.max_value if column.max_value is not None else False
        out_of_range = np.asarray(low | high, dtype=bool)
        if out_of_range.any():
            what = "negative value" if column.min_value == 0 and column.max_value is None \
                else "value out of range"
            collect.add_rows(table.name, column.name, out_of_range, raw, what,
                             _expected_text(column))
    if column.allowed is not None:
        lowered = out.str.lower()
        unknown = lowered.notna().to_numpy() & ~lowered.isin(column.allowed).to_numpy()
        if unknown.any():
            collect.add_rows(table.name, column.name, unknown, raw,
                             f"unknown {column.name}", "one of " + ", ".join(column.allowed))
        out = lowered.where(~unknown)
    return out


def _check_unique(table: Table, frame: pd.DataFrame, collect: _Collector) -> None:
    for column in table.columns:
        if column.unique and column.name in frame:
            values = frame[column.name]
            dup = (values.duplicated(keep="first") & values.notna()).to_numpy()
            collect.add_rows(table.name, column.name, dup, values, "duplicate id",
                             "each value to appear once")
    if table.key and all(k in frame for k in table.key):
        dup = frame.duplicated(subset=list(table.key), keep="first").to_numpy()
        if dup.any():
            values = frame[list(table.key)].astype("str").agg(" / ".join, axis=1)
            collect.add_rows(table.name, " + ".join(table.key), dup, values,
                             "duplicate row for the same key", "each key combination once")


def _check_references(typed: dict[str, pd.DataFrame], collect: _Collector) -> None:
    for name, frame in typed.items():
        for column, parent, parent_column in TABLES[name].references:
            if column not in frame:
                continue
            if parent not in typed:
                if not TABLES[parent].required and frame[column].notna().any():
                    collect.add(name, f"refers to table '{parent}', which is missing",
                                column=column, expected=f"a {parent} table")
                continue
            known = typed[parent][parent_column]
            orphan = (~frame[column].isin(known) & frame[column].notna()).to_numpy()
            collect.add_rows(name, column, orphan, frame[column],
                             f"orphan row: no such {parent_column} in {parent}",
                             f"a {parent_column} listed in {parent}")


def _all_missing(column: Column, index: pd.Index) -> pd.Series:
    dtype = PANDAS_DTYPES[column.type]
    if column.type in ("int", "bool"):
        return pd.Series(pd.NA, index=index, dtype=dtype)
    if column.type in ("date", "ts"):
        return pd.Series(pd.NaT, index=index, dtype=dtype)
    return pd.Series(np.nan, index=index, dtype=dtype)


def coerce_table(table: Table, raw: pd.DataFrame, collect: _Collector) -> pd.DataFrame:
    """Typed frame with exactly the contract columns of `table`, in contract order."""
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    out = {}
    for column in table.columns:
        if column.name not in raw:
            if column.required:
                collect.add(table.name, "missing required column", column=column.name,
                            expected=_expected_text(column))
            out[column.name] = _all_missing(column, raw.index)
            continue
        out[column.name] = _coerce_column(table, column, raw[column.name], collect)
    frame = pd.DataFrame(out, index=raw.index)
    _check_unique(table, frame, collect)
    return frame


def validate_tables(tables: dict[str, pd.DataFrame]) -> Dataset:
    """Coerce and validate raw contract tables; return a typed Dataset or raise ContractError.

    Unknown tables and unknown extra columns are ignored. Optional tables may be absent; an
    optional column that is absent is added, all missing.
    """
    collect = _Collector()
    typed: dict[str, pd.DataFrame] = {}
    for name, table in TABLES.items():
        if name not in tables or tables[name] is None:
            if table.required:
                collect.add(name, "missing required table",
                            expected=f"a file {name}.csv or {name}.parquet")
            continue
        typed[name] = coerce_table(table, tables[name], collect)
    _check_references(typed, collect)
    if collect.problems:
        raise ContractError(collect.problems)
    return Dataset(**typed)
