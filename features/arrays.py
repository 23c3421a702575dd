"""Numpy group operations over integer group codes.

The feature code works on flat numpy arrays with one integer code per row (the entity a post,
comment or snapshot belongs to). These helpers replace pandas groupby in the hot path: they are
as fast for thousands of creators and add no fixed overhead when scoring a single one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.validation import text_byte_spans

NS_PER_DAY = 86_400 * 1_000_000_000


def clip(values, low, high):
    """np.clip(values, low, high) (NaN stays NaN). np.clip costs ~11 us a call on a few hundred
    values or one row (min / max: ~2.5 us): scoring one creator makes dozens of calls (the
    follower audit's EM twice per iteration)."""
    return np.minimum(np.maximum(values, low), high)


def fill_nan(values, fill: float):
    """The values with NaN replaced by `fill`, infinities kept (np.nan_to_num, which also
    makes them finite, costs ~13 us a call against ~3): for values whose infinities cannot occur
    or end the same way (compared with a finite bound, clipped)."""
    return np.where(np.isnan(values), fill, values)


# A column is a pandas Series or the array under one (`data.dataset.Dataset.column`: numpy, or
# a pandas extension array).
Column = pd.Series | np.ndarray | pd.api.extensions.ExtensionArray


def _to_numpy(column: Column, dtype, na_value) -> np.ndarray:
    """`Series.to_numpy(dtype, na_value=na_value)` of a column."""
    if isinstance(column, np.ndarray):
        if column.dtype != object:  # numbers, booleans, datetimes: no missing marker to map
            return column.astype(dtype, copy=False)
        column = pd.Series(column, dtype=object, copy=False)
    return column.to_numpy(dtype=dtype, na_value=na_value)


# pandas' nullable arrays (numbers and booleans with a mask), which convert themselves.
MASKED_ARRAYS = (pd.arrays.IntegerArray, pd.arrays.BooleanArray, pd.arrays.FloatingArray)


def as_float(series: Column | None, n: int | None = None) -> np.ndarray:
    """Numeric / nullable / boolean column as float64 with NaN for missing values."""
    if series is None:
        return np.full(n or 0, np.nan)
    values = series.array if isinstance(series, pd.Series) else series
    if isinstance(values, MASKED_ARRAYS):  # Int64, boolean: ~4 us, against ~10 via Arrow
        return values.to_numpy(dtype="float64", na_value=np.nan)
    array = arrow_array(series)
    if array is not None:
        if pa.types.is_integer(array.type):
            # Nulls come out as NaN (float64); without nulls the ints are converted here.
            return array.to_numpy(zero_copy_only=False).astype("float64", copy=False)
        if pa.types.is_boolean(array.type) or pa.types.is_floating(array.type):
            return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    return _to_numpy(series, "float64", np.nan)


def as_days(series: Column | None, n: int | None = None) -> np.ndarray:
    """datetime64 column as float days since the epoch (NaN for NaT)."""
    if series is None:
        return np.full(n or 0, np.nan)
    values = _to_numpy(series, "datetime64[ns]", None) if isinstance(series, np.ndarray) \
        else series.to_numpy(dtype="datetime64[ns]")
    days = values.view("int64").astype("float64") / NS_PER_DAY
    days[np.isnat(values)] = np.nan
    return days


def as_str(series: Column | None, n: int | None = None) -> np.ndarray:
    """str column as an object array with None for missing values."""
    if series is None:
        return np.full(n or 0, None, dtype=object)
    array = arrow_array(series)
    if array is not None and pa.types.is_large_string(array.type):
        return array.to_numpy(zero_copy_only=False)
    return _to_numpy(series, object, None)


def arrow_array(series: Column) -> pa.Array | None:
    """The Arrow array of a column held by pandas as an extension array (str, Int64, boolean),
    None for numpy-backed columns. Going through Arrow skips pandas' per-call conversion
    machinery (~30-70 us per column, more than the features of one creator cost)."""
    if isinstance(series.dtype, np.dtype):
        return None
    try:
        array = pa.array(series.array if isinstance(series, pd.Series) else series)
    except (TypeError, ValueError, pa.ArrowException):
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def group_count(codes: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    if mask is not None:
        codes = codes[mask]
    return np.bincount(codes, minlength=n).astype("float64")


def group_sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of the non-NaN values per group (0 for empty groups)."""
    ok = ~np.isnan(values)
    return np.bincount(codes[ok], weights=values[ok], minlength=n)


def group_nancount(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes[~np.isnan(values)], minlength=n).astype("float64")


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 or NaN."""
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    ok = np.isfinite(denominator) & (denominator != 0)
    np.divide(numerator, denominator, out=out, where=ok)
    return out


def group_mean(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return safe_divide(group_sum(codes, values, n), group_nancount(codes, values, n))


def group_std(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of the non-NaN values per group."""
    mean = group_mean(codes, values, n)
    deviation = values - mean[codes]
    return np.sqrt(group_mean(codes, deviation * deviation, n))


def group_max(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    ok = ~np.isnan(values)
    np.maximum.at(out, codes[ok], values[ok])
    out[np.isneginf(out)] = np.nan
    return out


# Group codes below this sort as int16, which numpy's stable sort orders by radix.
_RADIX_CODES = 2**15


def group_order(codes: np.ndarray, values: np.ndarray, ties_in_row_order: bool = True
                ) -> np.ndarray:
    """Row order sorting by group, then value: the rows in value order, then stably by group.

    Ties in row order (a stable sort of the values) make a group's order depend on its own
    rows only: a quicksort places ties by the whole array, so the "largest step" of a creator
    with two equal steps changed with the creators beside it. Where only the values in order
    matter (quantiles) `ties_in_row_order=False` keeps the quicksort (~15% faster). The stable
    sort of the groups is a radix sort when the codes fit int16 (a piece's creators do; ~2x
    faster than sorting the int64 keys group * n + rank, the same order: those keys are
    unique), else those keys are sorted."""
    by_value = np.argsort(values, kind="stable" if ties_in_row_order else None)
    if len(codes) == 0 or (codes.min() >= 0 and codes.max() < _RADIX_CODES):
        return by_value[np.argsort(codes[by_value].astype(np.int16), kind="stable")]
    rank = np.empty(len(values), dtype="int64")
    rank[by_value] = np.arange(len(values))
    return np.argsort(codes.astype("int64") * max(len(values), 1) + rank)


def group_quantile(codes: np.ndarray, values: np.ndarray, n: int, q: float = 0.5) -> np.ndarray:
    """Linear-interpolated quantile of the non-NaN values per group (NaN for empty groups)."""
    ok = ~np.isnan(values)
    codes, values = codes[ok], values[ok]
    order = group_order(codes, values, ties_in_row_order=False)  # tied values are equal
    return _sorted_quantile(codes[order], values[order], n, q)


def group_median(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return group_quantile(codes, values, n, 0.5)


class GroupSortedValues:
    """`values` sorted once by (group, value): medians of any subsets of the rows follow by
    index arithmetic, without sorting again (a boolean subset of a sorted sequence is sorted).
    """

    def __init__(self, codes: np.ndarray, values: np.ndarray, n: int):
        self.n = n
        # NaN last within each group; tied values are equal, so their order is free.
        self.order = group_order(codes, values, ties_in_row_order=False)
        self.sorted_codes = codes[self.order]
        self.sorted_values = values[self.order]
        self.valid = ~np.isnan(self.sorted_values)

    def median(self, subset: np.ndarray | None = None) -> np.ndarray:
        """Median of the non-NaN values per group among rows where `subset` is True."""
        keep = self.valid if subset is None else self.valid & subset[self.order]
        return _sorted_quantile(self.sorted_codes[keep], self.sorted_values[keep], self.n, 0.5)


def _sorted_quantile(sorted_codes: np.ndarray, sorted_values: np.ndarray, n: int,
                     q: float) -> np.ndarray:
    counts = np.bincount(sorted_codes, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, np.nan)
    has = counts > 0
    position = (counts[has] - 1) * q
    low = np.floor(position).astype("int64")
    high = np.ceil(position).astype("int64")
    weight = position - low
    base = starts[has]
    out[has] = (sorted_values[base + low] * (1 - weight) + sorted_values[base + high] * weight)
    return out


def group_rank(codes: np.ndarray, order_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (0-based) of each row within its group by order_key, and the group sizes per row."""
    return group_rank_from_order(codes, group_order(codes, order_key))


def group_rank_from_order(codes: np.ndarray, order: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """group_rank given the (group, key) row order (from `group_order`)."""
    sorted_codes = codes[order]
    counts = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype="int64")
    rank[order] = np.arange(len(codes)) - starts[sorted_codes]
    return rank, counts[codes]


def large_strings(values) -> pa.Array:
    """Any text column (pandas Series, Arrow array, numpy array, list) as one Arrow
    large_string array, missing values as nulls; zero-copy for Arrow-backed pandas columns."""
    if isinstance(values, (pd.Series, pd.api.extensions.ExtensionArray)):
        backing = arrow_array(values)
        values = backing if backing is not None else values.to_numpy(dtype=object,
                                                                     na_value=None)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        return pa.array(np.asarray(values, dtype=object), type=pa.large_string(),
                        from_pandas=True)
    if values.type == pa.null():
        return pa.nulls(len(values), type=pa.large_string())
    return values if values.type == pa.large_string() else values.cast(pa.large_string())


def text_bytes(array: pa.Array) -> int:
    """UTF-8 bytes of an Arrow text array, read from its offsets (no compute kernel)."""
    start, end, _ = text_byte_spans(array)
    return int(end[-1] - start[0]) if len(start) else 0


# Below this many values + universe entries a Python dict beats Arrow's conversions.
SMALL_LOOKUP = 512


def index_of(values, universe) -> np.ndarray:
    """Position of each string value in `universe` (-1 when absent or missing; the first
    position when the universe repeats a value).

    Arrow's hash lookup: no conversion of string columns to Python objects, except for small
    inputs (scoring one creator), where a dict lookup has less fixed cost.
    """
    if len(values) + len(universe) <= SMALL_LOOKUP:
        positions: dict = {}
        for position, value in enumerate(_objects(universe)):
            if isinstance(value, str):
                positions.setdefault(value, position)
        return np.fromiter((positions.get(value, -1) if isinstance(value, str) else -1
                            for value in _objects(values)), dtype="int64", count=len(values))
    positions = pc.index_in(large_strings(values), value_set=large_strings(universe))
    return positions.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def _objects(values) -> list:
    if isinstance(values, (pd.Series, pd.api.extensions.ExtensionArray)):
        return as_str(values).tolist()
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.to_pylist()
    return list(values)
