"""The data contract in code: loading, coercion, and a clear report for each kind of error."""
from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from data.loader import ContractError, load_dataset, validate_tables


def valid_tables() -> dict[str, pd.DataFrame]:
    return {
        "creators": pd.DataFrame({
            "creator_id": ["c1", "c2"], "platform": ["instagram", "TikTok"],
            "followers": ["12000", "3400"], "verified": ["true", "0"],
            "niche": ["food", None], "an_unknown_column": ["x", "y"],
        }),
        "posts": pd.DataFrame({
            "post_id": ["p1", "p2", "p3"], "creator_id": ["c1", "c1", "c2"],
            "posted_at": ["2025-01-01T10:00:00Z", "2025-01-03", "2025-01-02T09:00:00+02:00"],
            "likes": ["100", "120", "500"], "comments": ["4", "5", "20"],
            "views": [None, None, "9000"], "format": ["image", "carousel", "video"],
        }),
        "campaigns": pd.DataFrame({
            "campaign_id": ["k1"], "brand": ["Acme"], "niche": ["food"],
            "start_date": ["2025-02-01"], "target_countries": ["FR;BE"],
        }),
        "collaborations": pd.DataFrame({
            "campaign_id": ["k1"], "creator_id": ["c1"], "compensation": ["gifting"],
            "cost": ["250.5"], "conversions": ["3"],
        }),
    }


def problems_of(tables) -> list:
    with pytest.raises(ContractError) as caught:
        validate_tables(tables)
    return caught.value.problems


def test_valid_tables_are_typed_and_complete():
    dataset = validate_tables(valid_tables())
    creators = dataset.creators
    assert list(creators.columns)[:3] == ["creator_id", "platform", "followers"]
    assert "an_unknown_column" not in creators
    assert str(creators["followers"].dtype) == "Int64"
    assert str(creators["verified"].dtype) == "boolean"
    assert creators["platform"].tolist() == ["instagram", "tiktok"]
    assert creators["following"].isna().all()  # absent optional column added, missing
    posted = dataset.posts["posted_at"]
    assert str(posted.dtype) == "datetime64[ns]"
    # +02:00 converted to UTC
    assert posted.iloc[2] == pd.Timestamp("2025-01-02T07:00:00")
    assert dataset.follower_history is None and dataset.comments is None
    assert dataset.collaborations["cost"].iloc[0] == pytest.approx(250.5)


@pytest.mark.parametrize(
    "mutate, table, column, message, row",
    [
        (lambda t: t.pop("posts"), "posts", None, "missing required table", None),
        (lambda t: t["creators"].drop(columns="followers", inplace=True), "creators",
         "followers", "missing required column", None),
        (lambda t: t["posts"].loc.__setitem__((1, "likes"), "many"), "posts", "likes",
         "wrong type", 2),
        (lambda t: t["posts"].loc.__setitem__((2, "comments"), "-3"), "posts", "comments",
         "negative value", 3),
        (lambda t: t["creators"].loc.__setitem__((1, "platform"), "myspace"), "creators",
         "platform", "unknown platform", 2),
        (lambda t: t["creators"].loc.__setitem__((1, "niche"), "cooking"), "creators",
         "niche", "unknown niche", 2),
        (lambda t: t["collaborations"].loc.__setitem__((0, "compensation"), "barter"),
         "collaborations", "compensation", "unknown compensation", 1),
        (lambda t: t["creators"].loc.__setitem__((1, "creator_id"), "c1"), "creators",
         "creator_id", "duplicate id", 2),
        (lambda t: t["posts"].loc.__setitem__((2, "creator_id"), "ghost"), "posts",
         "creator_id", "orphan row", 3),
        (lambda t: t["posts"].loc.__setitem__((0, "posted_at"), "last tuesday"), "posts",
         "posted_at", "wrong type", 1),
        (lambda t: t["campaigns"].loc.__setitem__((0, "start_date"), "2025-13-45"),
         "campaigns", "start_date", "wrong type", 1),
    ],
)
def test_each_kind_of_error_names_table_column_row_and_expectation(mutate, table, column,
                                                                  message, row):
    tables = valid_tables()
    mutate(tables)
    problems = problems_of(tables)
    matching = [p for p in problems if p.table == table and p.column == column
                and p.message.startswith(message)]
    assert matching, f"no '{message}' problem for {table}.{column} in {problems}"
    problem = matching[0]
    if row is not None:
        assert problem.rows[0] == row
        assert problem.values
    assert problem.expected or message.startswith("missing required table")


def test_all_problems_are_collected_before_failing():
    tables = valid_tables()
    tables["posts"].loc[0, "likes"] = "lots"
    tables["creators"].loc[0, "platform"] = "vine"
    tables["collaborations"].loc[0, "creator_id"] = "nobody"
    problems = problems_of(tables)
    assert {(p.table, p.column) for p in problems} >= {
        ("posts", "likes"), ("creators", "platform"), ("collaborations", "creator_id")}


def test_report_shows_first_rows_and_count():
    tables = valid_tables()
    tables["posts"] = pd.concat([tables["posts"]] * 4, ignore_index=True)
    tables["posts"]["post_id"] = [f"p{i}" for i in range(len(tables["posts"]))]
    tables["posts"]["likes"] = "n/a"
    text = str(ContractError(problems_of(tables)))
    assert "posts.likes: wrong type in 12 row(s): row 1 ('n/a')" in text
    assert "and 7 more" in text
    assert "expected a whole number >= 0" in text


def test_load_dataset_reads_csv_and_parquet(tmp_path):
    tables = valid_tables()
    write_dataset({k: v for k, v in tables.items() if k != "posts"}, tmp_path, fmt="csv")
    write_dataset({"posts": tables["posts"]}, tmp_path, fmt="parquet")
    dataset = load_dataset(tmp_path)
    assert len(dataset.posts) == 3 and len(dataset.creators) == 2


def test_validate_command_exit_codes(tmp_path):
    runner = CliRunner()
    good, bad = tmp_path / "good", tmp_path / "bad"
    write_dataset(valid_tables(), good)
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    broken = valid_tables()
    broken["posts"].loc[1, "creator_id"] = "ghost"
    broken["creators"].loc[0, "followers"] = "-10"
    write_dataset(broken, bad)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "posts.creator_id: orphan row" in result.output
    assert "creators.followers: negative value" in result.output
    assert "Traceback" not in result.output


def test_unreadable_file_is_a_reported_problem(tmp_path):
    write_dataset(valid_tables(), tmp_path)
    (tmp_path / "comments.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ContractError, match="comments: cannot read comments.parquet"):
        load_dataset(tmp_path)


def _problems(tables):
    try:
        validate_tables(tables)
    except ContractError as error:
        return [p.to_dict() for p in error.problems]
    return []


def test_small_table_checks_match_the_pandas_path(monkeypatch):
    import data.validation as validation
    tables = {
        "creators": pd.DataFrame({"creator_id": ["a", "b", "a", None], "platform": "tiktok",
                                  "followers": [1.0, 2.0, 3.0, 4.0]}),
        "posts": pd.DataFrame({"post_id": ["p1", "p2", "p1"], "creator_id": ["a", "zz", None],
                               "posted_at": ["2024-01-01", "2024-01-02", "2024-01-03"],
                               "likes": 1.0, "comments": 0.0}),
        "follower_history": pd.DataFrame({"creator_id": ["a", "a", "b", "b"],
                                          "date": ["2024-01-01", "2024-01-01", "2024-01-02",
                                                   "2024-01-02"],
                                          "followers": [1.0, 2.0, 3.0, 4.0]}),
    }
    small = _problems(tables)
    monkeypatch.setattr(validation, "SMALL_TABLE_ROWS", -1)
    assert small and _problems(tables) == small


def test_plain_iso_fast_path_parses_like_pandas(monkeypatch):
    import data.validation as validation
    texts = ["2024-01-05", " 2024-01-05T10:11:12 ", "2024-01-05 10:11", "2024-02-30",
             "2024-01-05T10:11:12.123456789", None, "", "2024-01-05T24:00",
             "2024-01-05T10:11:12Z", "2024-01-05T10:11:12+02:00", "05/01/2024"]
    for values in ([t for t in texts[:3]], texts):
        frame = pd.DataFrame({"creator_id": [f"c{i}" for i in range(len(values))],
                              "platform": "youtube", "followers": 1.0,
                              "account_created": values})
        posts = pd.DataFrame({"post_id": ["p"], "creator_id": ["c0"], "posted_at": values[:1],
                              "likes": 1.0, "comments": 1.0})
        tables = {"creators": frame, "posts": posts}
        fast = (_problems(tables), _typed_or_none(tables))
        monkeypatch.setattr(validation, "_parse_plain_iso", lambda texts: None)
        assert (_problems(tables), _typed_or_none(tables)) == fast
        monkeypatch.undo()


def _typed_or_none(tables):
    try:
        ds = validate_tables(tables)
    except ContractError:
        return None
    return [ds.creators["account_created"].tolist(), ds.posts["posted_at"].tolist()]


def test_duplicate_key_with_a_missing_part_is_reported_once_not_crashing():
    tables = valid_tables()
    tables["follower_history"] = pd.DataFrame({
        "creator_id": ["c1", "c1", "c1"], "date": ["2025-01-01", "not a date", "also bad"],
        "followers": ["10", "11", "12"]})
    problems = problems_of(tables)
    assert [(p.column, p.message) for p in problems] == [("date", "wrong type")]
    assert problems[0].count == 2


def test_integers_too_large_to_hold_exactly_are_rejected():
    tables = valid_tables()
    tables["posts"].loc[0, "likes"] = str(2**70)
    problems = problems_of(tables)
    assert [(p.column, p.message, p.rows) for p in problems] == [
        ("likes", "value out of range", (1,))]


def test_contract_document_is_generated_from_the_code():
    from pathlib import Path

    from data.contract import contract_markdown

    document = Path(__file__).resolve().parents[2] / "data" / "CONTRACT.md"
    assert document.read_text(encoding="utf-8") == contract_markdown(), (
        "data/CONTRACT.md is stale: run python -m data.contract")


def test_large_tables_take_vectorised_casts_with_the_same_verdicts():
    from data.validation import VECTOR_MIN_ROWS

    rows = VECTOR_MIN_ROWS["number"] + 500
    creators = pd.DataFrame({"creator_id": ["c1"], "platform": ["instagram"],
                             "followers": ["10"]})
    likes = ["5"] * rows
    likes[10], likes[20], likes[30], likes[40] = "many", "inf", " 7 ", "2.5"
    caption = [" text "] * rows
    caption[50] = ""
    posts = pd.DataFrame({"post_id": [f"p{i}" for i in range(rows)], "creator_id": "c1",
                          "posted_at": "2025-01-01", "likes": likes, "comments": 1,
                          "caption": caption})
    problems = problems_of({"creators": creators, "posts": posts})
    assert [(p.column, p.message, p.rows) for p in problems] == [
        ("likes", "wrong type", (11, 21, 41))]
    posts.loc[[10, 20, 40], "likes"] = "5"
    dataset = validate_tables({"creators": creators, "posts": posts})
    assert dataset.posts["likes"].iloc[30] == 7
    assert dataset.posts["caption"].iloc[0] == "text"
    assert pd.isna(dataset.posts["caption"].iloc[50])
