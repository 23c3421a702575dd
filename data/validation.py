"""Coercion and validation of contract tables: a pure core from raw frames to typed ones.

Every problem is collected before failing, so a customer fixes a dataset in one pass. A problem
names the table, the column, the first offending rows (1-based data rows, header excluded) with
their values, and what was expected.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.contract import EARLIEST_DATE, MAX_EXACT_NUMBER, TABLES, Column, Table
from data.dataset import Dataset, DeferredFrame, column_labels

MAX_EXAMPLES = 5
_LIST_TYPES = (list, tuple, dict, set, np.ndarray)
# Problem messages data/chunked.py also reads or makes: it checks ids and references across
# the pieces of a file and merges the pieces' problems back into this module's order.
DUPLICATE_ID = "duplicate id"
DUPLICATE_KEY = "duplicate row for the same key"
DUPLICATE_COLUMN = "duplicate column"
ORPHAN = "orphan row:"
MISSING_PARENT = "refers to table"
# The checks of one column's values, in the order `coerce_table` runs and reports them (their
# messages start with these words).
VALUE_CHECK_ORDER = ("missing required column", "a list in a cell", "wrong type",
                     "implausible date", "missing value", "negative value",
                     "value out of range", "unknown ")


def duplicate_id_problem() -> tuple[str, str]:
    """(message, expected) of a repeated value in a unique column."""
    return DUPLICATE_ID, "each value to appear once"


def missing_parent_problem(parent: str) -> tuple[str, str]:
    """(message, expected) of a reference to an optional table that is absent."""
    return f"{MISSING_PARENT} '{parent}', which is missing", f"a {parent} table"


def orphan_problem(parent: str, parent_column: str) -> tuple[str, str]:
    """(message, expected) of rows whose reference is not in the parent table."""
    return (f"{ORPHAN} no such {parent_column} in {parent}",
            f"a {parent_column} listed in {parent}")


# From this many rows a column takes its vectorised path (Arrow, numpy casts); below it, plain
# Python per value is cheaper than the fixed cost per call (Arrow's regex for dates: ~0.1 ms).
# Measured by scripts/benchmark_validation.py per column and on a whole one-creator request
# (tables of 1 to ~200 rows), where only numbers given as JSON numbers gain from a cast.
VECTOR_MIN_ROWS = {"number": 10, "str": 300, "vocabulary": 300, "bool": 300, "time": 300}
# Up to this many rows, uniqueness and references are checked with Python sets on the coerced
# values: a scoring request's tables are this small, and pandas' fixed cost per call would
# dominate. Larger tables go through pandas (same results).
SMALL_TABLE_ROWS = 2_000
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


# A raw column: the array under a pandas Series (numpy, or a pandas extension array such as
# Arrow text or nullable integers). The validator reads columns as arrays: a Series costs
# ~15 us to make or read, a noticeable share of a one-creator request's ~40 columns.
RawColumn = np.ndarray | pd.api.extensions.ExtensionArray
# A raw table: a DataFrame, or its columns by name (arrays of one length).
RawTable = pd.DataFrame | Mapping[str, RawColumn]


def _column_array(values) -> RawColumn:
    """The array under a raw column (a Series, an array, a list as a frame would type it)."""
    if isinstance(values, (np.ndarray, pd.api.extensions.ExtensionArray)):
        return values
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    return values.array if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) \
        else values.to_numpy()


def _as_series(values: pd.Series | RawColumn) -> pd.Series:
    """A column as the Series a frame holds, for the values a problem shows."""
    return values if isinstance(values, pd.Series) else \
        pd.Series(values, dtype=values.dtype, copy=False)


def _objects(raw: RawColumn) -> np.ndarray:
    """The column's values as Python objects, as `Series.to_numpy(object)` gives them (Arrow
    text: missing values as None, which every rule reads as missing like pandas' NaN)."""
    if isinstance(raw, pd.arrays.ArrowStringArray):
        # Arrow's own conversion: pandas fills missing text with NaN through a slow path (~20
        # us a column with a missing value, against ~4), per text column of a request.
        return pa.array(raw).to_numpy(zero_copy_only=False)
    if not isinstance(raw, np.ndarray):
        return raw.to_numpy(dtype=object)
    if raw.dtype == object:
        return raw
    if raw.dtype.kind in "mM":  # Timestamps / Timedeltas, not numpy's datetime objects
        return _as_series(raw).to_numpy(object)
    return raw.astype(object)


def _row_count(raw: RawTable) -> int:
    if isinstance(raw, pd.DataFrame):
        return len(raw)
    lengths = {len(values) for values in raw.values()}
    if len(lengths) > 1:
        raise ValueError(f"raw table columns of different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)

    def add_rows(self, table: str, column: str | None, mask: np.ndarray,
                 values: pd.Series | RawColumn | None, message: str, expected: str = "") -> None:
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        first = positions[:MAX_EXAMPLES]
        shown = tuple(_as_series(values).iloc[first].tolist()) if values is not None else ()
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
        text += " >= 0 and at most 2^53"
    elif column.type in ("int", "float"):
        text += " between -2^53 and 2^53"
    return text


def reference_day() -> np.datetime64:
    """The day data is validated against (today, UTC): the end of the plausible window."""
    # (datetime's clock: pandas' Timestamp.now costs ~9 us, per date column of a request)
    return np.datetime64(datetime.datetime.now(datetime.UTC).date(), "D")


def time_window(column: Column) -> tuple[np.datetime64, np.datetime64]:
    """[earliest, latest] accepted for a date/ts column (latest: end of its last day)."""
    latest = reference_day() + np.timedelta64(column.days_ahead + 1, "D")
    return np.datetime64(EARLIEST_DATE, "D"), latest - np.timedelta64(1, "us")


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and value != value)


def text_or_missing(value):
    """Stripped text, None when missing or empty, _NO_VALUE when not a scalar."""
    if isinstance(value, str):
        value = value.strip()
        return value if value else None
    if _is_missing(value):
        return None
    if isinstance(value, _LIST_TYPES):
        return _NO_VALUE
    return str(value)


def _number_or_missing(value):
    if isinstance(value, (bool, np.bool_)):
        return _NO_VALUE
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            return _NO_VALUE
    elif _is_missing(value):
        return None
    else:
        return _NO_VALUE
    if number != number:
        return None
    return number if np.isfinite(number) else _NO_VALUE


def _bool_or_missing(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return _NO_VALUE
    if _is_missing(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    return _NO_VALUE


# Plain Python over object arrays: on the few rows of a scoring request it is far cheaper than
# pandas' per-call overhead. Large columns whose values are all text or missing take the Arrow
# path below instead (same results, proven by tests/data/test_validation_paths.py).
def _coerce_str(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parsed = [text_or_missing(v) for v in values]
    bad = np.fromiter((v is _NO_VALUE for v in parsed), dtype=bool, count=len(parsed))
    out = np.array([None if v is _NO_VALUE else v for v in parsed], dtype=object)
    return out, bad


def _arrow_text(raw: RawColumn) -> pa.Array | pa.ChunkedArray | None:
    """The column as Arrow large_string when every value is text or missing by
    `text_or_missing`'s rule (missing: `_is_missing`), else None (the per-value path)."""
    if getattr(_STR_DTYPE, "storage", None) != "pyarrow":
        return None
    if isinstance(raw.dtype, pd.StringDtype):  # a JSON request's text, a CSV: no Python strings
        return pa.array(raw, type=pa.large_string())
    if raw.dtype != object:
        return None
    values = _objects(raw)
    # infer_dtype skips None, NaN and pd.NA only (a NaT or a Decimal NaN make it "mixed"):
    # the values `_is_missing` takes as missing, Arrow's nulls with from_pandas.
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, ValueError, TypeError):  # e.g. a lone surrogate
        return None


def _clean_text(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`text_or_missing` over Arrow text: stripped, empty as missing. Arrow's Unicode
    whitespace is Python's str.strip() set (a test compares every code point)."""
    if _trimmed_and_not_empty(text):
        return text
    stripped = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, stripped.type), stripped)


def text_byte_spans(text: pa.Array | pa.ChunkedArray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(start, end, data) of Arrow text in one chunk: where each value's UTF-8 bytes start and
    end in `data`, its bytes (views of Arrow's buffers, no copy); None for other chunkings."""
    if isinstance(text, pa.ChunkedArray):
        if text.num_chunks != 1:
            return None
        text = text.chunk(0)
    offset_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    _, offsets, data = text.buffers()
    offsets = np.frombuffer(offsets, dtype=offset_type)[text.offset:text.offset + len(text) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets[:-1], offsets[1:], data


# Bytes that are a whole character, ASCII, and not whitespace for str.strip(): a value that
# starts and ends with one is neither stripped nor empty.
_KEPT_EDGE = np.array([b < 0x80 and not chr(b).isspace() for b in range(256)])


def _trimmed_and_not_empty(text: pa.Array | pa.ChunkedArray) -> bool:
    """True when `_clean_text` leaves every value as it is (the usual column: a check of two
    bytes per value, ~0.2 ms for 78k values against ~1.2 ms for trimming and comparing); False
    when it may not (a value empty, or starting or ending with a non-ASCII character)."""
    parts = text_byte_spans(text)
    if parts is None:
        return False
    start, end, data = parts
    if text.null_count:
        present = ~_null_mask(text)
        start, end = start[present], end[present]
    if (end <= start).any():
        return False
    return bool(_KEPT_EDGE[data[start]].all() and _KEPT_EDGE[data[end - 1]].all())


def _null_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return array.is_null().to_numpy(zero_copy_only=False)


def _coerce_number(values: np.ndarray, raw: RawColumn) -> tuple[np.ndarray, np.ndarray]:
    if values.dtype.kind in "iuf":
        numbers = values.astype("float64")
        return numbers, ~np.isfinite(numbers) & ~np.isnan(numbers)
    if len(values) >= VECTOR_MIN_ROWS["number"]:
        return _coerce_number_vectorised(values, raw)
    parsed = [_number_or_missing(v) for v in values]
    bad = np.fromiter((v is _NO_VALUE for v in parsed), dtype=bool, count=len(parsed))
    numbers = np.fromiter((np.nan if v is None or v is _NO_VALUE else v for v in parsed),
                          dtype="float64", count=len(parsed))
    return numbers, bad


def _coerce_number_vectorised(values: np.ndarray, raw: RawColumn
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Large columns: a vectorised cast settles plain numbers and numeric text; only the
    values it cannot settle (bools, odd text, non-finite) take the per-value path."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "empty"):
        numbers = np.array(values, dtype="float64")  # None -> NaN
        unsettled = ~np.isfinite(numbers) & ~np.isnan(numbers)
    elif kind == "string" and (text := _arrow_text(raw)) is not None:  # a CSV's numbers
        numbers, unsettled = _decimal_text(text)
    else:
        numbers = np.full(len(values), np.nan)
        unsettled = np.ones(len(values), dtype=bool)
    return numbers, _settle_numbers(numbers, unsettled, values.__getitem__)


def _coerce_number_text(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """`_coerce_number_vectorised` of a column of text (a CSV's) without a Python object per
    value: the text's own values only for the rows Arrow cannot settle."""
    numbers, unsettled = _decimal_text(text)
    return numbers, _settle_numbers(
        numbers, unsettled, lambda rows: text.take(pa.array(rows)).to_pylist())


def _settle_numbers(numbers: np.ndarray, unsettled: np.ndarray, values_of) -> np.ndarray:
    """The rows a vectorised parse left unsettled, read by `_number_or_missing` from their raw
    values (`values_of(rows)`), into `numbers`; returns the wrong values' mask."""
    bad = np.zeros(len(numbers), dtype=bool)
    rows = np.flatnonzero(unsettled)
    for row, value in zip(rows, values_of(rows) if len(rows) else (), strict=True):
        parsed = _number_or_missing(value)
        if parsed is _NO_VALUE:
            bad[row] = True
            numbers[row] = np.nan
        else:
            numbers[row] = np.nan if parsed is None else parsed
    return bad


# Decimal text that Arrow's cast and Python's float() read alike (both correctly rounded);
# anything else (1_000, inf, full-width digits) is left to float() itself.
_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def _decimal_text(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(numbers, unsettled) of text: plain decimals cast by Arrow (missing: NaN); other text
    and decimals beyond float64 (1e999) unsettled, for `_number_or_missing`."""
    clean = _clean_text(text)
    # Digits only (most number cells: counts) are plain decimals; the regex, ~10x the cost of
    # that check, reads only the other cells (~0.1 s a column of 2.5M cells saved).
    present = ~_null_mask(clean)
    decimal = pc.fill_null(pc.ascii_is_decimal(clean), False).to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~decimal & present)
    if len(rest):
        decimal = decimal.copy()  # (Arrow's array may be read-only)
        decimal[rest] = pc.match_substring_regex(
            clean.take(pa.array(rest)), _DECIMAL).to_numpy(zero_copy_only=False)
    try:
        numbers = pc.cast(pc.if_else(decimal, clean, pa.scalar(None, clean.type)),
                          pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    except (pa.ArrowException, ValueError):  # not expected: then float() reads every value
        return np.full(len(decimal), np.nan), present
    unsettled = np.where(decimal, ~np.isfinite(numbers), present)
    return numbers, unsettled


def _coerce_bool(raw: RawColumn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(raw, pd.arrays.BooleanArray):  # true, false or missing (a JSON request's)
        return (raw.to_numpy(dtype=bool, na_value=False), raw.isna(),
                np.zeros(len(raw), dtype=bool))
    if len(raw) >= VECTOR_MIN_ROWS["bool"]:
        settled = None
        if not isinstance(raw.dtype, pd.StringDtype):  # JSON true/false
            settled = _plain_bools(_objects(raw))
        if settled is None and (text := _arrow_text(raw)) is not None:  # a CSV's text
            settled = _text_bools(text)
        if settled is not None:
            return settled
    values = _objects(raw)
    parsed = [_bool_or_missing(v) for v in values]
    bad = np.fromiter((v is _NO_VALUE for v in parsed), dtype=bool, count=len(parsed))
    truth = np.fromiter((v is True for v in parsed), dtype=bool, count=len(parsed))
    missing = np.fromiter((v is None or v is _NO_VALUE for v in parsed), dtype=bool,
                          count=len(parsed))
    return truth, missing, bad


def _plain_bools(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(truth, missing, bad) when every value is a bool (Python or numpy) or None, else None.

    Arrow infers the type bool only from exactly those values (a 1, "yes" or NaN makes it
    refuse or infer another type), which `_bool_or_missing` takes as they are."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None
    if array.type != pa.bool_():
        return None
    truth = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
    return truth, _null_mask(array), np.zeros(len(values), dtype=bool)


_TRUE_ARROW = pa.array(sorted(_TRUE), type=pa.large_string())
_FALSE_ARROW = pa.array(sorted(_FALSE), type=pa.large_string())


def _text_bools(text: pa.Array | pa.ChunkedArray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(truth, missing, bad) of a column of text (a CSV's), as `_bool_or_missing` reads text,
    when it is all ASCII (beyond, Python's lower-casing decides: None)."""
    clean = _clean_text(text)
    if pc.all(pc.string_is_ascii(clean)).as_py() is False:
        return None
    lowered = pc.ascii_lower(clean)
    truth = pc.is_in(lowered, value_set=_TRUE_ARROW).to_numpy(zero_copy_only=False)
    false = pc.is_in(lowered, value_set=_FALSE_ARROW).to_numpy(zero_copy_only=False)
    missing = _null_mask(clean)
    return truth, missing, ~(truth | false | missing)


def _iso_text(value):
    """A date or time object (a Parquet date32 column, a JSON-less caller's datetime) as the
    ISO text the parser reads; _NO_VALUE for anything else."""
    if isinstance(value, (datetime.date, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return _NO_VALUE


def _coerce_time(raw: RawColumn, column: Column
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(datetime64[ns] values, wrong-type mask, outside-the-window mask).

    The window is checked in the parsed values' own unit, before the conversion to
    nanoseconds, which would silently wrap years outside 1677-2262 (year 1 became 1754)."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        if getattr(raw, "tz", None) is not None:
            raw = raw.tz_convert("UTC").tz_localize(None)
        times = raw if isinstance(raw, np.ndarray) else raw.to_numpy()
        bad = np.zeros(len(raw), dtype=bool)
    elif (len(raw) >= VECTOR_MIN_ROWS["time"] and (text := _arrow_text(raw)) is not None
          and (times := _parse_plain_iso_arrow(_clean_text(text))) is not None):
        bad = np.zeros(len(raw), dtype=bool)
    else:
        texts = [text_or_missing(v) if isinstance(v, str) else
                 (None if _is_missing(v) else _iso_text(v)) for v in _objects(raw)]
        bad = np.fromiter((v is _NO_VALUE for v in texts), dtype=bool, count=len(texts))
        present = np.array([v if isinstance(v, str) else None for v in texts], dtype=object)
        times = _parse_plain_iso(present)
        if times is None:
            parsed = pd.to_datetime(present, errors="coerce", utc=True, format="ISO8601")
            # A copy: without a unit conversion pandas hands out its read-only buffer.
            times = parsed.tz_localize(None).to_numpy(copy=True)
        bad |= np.fromiter((isinstance(v, str) for v in texts), dtype=bool,
                           count=len(texts)) & np.isnat(times)
    earliest, latest = time_window(column)
    with np.errstate(invalid="ignore"):
        outside = ~np.isnat(times) & ~bad & ((times < earliest) | (times > latest))
    times = np.where(bad | outside, np.datetime64("NaT"), times).astype("datetime64[ns]")
    if column.type == "date":
        times = times.astype("datetime64[D]").astype("datetime64[ns]")
    return times, bad, outside


# Dates and timestamps without a UTC offset, in the forms numpy parses exactly like pandas'
# ISO 8601 parser (years 1700-2199 stay inside datetime64[ns]).
_PLAIN_ISO = re.compile(
    r"(1[7-9]|2[01])\d\d-[01]\d-[0-3]\d"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?)?")


def _parse_plain_iso(texts: np.ndarray) -> np.ndarray | None:
    """datetime64[ns] of stripped texts (None = missing) when every one is a plain ISO date or
    timestamp, else None (the caller uses pandas). numpy parses them in microseconds where
    `pd.to_datetime` costs ~0.1 ms per call, a noticeable share of a one-creator request."""
    match = _PLAIN_ISO.fullmatch
    if not all(text is None or match(text) for text in texts):
        return None
    try:
        return texts.astype("datetime64[ns]")
    except ValueError:  # e.g. 2024-02-30: pandas reports it as a wrong value
        return None


_PLAIN_ISO_ANCHORED = f"^(?:{_PLAIN_ISO.pattern})$"


# `_PLAIN_ISO`'s forms of 10 and 19 characters, YYYY-MM-DD and YYYY-MM-DD[T ]HH:MM:SS: the
# largest digit each position allows (255 at a separator: any byte passes, it is checked on its
# own); the alternatives of years (17xx-21xx) and hours (00-23) are checked on top.
_ISO_DIGIT_MAX = np.array([2, 9, 9, 9, 255, 1, 9, 255, 3, 9, 255, 2, 9, 255, 5, 9, 255, 5, 9],
                          dtype=np.uint8)
_ISO_SEPARATORS = {4: b"-", 7: b"-", 10: b"T ", 13: b":", 16: b":"}


def _plain_iso_fixed_width(texts: pa.Array | pa.ChunkedArray) -> bool:
    """True when every value is of `_PLAIN_ISO`'s form YYYY-MM-DD, or every one of its form
    YYYY-MM-DD[T ]HH:MM:SS, checked on their bytes (numpy on a byte matrix: ~0.5 ms for 78k
    dates against ~4 ms for the regex); False when not (the regex decides)."""
    parts = text_byte_spans(texts)
    if parts is None or texts.null_count or len(texts) == 0:
        return False
    start, end, data = parts
    width = int(end[0] - start[0])
    if width not in (10, 19) or ((end - start) != width).any():
        return False
    chars = data[start[0]:end[-1]].reshape(-1, width)
    digits = chars - np.uint8(ord("0"))  # (wraps around: any other byte is above 9)
    if not (digits <= _ISO_DIGIT_MAX[:width]).all():
        return False
    for position, allowed in _ISO_SEPARATORS.items():
        if position < width and not np.logical_or.reduce(
                [chars[:, position] == byte for byte in allowed]).all():
            return False
    years = np.where(digits[:, 0] == 1, digits[:, 1] >= 7, digits[:, 1] <= 1)
    ok = years & (digits[:, 0] >= 1)
    if width == 19:
        ok &= (digits[:, 11] < 2) | (digits[:, 12] <= 3)
    return bool(ok.all())


def _parse_plain_iso_arrow(texts: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """`_parse_plain_iso` of cleaned Arrow text (null = missing), in Arrow: one regex match
    and one cast for the column instead of a call per value. Arrow's parser takes the plain
    forms as numpy does and refuses the same impossible dates (tests compare them)."""
    if (not _plain_iso_fixed_width(texts)
            and pc.all(pc.match_substring_regex(texts, _PLAIN_ISO_ANCHORED)).as_py() is False):
        return None
    try:
        times = pc.cast(texts, pa.timestamp("ns"))
    except (pa.ArrowException, ValueError):  # e.g. 2024-02-30
        return None
    return np.asarray(times.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")


def _coerce_column(table: Table, column: Column, raw: pd.Series | RawColumn,
                   collect: _Collector):
    """(typed array, plain values) of one contract column; problems go to `collect`.

    The plain values (str columns: object array with None for missing; dates: datetime64)
    serve the uniqueness and reference checks of small tables without pandas."""
    raw = _column_array(raw)
    if (column.type == "str"
            and len(raw) >= VECTOR_MIN_ROWS["str" if column.allowed is None else "vocabulary"]
            and (text := _arrow_text(raw)) is not None):
        return _coerce_arrow_str(table, column, raw, text, collect)
    # A CSV's numbers (pandas text, Arrow-backed) are parsed from the Arrow text: a Python str
    # per value only to infer that the column is text cost ~0.1 s a 5k-creator piece.
    number_text = None
    if (column.type in ("int", "float") and isinstance(raw.dtype, pd.StringDtype)
            and len(raw) >= VECTOR_MIN_ROWS["number"]):
        number_text = _arrow_text(raw)
    # Boolean, date and timestamp columns need the raw values only to tell lists among wrong
    # values; numbers given as Arrow text only for the rows Arrow cannot settle.
    values = None if column.type in ("bool", "date", "ts") or number_text is not None \
        else _objects(raw) if column.type == "str" or raw.dtype.kind == "O" else \
        raw if isinstance(raw, np.ndarray) else raw.to_numpy()
    outside = None
    if column.type == "str":
        out, bad = _coerce_str(values)
        missing = np.equal(out, None)  # str or None only (pd.isna: ~3x the cost)
    elif column.type in ("int", "float"):
        if isinstance(raw, pd.arrays.IntegerArray) and raw.dtype == pd.Int64Dtype():
            # Integers, some missing (a JSON request's): exact ones for the bound of 2^53.
            out, bad = raw.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(raw), bool)
            values = raw.to_numpy(dtype="int64", na_value=0)
        elif number_text is not None:
            out, bad = _coerce_number_text(number_text)
        else:
            out, bad = _coerce_number(values, raw)
        if column.type == "int":
            bad |= _has_fraction(out)
        out[bad] = np.nan
        missing = np.isnan(out) & ~bad
    elif column.type == "bool":
        out, missing, bad = _coerce_bool(raw)
        missing = missing & ~bad
    else:
        out, bad, outside = _coerce_time(raw, column)
        missing = np.isnat(out) & ~bad & ~outside
    if bad.any():
        if values is None:
            values = _objects(raw)
        listed = bad & _list_valued(values, bad)
        collect.add_rows(table.name, column.name, listed, raw,
                         "a list in a cell", "one value per cell: " + _expected_text(column))
        collect.add_rows(table.name, column.name, bad & ~listed, raw, "wrong type",
                         _expected_text(column))
    if outside is not None and outside.any():
        earliest, latest = time_window(column)
        collect.add_rows(table.name, column.name, outside, raw,
                         "implausible date", f"between {earliest} and "
                         f"{latest.astype('datetime64[D]')} (the day of validation plus "
                         f"{column.days_ahead} day(s))")
    if not column.nullable and missing.any():
        collect.add_rows(table.name, column.name, missing, None, "missing value",
                         _expected_text(column))
    if column.type in ("int", "float"):
        # Beyond 2**53 a float no longer holds every integer (and int64 overflows at 2**63).
        beyond = _beyond_exact(values, out, raw) & ~bad
        with np.errstate(invalid="ignore"):
            out_of_range = beyond.copy()
            if column.min_value is not None:
                out_of_range |= out < column.min_value
            if column.max_value is not None:
                out_of_range |= out > column.max_value
        if out_of_range.any():
            what = "negative value" if column.min_value == 0 and column.max_value is None \
                and not beyond.any() else "value out of range"
            collect.add_rows(table.name, column.name, out_of_range, raw, what,
                             _expected_text(column))
        # Reported above; as NaN it is not cast to int64, which would overflow with a warning.
        out = np.where(beyond, np.nan, out)
    if column.allowed is not None:
        out = _vocabulary(table, column, out, raw, collect)
    return _typed_array(column, out, bad | missing), out


def _vocabulary(table: Table, column: Column, out: np.ndarray, raw: RawColumn,
                collect: _Collector) -> np.ndarray:
    """A vocabulary column's text lower-cased, unknown words reported and made missing."""
    allowed = set(column.allowed)
    lowered = [v.lower() if v is not None else None for v in out]
    unknown = np.fromiter((v is not None and v not in allowed for v in lowered),
                          dtype=bool, count=len(lowered))
    _report_unknown(table, column, unknown, raw, collect)
    return np.array([None if u else v for v, u in zip(lowered, unknown, strict=True)],
                    dtype=object)


def _report_unknown(table: Table, column: Column, unknown: np.ndarray, raw: RawColumn,
                    collect: _Collector) -> None:
    if unknown.any():
        collect.add_rows(table.name, column.name, unknown, raw,
                         f"unknown {column.name}", "one of " + ", ".join(column.allowed))


def _coerce_arrow_str(table: Table, column: Column, raw: RawColumn,
                      text: pa.Array | pa.ChunkedArray, collect: _Collector):
    """`_coerce_column` of a str column given as Arrow text (see `_arrow_text`): the same
    problems and values without a Python object per value. Plain values only for a table
    small enough for the set-based checks (else None: its checks use the typed arrays)."""
    clean = _clean_text(text)
    missing = _null_mask(clean)
    if not column.nullable and missing.any():
        collect.add_rows(table.name, column.name, missing, None, "missing value",
                         _expected_text(column))
    if column.allowed is not None:
        if pc.all(pc.string_is_ascii(clean)).as_py() is False:
            # str.lower() and Arrow's lower-casing may differ beyond ASCII: Python decides.
            out = _vocabulary(table, column, clean.to_numpy(zero_copy_only=False), raw, collect)
            return text_array(out), out
        lowered = pc.ascii_lower(clean)
        known = pc.is_in(lowered, value_set=pa.array(column.allowed, pa.large_string()))
        _report_unknown(table, column, ~known.to_numpy(zero_copy_only=False) & ~missing, raw,
                        collect)
        clean = pc.if_else(known, lowered, pa.scalar(None, lowered.type))
    plain = clean.to_numpy(zero_copy_only=False) if len(raw) <= SMALL_TABLE_ROWS else None
    return pd.arrays.ArrowStringArray(clean, dtype=_STR_DTYPE), plain


def _has_fraction(numbers: np.ndarray) -> np.ndarray:
    """True where a finite number is not whole (np.trunc: ~30x cheaper than np.mod)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(numbers) & (np.trunc(numbers) != numbers)


def _list_valued(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """True where `values` holds a list-like (only `rows` are looked at)."""
    out = np.zeros(len(values), dtype=bool)
    if values.dtype == object:
        for row in np.flatnonzero(rows):
            out[row] = isinstance(values[row], _LIST_TYPES)
    return out


def _beyond_exact(values: np.ndarray | None, numbers: np.ndarray, raw: RawColumn
                  ) -> np.ndarray:
    """True where a number is beyond 2**53 in absolute value, judged on the exact input: an
    integer or digit text just above 2**53 rounds to 2**53 as a float64. `values`: the raw
    values as `_coerce_column` read them (None: not read; then from `raw`, if needed)."""
    if values is not None and values.dtype.kind in "iu":
        return np.abs(values.astype("int64")) > MAX_EXACT_NUMBER if values.dtype.kind == "i" \
            else values > MAX_EXACT_NUMBER
    with np.errstate(invalid="ignore"):
        beyond = np.abs(numbers) > MAX_EXACT_NUMBER
        edge = np.abs(numbers) == MAX_EXACT_NUMBER
    if values is None and edge.any():
        values = _objects(raw)
    for row in np.flatnonzero(edge):
        value = values[row]
        try:
            exact = int(value.strip()) if isinstance(value, str) else int(value)
        except (ValueError, OverflowError, TypeError):
            continue  # "9.007199254740992e15" and the like: the float is what was given
        beyond[row] = abs(exact) > MAX_EXACT_NUMBER
    return beyond


# pandas' default string dtype; when it is Arrow-backed, its arrays are built from an Arrow
# array directly (pd.array(values, dtype="str") re-checks every value: 3x slower).
_STR_DTYPE = pd.array([], dtype="str").dtype


def text_array(values):
    """`pd.array(values, dtype="str")` for a sequence (list or object array) of str and
    None."""
    if getattr(_STR_DTYPE, "storage", None) == "pyarrow":
        return pd.arrays.ArrowStringArray(
            pa.array(values, type=pa.large_string(), from_pandas=True), dtype=_STR_DTYPE)
    return pd.array(values, dtype="str")


def _typed_array(column: Column, values: np.ndarray, missing: np.ndarray):
    if column.type == "str":
        return text_array(values)
    if column.type == "int":
        # Never infinite here (a wrong value, made NaN): NaN as 0 under the mask. np.where:
        # np.nan_to_num costs ~7 us a call, per integer column of a request.
        unknown = np.isnan(values)
        return pd.arrays.IntegerArray(np.where(unknown, 0.0, values).round().astype("int64"),
                                      missing | unknown)
    if column.type == "float":
        return values
    if column.type == "bool":
        truth = values if values.dtype == bool else np.zeros(len(values), dtype=bool)
        return pd.arrays.BooleanArray(truth, missing)
    return values


def _check_unique(table: Table, columns: dict[str, RawColumn], n_rows: int,
                  collect: _Collector, plain: dict[str, np.ndarray] | None = None) -> None:
    """Unique columns and the table's key, on its typed columns (every contract column)."""
    small = plain is not None and n_rows <= SMALL_TABLE_ROWS
    for column in table.columns:
        if column.unique:
            if small:
                dup = _duplicated(_hashable(plain[column.name]), _present(plain[column.name]))
            else:
                dup = _duplicated_rows([columns[column.name]])
            if dup.any():
                collect.add_rows(table.name, column.name, dup, columns[column.name],
                                 *duplicate_id_problem())
    if table.key:
        # A key with a missing part is already reported as a missing or wrong value.
        if small:  # (pandas' notna on a few rows costs more than the whole set-based check)
            dup = _duplicated(list(zip(*(_hashable(plain[k]) for k in table.key), strict=True)),
                              np.logical_and.reduce([_present(plain[k]) for k in table.key]))
        else:
            dup = _duplicated_rows([columns[k] for k in table.key])
        if dup.any():
            values = pd.DataFrame({k: columns[k] for k in table.key}).astype(object).apply(
                lambda row: " / ".join(map(str, row)), axis=1)
            collect.add_rows(table.name, " + ".join(table.key), dup, values,
                             DUPLICATE_KEY, "each key combination once")


def _duplicated_rows(columns: list[RawColumn]) -> np.ndarray:
    """True for each row whose values, all present, are those of an earlier row: pandas'
    `duplicated(keep="first") & notna` of the columns, from their factorized codes combined
    into one integer and sorted stably (pandas' frame.duplicated costs ~2x as much on the 78k
    follower-history rows of a /rank request)."""
    rows = len(columns[0])
    combined = np.zeros(rows, dtype=np.int64)
    present = np.ones(rows, dtype=bool)
    size = 1
    for values in columns:
        codes, uniques = pd.factorize(values)  # missing: -1
        size *= len(uniques) + 1
        if size >= 2**62:  # (not with a request's or a file's row counts and two columns)
            frame = pd.DataFrame(dict(enumerate(columns)))
            return frame.duplicated(keep="first").to_numpy() & \
                frame.notna().all(axis=1).to_numpy()
        present &= codes >= 0
        combined = combined * (len(uniques) + 1) + (codes + 1)
    order = np.argsort(combined, kind="stable")
    ordered = combined[order]
    duplicated = np.zeros(rows, dtype=bool)
    duplicated[order[1:]] = ordered[1:] == ordered[:-1]
    return duplicated & present


def _hashable(values: np.ndarray) -> list:
    """Values that compare like pandas' duplicated: missing ones equal each other."""
    if values.dtype.kind == "M":
        return values.view("int64").tolist()  # NaT is one integer
    if values.dtype.kind == "f":
        return np.where(np.isnan(values), np.inf, values).tolist()
    return values.tolist()  # None for missing


def _present(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "M":
        return ~np.isnat(values)
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    return np.fromiter((v is not None for v in values), dtype=bool, count=len(values))


def _duplicated(keys: list, present: np.ndarray | None = None) -> np.ndarray:
    """True for each key seen earlier in `keys` (and present, when given)."""
    seen: set = set()
    dup = np.zeros(len(keys), dtype=bool)
    for position, key in enumerate(keys):
        if key in seen:
            dup[position] = True
        else:
            seen.add(key)
    return dup if present is None else dup & present


def _check_references(typed: dict[str, dict[str, RawColumn]], rows: dict[str, int],
                      collect: _Collector,
                      plain: dict[str, dict[str, np.ndarray]] | None = None) -> None:
    """References between the present tables, on their typed columns (`rows`: row counts)."""
    for name, columns in typed.items():
        for column, parent, parent_column in TABLES[name].references:
            values = columns[column]
            if parent not in typed:
                if not TABLES[parent].required and _as_series(values).notna().any():
                    message, expected = missing_parent_problem(parent)
                    collect.add(name, message, column=column, expected=expected)
                continue
            if (plain is not None and rows[name] <= SMALL_TABLE_ROWS
                    and rows[parent] <= SMALL_TABLE_ROWS):
                known = set(plain[parent][parent_column].tolist())
                known.discard(None)
                orphan = np.fromiter((v is not None and v not in known
                                      for v in plain[name][column]),
                                     dtype=bool, count=rows[name])
            else:
                orphan = _orphans(values, typed[parent][parent_column])
            if orphan.any():
                collect.add_rows(name, column, orphan, values,
                                 *orphan_problem(parent, parent_column))


def _orphans(values: RawColumn, known: RawColumn) -> np.ndarray:
    """True where a present value of a str column (every reference is one) is not among
    `known`: a hash lookup in Arrow (pandas' isin on Arrow strings goes through Python
    objects: 130 ms for a request's 20k comments)."""
    values = pa.array(values, type=pa.large_string())
    known = pa.array(known, type=pa.large_string())
    if isinstance(known, pa.ChunkedArray):
        known = known.combine_chunks()
    found = pc.is_in(values, value_set=known).to_numpy(zero_copy_only=False)
    return ~found & ~_null_mask(values)


def coerce_table(table: Table, raw: RawTable, collect: _Collector) -> pd.DataFrame:
    """Typed frame with exactly the contract columns of `table`, in contract order, from a raw
    frame or raw columns by name."""
    columns: dict[str, RawColumn] = {}
    n_rows = coerce_columns(table, raw, collect, arrays=columns)
    return _typed_frame(columns, n_rows)


def coerce_columns(table: Table, raw: RawTable, collect: _Collector,
                   plain: dict[str, np.ndarray] | None = None,
                   arrays: dict[str, RawColumn] | None = None) -> int:
    """`coerce_table`'s typed columns (every contract column, in contract order) into
    `arrays`, without a frame (a one-creator request's tables are read as columns); returns
    the row count. `plain`, when given, receives each column's plain coerced values (see
    `_coerce_column`), by name."""
    # Each input column is fetched once; rows are handled by position (a problem's rows are
    # positions), so the input's index does not matter and is not reset.
    n_rows = _row_count(raw)
    by_name: dict[str, pd.Series | RawColumn] = {}
    repeated: dict[str, int] = {}
    for label, series in raw.items():
        name = str(label).strip()
        if name in by_name:
            repeated[name] = repeated.get(name, 1) + 1
        by_name.setdefault(name, series)
    for name, count in repeated.items():
        if name in table.column_by_name:
            collect.add(table.name, f"{DUPLICATE_COLUMN}: the name appears {count} times",
                        column=name, expected="each column once")
    plain = {} if plain is None else plain
    out = {}
    for column in table.columns:
        series = by_name.get(column.name)
        if series is None:
            if column.required:
                collect.add(table.name, "missing required column", column=column.name,
                            expected=_expected_text(column))
            plain[column.name] = _all_missing_plain(column, n_rows)
            out[column.name] = _typed_array(column, plain[column.name],
                                            np.ones(n_rows, dtype=bool))
            continue
        out[column.name], plain[column.name] = _coerce_column(table, column, series, collect)
    _check_unique(table, out, n_rows, collect, plain)
    if arrays is not None:
        arrays.update(out)
    return n_rows


def _typed_frame(columns: dict[str, RawColumn], n_rows: int) -> pd.DataFrame:
    """The frame of typed columns (each already of the table's dtype, `n_rows` long). Built
    from the arrays with the table's column labels made once: pandas' frame from a dict
    checks and converts every column and makes the labels again, ~110 us a table against
    ~40 us (a fixed cost of every table read as a frame; same blocks, same frame)."""
    arrays = list(columns.values())
    # Else pandas' own path: it words a length mismatch, and infers the type of object arrays.
    if any(len(array) != n_rows or array.dtype == object for array in arrays):
        return pd.DataFrame(columns, index=pd.RangeIndex(n_rows), copy=False)
    return pd.DataFrame._from_arrays(arrays, columns=column_labels(columns),
                                     index=pd.RangeIndex(n_rows), verify_integrity=False)


def _all_missing_plain(column: Column, length: int) -> np.ndarray:
    if column.type in ("date", "ts"):
        return np.full(length, np.datetime64("NaT"), dtype="datetime64[ns]")
    if column.type in ("int", "float"):
        return np.full(length, np.nan)
    return np.full(length, None, dtype=object)


def validate_table(name: str, raw: RawTable, min_rows: int = 0) -> pd.DataFrame:
    """One contract table coerced and checked on its own (no references to other tables);
    raises ContractError listing every problem (also when it has fewer than `min_rows`)."""
    collect = _Collector()
    if _row_count(raw) < min_rows:
        collect.add(name, f"{_row_count(raw)} data row(s)",
                    expected=f"at least {min_rows} row(s)")
    typed = coerce_table(TABLES[name], raw, collect)
    if collect.problems:
        raise ContractError(collect.problems)
    return typed


AUDITED_ACCOUNTS_CREATOR = "(audited accounts)"


def validate_accounts(raw: pd.DataFrame) -> pd.DataFrame:
    """Follower accounts to audit, checked by the contract's audience_sample rules (every bad
    value reported with its column and 1-based row) with creator_id optional: an account
    without one is checked as if it had one. At least one account: an audit of nothing is
    refused, not answered with an empty result. The columns are those given, in their order,
    contract columns typed."""
    if "creator_id" in raw.columns:
        given = raw["creator_id"].astype(object).to_numpy()
        blank = np.fromiter((text_or_missing(v) is None for v in given), dtype=bool,
                            count=len(given))
        checked = raw.assign(creator_id=np.where(blank, AUDITED_ACCOUNTS_CREATOR, given))
    else:
        blank = np.ones(len(raw), dtype=bool)
        checked = raw.assign(creator_id=AUDITED_ACCOUNTS_CREATOR)
    typed = validate_table("audience_sample", checked, min_rows=1)
    out = raw.copy()
    for column in raw.columns:
        if column in typed.columns:
            out[column] = typed[column].array
    if "creator_id" in raw.columns:
        out["creator_id"] = typed["creator_id"].mask(blank).array
    return out


def validate_tables(tables: Mapping[str, RawTable | None]) -> Dataset:
    """Coerce and validate raw contract tables (frames, or raw columns by name); return a
    typed Dataset or raise ContractError.

    Unknown tables and unknown extra columns are ignored. Optional tables may be absent; an
    optional column that is absent is added, all missing.
    """
    collect = _Collector()
    rows: dict[str, int] = {}
    plain: dict[str, dict[str, np.ndarray]] = {}
    arrays: dict[str, dict[str, RawColumn]] = {}
    for name, table in TABLES.items():
        if name not in tables or tables[name] is None:
            if table.required:
                collect.add(name, "missing required table",
                            expected=f"a file {name}.csv or {name}.parquet")
            continue
        plain[name], arrays[name] = {}, {}
        rows[name] = coerce_columns(table, tables[name], collect, plain[name], arrays[name])
    _check_references(arrays, rows, collect, plain)
    if collect.problems:
        raise ContractError(collect.problems)
    # Frames are made when read (data.dataset.DeferredFrame): features read columns.
    return Dataset(**{name: DeferredFrame(partial(_typed_frame, arrays[name], rows[name]),
                                          rows[name]) for name in arrays}, arrays=arrays)
