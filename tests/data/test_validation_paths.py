"""The validator's vectorised (Arrow) paths give exactly what its per-value path gives.

Each input runs twice: with every column on the per-value path and every check on Python sets
(thresholds out of reach), then with every column offered to the vectorised path and every
check on whole arrays (thresholds at zero). Typed values and Problems must be identical.
"""
from __future__ import annotations

import datetime
import sys
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import data.validation as validation
from data.contract import TABLES
from data.validation import ContractError, validate_tables

TODAY = validation.reference_day().astype(datetime.date)

# Values a JSON request or a file can put in a cell, per column type: first the ones the
# vectorised paths settle themselves, then the odd ones that send a column to the per-value
# rules (or that those rules refuse).
STR_CLEAN = ["a", " a ", "", "  ", "\u3000x\u3000", "\x1cb\x1f", "c1", " c1 ", "c2", "c3",
             "Instagram", " TIKTOK ", "youtube", "ti\u212ato\u212a", "\u0130nstagram", "food",
             "x\ny", "\t", None, np.nan]
STR_ODD = [5, 2.5, True, [1], {"a": 1}, pd.NA, -0.0, np.datetime64("NaT"), Decimal("NaN")]
BOOL_CLEAN = [True, False, np.True_, np.False_, None]
BOOL_ODD = [np.nan, "yes", " 0 ", "", "TRUE", 1, 0, 2, 1.0, "maybe", [True], pd.NA]
BOOL_TEXT = ["true", " FALSE ", "1", "0", "Yes", "n", "T", "f", "1.0", "0.0", "", " ", None,
             "maybe", "2", "\uff59es", "tru\u212a", "\u3000no\u3000"]  # a CSV's text
DATE_CLEAN = ["2024-01-05", " 2024-01-05 ", "2024-02-29", "2005-06-07T10:11:12",
              "2005-06-07 10:11", "2005-06-07T23:59:59.123456789", "2020-01-01T00:00:00.5",
              "1800-01-01", "2199-12-31", "2003-12-31", "2004-01-01", str(TODAY),
              str(TODAY + datetime.timedelta(days=1)), str(TODAY + datetime.timedelta(days=2)),
              "", None, np.nan]
DATE_ODD = ["2024-02-30", "2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10",
            "1699-12-31", "2200-01-01", "0001-01-01", "2024-01-05T10:11:12+02:00",
            "2024-01-05T10:11:12Z", "2024-01-05T24:00", "05/01/2024", "2024-1-5",
            "2024-01-05T10", "20\u0662\u0664-01-05", 5, [1], datetime.date(2024, 1, 5)]
NUMBER_CLEAN = [0, 1, 7, 12000, 2.0, 2.5, -3, None, np.nan, 2**53, 1e300]
NUMBER_ODD = ["5", " 7 ", "2.5", "", "inf", "nan", "many", True, 2**53 + 1, str(2**70),
              [1], float("inf"), "9007199254740993"]
NUMBER_TEXT = ["5", " 7 ", "-3", "+.5", "5.", "1e5", "1E+05", "1e999", "-1e999", "1_000",
               "\uff11\uff12", "nan", "NaN", "inf", "-Infinity", "0x10", "2.5", "2.0",
               "9007199254740993", "9007199254740992", str(2**70), "", " ", None, "abc",
               "1e-400", "-0", "007", "1.5e3", "e5", "."]  # a CSV's text
POOLS = {"str": (STR_CLEAN, STR_ODD), "bool": (BOOL_CLEAN, BOOL_ODD),
         "date": (DATE_CLEAN, DATE_ODD), "ts": (DATE_CLEAN, DATE_ODD),
         "int": (NUMBER_CLEAN, NUMBER_ODD), "float": (NUMBER_CLEAN, NUMBER_ODD)}

COLUMNS = [("creators", "creator_id"), ("creators", "platform"), ("posts", "format"),
           ("posts", "caption"), ("comments", "text"), ("posts", "sponsored"),
           ("audience_sample", "is_private"), ("creators", "account_created"),
           ("campaigns", "start_date"), ("posts", "posted_at"), ("posts", "likes"),
           ("collaborations", "cost"), ("authenticity_labels", "fake_follower_share")]


@contextmanager
def paths(vectorised: bool, small_checks: bool | None = None):
    """Every column and check on the vectorised paths, or every one on the per-value ones
    (`small_checks` apart: the set-based checks wherever a table's plain values allow)."""
    rows = dict.fromkeys(validation.VECTOR_MIN_ROWS, 0 if vectorised else sys.maxsize)
    small = not vectorised if small_checks is None else small_checks
    with mock.patch.object(validation, "VECTOR_MIN_ROWS", rows), \
            mock.patch.object(validation, "SMALL_TABLE_ROWS", sys.maxsize if small else -1):
        yield


def problem_keys(problems) -> list:
    # repr: a NaN shown as a value must compare equal to itself.
    return [(p.table, p.column, p.message, p.rows, repr(p.values), p.count, p.expected)
            for p in problems]


def column_cells(type_: str):
    clean, odd = POOLS[type_]
    texts = {"bool": BOOL_TEXT, "int": NUMBER_TEXT, "float": NUMBER_TEXT}.get(type_, clean)
    return st.one_of(st.lists(st.sampled_from(clean), max_size=40),
                     st.lists(st.sampled_from(texts), max_size=40),
                     st.lists(st.sampled_from(clean + odd), max_size=40))


def coerce(table: str, column: str, raw: pd.Series, vectorised: bool):
    collect = validation._Collector()
    with paths(vectorised):
        typed, _ = validation._coerce_column(
            TABLES[table], TABLES[table].column_by_name[column], raw, collect)
    return pd.Series(typed), problem_keys(collect.problems)


def assert_same_column(table: str, column: str, raw: pd.Series) -> None:
    slow_typed, slow_problems = coerce(table, column, raw, vectorised=False)
    fast_typed, fast_problems = coerce(table, column, raw, vectorised=True)
    assert fast_problems == slow_problems
    pd.testing.assert_series_equal(fast_typed, slow_typed)


@pytest.mark.parametrize(("table", "column"), COLUMNS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_column_type_gives_the_same_values_and_problems_on_both_paths(table, column, data):
    cells = data.draw(column_cells(TABLES[table].column_by_name[column].type))
    values = np.empty(len(cells), dtype=object)
    values[:] = cells
    # As a request's frame infers it (pandas' str dtype when all text) and as plain objects.
    assert_same_column(table, column, pd.Series(values))
    assert_same_column(table, column, pd.Series(values, dtype=object))


@pytest.mark.parametrize(("table", "column", "cells"), [
    ("creators", "creator_id", [" c1 ", "", None, "c2", np.nan, "\u3000c3"]),
    ("creators", "platform", [" TikTok ", "instagram", "myspace", "", None]),
    ("posts", "sponsored", [True, False, None, np.True_]),
    ("posts", "sponsored", [" TRUE", "0", "", None, "no", "maybe"]),
    ("posts", "posted_at", ["2024-01-05T10:11:12", " 2024-01-06 ", "", None, "2003-01-01"]),
    ("creators", "account_created", ["2024-01-05", "2199-12-31", None]),
    ("posts", "likes", ["5", " 7 ", "", None, "1e3", "-2", "2.5"]),
])
def test_clean_columns_really_take_the_vectorised_path(table, column, cells):
    """Without this, the comparison above could pass by both sides being the per-value path."""
    raw = pd.Series(np.array(cells, dtype=object))
    expected = coerce(table, column, raw, vectorised=False)

    def refuse(value):
        raise AssertionError(f"per-value rule called on {value!r}")

    with mock.patch.object(validation, "text_or_missing", refuse), \
            mock.patch.object(validation, "_bool_or_missing", refuse), \
            mock.patch.object(validation, "_number_or_missing", refuse), \
            mock.patch.object(validation, "_parse_plain_iso", refuse):
        fast = coerce(table, column, raw, vectorised=True)
    assert fast[1] == expected[1]
    pd.testing.assert_series_equal(fast[0], expected[0])


def test_arrow_strips_exactly_the_whitespace_python_strips():
    """`_clean_text` relies on Arrow's Unicode whitespace being str.strip()'s: every code
    point (but lone surrogates, which Arrow cannot hold) is tried on both ends."""
    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    texts = [f"{c}a{c}" for c in points]
    arrow = pc.utf8_trim_whitespace(pa.array(texts, type=pa.large_string())).to_pylist()
    differ = [hex(ord(c)) for c, text, got in zip(points, texts, arrow, strict=True)
              if got != text.strip()]
    assert differ == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.from_regex(validation._PLAIN_ISO, fullmatch=True),
                 st.sampled_from(DATE_CLEAN[:14] + DATE_ODD[:15])))
def test_arrow_parses_plain_iso_text_as_numpy_does(text):
    text = text.strip()
    numpy_times = validation._parse_plain_iso(np.array([text], dtype=object))
    arrow_times = validation._parse_plain_iso_arrow(pa.array([text], type=pa.large_string()))
    if numpy_times is None:
        assert arrow_times is None
    else:
        assert arrow_times is not None
        np.testing.assert_array_equal(arrow_times, numpy_times)


IDS = ["c1", "c2", "c3", " c1 ", "", None, "zz", 7]


def tables_strategy():
    ids = st.sampled_from(IDS)
    days = st.sampled_from(["2024-01-01", "2024-01-02", " 2024-01-02", "2024-02-30", None])
    posts = st.sampled_from(["p1", "p2", "p3", "p1 ", "", None, "q9"])

    def frame(columns: dict, rows: int) -> pd.DataFrame:
        return pd.DataFrame({name: pd.Series(np.array(cells[:rows], dtype=object))
                             for name, cells in columns.items()})

    @st.composite
    def build(draw):
        n_creators, n_posts, n_history, n_comments = (draw(st.integers(0, 12)) for _ in range(4))

        def cells(strategy, size):
            return draw(st.lists(strategy, min_size=size, max_size=size))

        tables = {
            "creators": frame({"creator_id": cells(ids, n_creators),
                               "platform": cells(st.sampled_from(
                                   ["instagram", " TikTok", "myspace", None]), n_creators),
                               "followers": cells(st.sampled_from([1, 2.5, "3", -1, None]),
                                                  n_creators),
                               "verified": cells(st.sampled_from(BOOL_CLEAN + ["yes"]),
                                                 n_creators)}, n_creators),
            "posts": frame({"post_id": cells(posts, n_posts),
                            "creator_id": cells(ids, n_posts),
                            "posted_at": cells(days, n_posts),
                            "likes": cells(st.sampled_from([1, 2, None]), n_posts),
                            "comments": cells(st.sampled_from([0, 3]), n_posts)}, n_posts),
            "follower_history": frame({"creator_id": cells(ids, n_history),
                                       "date": cells(days, n_history),
                                       "followers": cells(st.sampled_from([10, 11]),
                                                          n_history)}, n_history),
        }
        if draw(st.booleans()):
            tables["comments"] = frame({"creator_id": cells(ids, n_comments),
                                        "post_id": cells(posts, n_comments),
                                        "text": cells(st.sampled_from(["hi", "", None]),
                                                      n_comments)}, n_comments)
        return tables

    return build()


def validated(tables, vectorised: bool, small_checks: bool | None = None):
    with paths(vectorised, small_checks):
        try:
            return validate_tables(tables), None
        except ContractError as error:
            return None, problem_keys(error.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables_strategy())
def test_whole_tables_give_the_same_dataset_or_problems_on_both_paths(tables):
    """Duplicates, duplicate keys, orphans, padded ids and odd cells, checked by Python sets
    or by whole arrays (Arrow is_in, pandas duplicated)."""
    slow_data, slow_problems = validated(tables, vectorised=False)
    # Arrow-coerced columns next to per-value ones (an int id) under the set-based checks,
    # then everything vectorised.
    for small_checks in (True, False):
        fast_data, fast_problems = validated(tables, vectorised=True, small_checks=small_checks)
        assert fast_problems == slow_problems
        if slow_data is None:
            continue
        for name in ("creators", "posts", "follower_history", "comments"):
            slow, fast = getattr(slow_data, name), getattr(fast_data, name)
            if slow is None:
                assert fast is None
            else:
                pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize(("table", "column"), [("creators", "creator_id"),
                                             ("creators", "platform"), ("posts", "caption")])
def test_arrow_text_gives_the_plain_values_of_the_set_based_checks(table, column):
    """Small tables check uniqueness and references on plain values (None for missing), which
    an Arrow-coerced column must give exactly as the per-value path does."""
    raw = pd.Series(np.array([" c1 ", "", None, "TikTok", "c1", np.nan, "ti\u212ato\u212a"],
                             dtype=object))
    plains = []
    for vectorised in (False, True):
        with paths(vectorised, small_checks=True):
            _, plain = validation._coerce_column(
                TABLES[table], TABLES[table].column_by_name[column], raw, validation._Collector())
        plains.append(plain)
    assert plains[1] is not None and plains[1].dtype == object
    assert plains[1].tolist() == plains[0].tolist()
    assert [type(v) for v in plains[1]] == [type(v) for v in plains[0]]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2**60, 2**60)
                .map(float), max_size=20))
def test_fraction_test_agrees_with_the_remainder(numbers):
    numbers = np.array(numbers, dtype="float64")
    expected = np.isfinite(numbers) & (np.mod(np.nan_to_num(numbers), 1) != 0)
    np.testing.assert_array_equal(validation._has_fraction(numbers), expected)


def test_text_booleans_beyond_ascii_are_read_by_python():
    """Python lower-cases the Kelvin sign to "k", Arrow's ASCII lower-casing leaves it: with a
    word holding a k among the true words, only the fallback to Python keeps both paths equal."""
    true_words = validation._TRUE | {"ok"}
    raw = pd.Series(["o\u212a", "OK", "no", "\u212a"] * 3)
    with mock.patch.object(validation, "_TRUE", true_words), \
            mock.patch.object(validation, "_TRUE_ARROW", pa.array(sorted(true_words))):
        assert_same_column("posts", "sponsored", raw)
        typed, problems = coerce("posts", "sponsored", raw, vectorised=True)
    assert typed.tolist()[:3] == [True, True, False] and len(problems) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=4), st.sampled_from(
    STR_CLEAN[:18] + ["a\u00a0", "\u3000", "ab\x1c", "\x85a", "é", "aé", "éa", "a b"])),
    max_size=6), st.integers(0, 2))
def test_text_left_as_it_is_is_the_text_cleaning_gives(texts, skip):
    """`_clean_text` skips trimming when two bytes per value show it would change nothing:
    then the trimmed text is the text (also for a slice of an array)."""
    array = pa.array(["x"] * skip + texts, type=pa.large_string())[skip:]
    stripped = pc.utf8_trim_whitespace(array)
    cleaned = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, stripped.type), stripped)
    if validation._trimmed_and_not_empty(array):
        assert cleaned.to_pylist() == array.to_pylist()
    assert validation._clean_text(array).to_pylist() == cleaned.to_pylist()


ISO_FIXED = st.one_of(st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
                      st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}",
                                    fullmatch=True),
                      st.from_regex(validation._PLAIN_ISO, fullmatch=True),
                      st.text(alphabet="0123456789-: T12", min_size=10, max_size=10))


@settings(max_examples=500, deadline=None)
@given(st.lists(ISO_FIXED, min_size=1, max_size=4), st.integers(0, 2))
def test_fixed_width_iso_check_agrees_with_the_regex(texts, skip):
    """The byte check of plain ISO dates and timestamps says yes only where the regex does,
    and does for every column of only 10- or only 19-character matches."""
    array = pa.array(["x"] * skip + texts, type=pa.large_string())[skip:]
    matches = pc.all(pc.match_substring_regex(array, validation._PLAIN_ISO_ANCHORED)).as_py()
    fixed = validation._plain_iso_fixed_width(array)
    if fixed:
        assert matches
    if matches and len({len(text) for text in texts}) == 1 and len(texts[0]) in (10, 19):
        assert fixed


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([True, False, None]), max_size=400))
def test_pandas_booleans_are_read_as_the_same_json_values(values):
    """A request's true/false column comes as pandas booleans (serving.convert): the values
    and problems of the same values as Python objects."""
    column = TABLES["posts"].column_by_name["sponsored"]
    objects = np.array(values, dtype=object)
    booleans = pd.arrays.BooleanArray(np.array([v is True for v in values], dtype=bool),
                                      np.array([v is None for v in values], dtype=bool))
    outcomes = []
    for raw in (objects, booleans):
        collect = validation._Collector()
        typed, plain = validation._coerce_column(TABLES["posts"], column, raw, collect)
        outcomes.append((typed, plain, collect.problems))
    pd.testing.assert_extension_array_equal(outcomes[0][0], outcomes[1][0])
    np.testing.assert_array_equal(outcomes[0][1], outcomes[1][1])
    assert outcomes[0][2] == outcomes[1][2]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", " a", None]),
                          st.sampled_from([0, 1, 2, None])), max_size=12))
def test_duplicated_rows_are_pandas_duplicated_among_present_rows(rows):
    """`_duplicated_rows` (the uniqueness check of large tables) marks what pandas'
    duplicated(keep="first") marks among rows without a missing value."""
    text = pd.array([r[0] for r in rows], dtype="str")
    days = np.array([np.datetime64("NaT") if r[1] is None else np.datetime64(r[1], "D")
                     for r in rows], dtype="datetime64[ns]")
    frame = pd.DataFrame({"text": text, "day": days})
    for columns in (["text"], ["text", "day"]):
        expected = frame.duplicated(subset=columns, keep="first").to_numpy() & \
            frame[columns].notna().all(axis=1).to_numpy()
        got = validation._duplicated_rows([frame[c].array for c in columns])
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-20, 10**6),
                          st.sampled_from([2**53, -2**53, 2**53 - 1, 2**53 + 1, -2**60])),
                 max_size=40),
       st.sampled_from([("posts", "views"), ("creators", "following"),
                        ("campaigns", "product_price")]))
def test_pandas_integers_are_read_as_the_same_json_values(values, where):
    """A request's integers with missing ones come as pandas integers (serving.convert): the
    values and problems (negative, out of range, shown as given) of the same Python ints."""
    table, name = TABLES[where[0]], TABLES[where[0]].column_by_name[where[1]]
    integers = pd.array(values, dtype="Int64")
    outcomes = []
    for raw in (np.array(values, dtype=object), integers):
        collect = validation._Collector()
        typed, plain = validation._coerce_column(table, name, raw, collect)
        outcomes.append((typed, plain, collect.problems))
    if isinstance(outcomes[0][0], np.ndarray):
        np.testing.assert_array_equal(outcomes[0][0], outcomes[1][0])
    else:
        pd.testing.assert_extension_array_equal(outcomes[0][0], outcomes[1][0])
    np.testing.assert_array_equal(outcomes[0][1], outcomes[1][1])
    assert outcomes[0][2] == outcomes[1][2]


def test_numbers_given_as_text_are_parsed_without_a_python_object_per_value():
    """A CSV's number column (pandas' Arrow-backed text) is parsed from the Arrow text: Python
    values are read only for the rows Arrow leaves unsettled, and the values and problems are
    those of the per-value path (compared above on the same kind of column)."""
    raw = pd.Series(["5", " 7 ", "", None, "1e3", "2.5", "many", "9007199254740993", "1_000"])
    assert isinstance(raw.dtype, pd.StringDtype)
    expected = coerce("posts", "likes", raw, vectorised=False)
    clean = pd.Series(["5", " 7 ", "", None, "1e3", "-2"])

    def refuse(values):
        raise AssertionError("a Python object per value")

    with mock.patch.object(validation, "_objects", refuse):
        coerce("posts", "likes", clean, vectorised=True)
    settled = []
    real = validation._number_or_missing
    with mock.patch.object(validation, "_number_or_missing",
                           lambda value: settled.append(value) or real(value)):
        fast = coerce("posts", "likes", raw, vectorised=True)
    assert settled == ["many", "1_000"]  # only what Arrow's cast cannot settle
    pd.testing.assert_series_equal(fast[0], expected[0])
    assert fast[1] == expected[1]
