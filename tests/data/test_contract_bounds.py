"""Values the contract refuses instead of silently corrupting (issue 14, finding 3): dates
outside the plausible window (and beyond datetime64[ns], which used to wrap), numbers beyond
2**53, list-valued cells, duplicated column names, ragged CSV lines, an empty accounts file.
The service's agreement on the same cases is in tests/serving/test_reliability.py."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.contract import TABLES
from data.io import write_dataset
from data.loader import load_dataset, validate_tables
from tests.data.test_loader import problems_of, valid_tables

# (table, column, value, expected problem message): each must be refused by the validator,
# through CSV text and through typed (Parquet-like) frames alike.
BAD_CASES = [
    ("posts", "posted_at", "0001-01-01T00:00:00", "implausible date"),
    ("posts", "posted_at", "9999-12-31", "implausible date"),
    ("posts", "posted_at", "2099-01-01T00:00:00", "implausible date"),
    ("posts", "posted_at", "1900-06-01", "implausible date"),
    ("campaigns", "start_date", "2099-03-01", "implausible date"),
    ("campaigns", "product_price", "1e308", "value out of range"),
    ("collaborations", "cost", "1e308", "value out of range"),
    ("posts", "likes", str(2**53 + 1), "value out of range"),
    ("creators", "followers", str(2**53 + 1), "value out of range"),
]


def _with(table: str, column: str, value) -> dict[str, pd.DataFrame]:
    tables = valid_tables()
    frame = tables[table].copy()
    frame[column] = frame[column].astype(object) if column in frame else None
    frame.loc[0, column] = value
    tables[table] = frame
    return tables


@pytest.mark.parametrize(("table", "column", "value", "message"), BAD_CASES)
def test_implausible_values_are_refused_naming_the_cell(table, column, value, message):
    problems = problems_of(_with(table, column, value))
    assert [(p.table, p.column, p.message, p.rows) for p in problems] == [
        (table, column, message, (1,))]
    assert str(problems[0]).count(value) == 1  # the offending value is shown


@pytest.mark.parametrize(("table", "column", "value", "message"), BAD_CASES)
def test_the_same_cases_are_refused_from_files(tmp_path, table, column, value, message):
    write_dataset(_with(table, column, value), tmp_path)
    with pytest.raises(Exception) as caught:
        load_dataset(tmp_path)
    assert message in str(caught.value) and f"{table}.{column}" in str(caught.value)


def test_typed_out_of_bounds_timestamps_do_not_wrap():
    """Parquet gives datetime64[us]/[s] columns: year 1 and 9999 used to wrap to 1754 and
    1816 on the conversion to nanoseconds and pass."""
    tables = valid_tables()
    times = np.array(["0001-01-01", "9999-12-31", "2025-01-02"], dtype="datetime64[s]")
    tables["posts"]["posted_at"] = pd.Series(times)
    problems = problems_of(tables)
    assert [(p.column, p.message, p.rows) for p in problems] == [
        ("posted_at", "implausible date", (1, 2))]


def test_typed_integers_beyond_2_53_are_refused_not_rounded():
    tables = valid_tables()
    tables["posts"]["likes"] = pd.Series([2**53 + 1, 10, 2**53], dtype="int64")
    problems = problems_of(tables)
    assert [(p.column, p.message, p.rows) for p in problems] == [
        ("likes", "value out of range", (1,))]


def test_dates_inside_the_window_pass_including_a_planned_campaign():
    soon = (pd.Timestamp.now("UTC") + pd.Timedelta(days=60)).strftime("%Y-%m-%d")
    dataset = validate_tables(_with("campaigns", "start_date", soon))
    assert str(dataset.campaigns["start_date"].iloc[0].date()) == soon
    from data.validation import time_window  # here: the module's other tests run without it

    earliest, latest = time_window(TABLES["posts"].column_by_name["posted_at"])
    assert str(earliest) == "2004-01-01"
    assert latest - np.datetime64(pd.Timestamp.now("UTC").tz_localize(None), "us") \
        < np.timedelta64(2, "D")


def test_a_list_in_a_cell_is_named_as_such():
    tables = valid_tables()
    tables["creators"]["bio"] = pd.Series([np.array(["a", "b"], dtype=object), "ok"])
    tables["posts"]["likes"] = pd.Series([[1, 2], "120", "500"], dtype=object)
    problems = problems_of(tables)
    assert sorted((p.column, p.message, p.rows) for p in problems) == [
        ("bio", "a list in a cell", (1,)), ("likes", "a list in a cell", (1,))]


def test_a_parquet_list_column_is_refused(tmp_path):
    tables = valid_tables()
    write_dataset(tables, tmp_path)
    (tmp_path / "creators.csv").unlink()
    creators = tables["creators"].assign(bio=[["a", "b"], ["c"]])
    creators.to_parquet(tmp_path / "creators.parquet")
    with pytest.raises(Exception, match=r"creators\.bio: a list in a cell"):
        load_dataset(tmp_path)


def test_duplicated_column_names_are_refused(tmp_path):
    write_dataset(valid_tables(), tmp_path)
    path = tmp_path / "posts.csv"
    lines = path.read_text().splitlines()
    # A second "likes" column with other numbers: which one would be used?
    lines = [line + (",likes" if i == 0 else ",7") for i, line in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception, match=r"posts\.likes: duplicate column: the name appears 2"):
        load_dataset(tmp_path)
    frame = valid_tables()["posts"]
    frame = pd.concat([frame, frame[["likes"]]], axis=1)
    tables = {**valid_tables(), "posts": frame}
    assert [(p.column, p.message) for p in problems_of(tables)] == [
        ("likes", "duplicate column: the name appears 2 times")]


@pytest.mark.parametrize("extra", [",extra", ""])
def test_a_ragged_csv_line_is_named(tmp_path, extra):
    write_dataset(valid_tables(), tmp_path)
    path = tmp_path / "creators.csv"
    lines = path.read_text().splitlines()
    # Line 2 (the first data line) one field longer, or one field shorter.
    lines[1] = lines[1] + extra if extra else lines[1].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception) as caught:
        load_dataset(tmp_path)
    text = str(caught.value)
    assert "creators.csv: 1 line(s) with the wrong number of fields: line 2 has" in text
    assert "unknown platform" not in text and text.count(" - ") == 1


def test_ragged_lines_are_all_counted_and_blank_lines_are_not_ragged(tmp_path):
    """Arrow reads the file and stops at the first ragged line; the report counts them all."""
    write_dataset(valid_tables(), tmp_path)
    path = tmp_path / "posts.csv"
    header, first, *rest = path.read_text().splitlines()
    assert rest, "the test needs two data lines"
    data = [first + ",extra", "", *rest[:-1], rest[-1].rsplit(",", 1)[0]]
    path.write_text("\n".join([header, *data]) + "\n")
    last = len(data) + 1
    with pytest.raises(Exception, match=rf"posts.csv: 2 line\(s\) with the wrong number of "
                       rf"fields: line 2 has \d+, line {last} has \d+"):
        load_dataset(tmp_path)
    # The blank line alone is no problem.
    path.write_text("\n".join([header, first, "", *rest]) + "\n")
    assert len(load_dataset(tmp_path).posts) == 1 + len(rest)


def test_parquet_date_columns_are_read_as_dates(tmp_path):
    """A Parquet file may store dates as true dates (date32), not text: same rules."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from data.validation import ContractError, validate_table

    table = pa.table({
        "creator_id": ["a", "b"], "platform": ["instagram", "tiktok"], "followers": [100, 200],
        "account_created": pa.array([datetime.date(2020, 1, 2), datetime.date(1990, 5, 1)],
                                    pa.date32())})
    pq.write_table(table, tmp_path / "creators.parquet")
    raw = pd.read_parquet(tmp_path / "creators.parquet")
    with pytest.raises(ContractError) as raised:
        validate_table("creators", raw)
    (problem,) = raised.value.problems
    assert problem.column == "account_created" and problem.rows == (2,)
    typed = validate_table("creators", raw.head(1))
    assert typed["account_created"].iloc[0] == pd.Timestamp("2020-01-02")
