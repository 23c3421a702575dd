"""Read a dataset directory (`<table>.csv` or `<table>.parquet`) into a validated Dataset."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from data.contract import TABLES
from data.dataset import Dataset
from data.validation import ContractError, Problem, validate_tables

__all__ = ["ContractError", "Problem", "load_dataset", "read_table_file", "read_tables",
           "validate_tables"]


MAX_RAGGED_EXAMPLES = 5


def read_table_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    header = _check_csv_shape(path)
    # Everything as text: the validator coerces, so a bad value is reported with its row
    # instead of silently turning a column into another type. index_col=False: a first line
    # longer than the header must not become an index (it is reported above).
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                        encoding="utf-8-sig", index_col=False)
    if len(header) == frame.shape[1]:
        # pandas renames a repeated header ("likes", "likes.1"): the validator sees the names
        # as written, so it reports the duplicate instead of silently keeping one.
        frame.columns = header
    return frame


class RaggedCsvError(ValueError):
    """CSV lines whose number of fields differs from the header's."""


def _check_csv_shape(path: Path) -> list[str]:
    """The header of a CSV file; RaggedCsvError naming the lines (1-based, header = line 1)
    whose number of fields is not the header's: pandas would pad a short line with missing
    values and shift a long one, turning one bad line into many wrong values."""
    ragged: list[tuple[int, int]] = []
    count = 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        width = len(header)
        for fields in reader:
            if fields and len(fields) != width:
                count += 1
                if len(ragged) < MAX_RAGGED_EXAMPLES:
                    ragged.append((reader.line_num, len(fields)))
    if count:
        shown = ", ".join(f"line {line} has {n}" for line, n in ragged)
        more = f" and {count - len(ragged)} more line(s)" if count > len(ragged) else ""
        raise RaggedCsvError(f"{path.name}: {count} line(s) with the wrong number of fields: "
                             f"{shown}{more}; "
                             f"expected {width} fields on every line, as in the header "
                             "(quote values that contain commas)")
    return header


def read_tables(directory: str | Path) -> dict[str, pd.DataFrame]:
    """The raw contract tables found in `directory`; raises ContractError if unreadable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError([Problem(table="(dataset)", message=f"no such directory: {directory}",
                                     expected="a directory with <table>.csv or .parquet files")])
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for name in TABLES:
        candidates = [p for p in (directory / f"{name}.csv", directory / f"{name}.parquet")
                      if p.exists()]
        if len(candidates) > 1:
            problems.append(Problem(table=name, message="both .csv and .parquet files exist",
                                    expected="exactly one file per table"))
            continue
        if not candidates:
            continue
        try:
            tables[name] = read_table_file(candidates[0])
        except RaggedCsvError as exc:
            problems.append(Problem(table=name, message=str(exc)))
        except Exception as exc:  # noqa: BLE001 - any parser failure is a user-facing problem
            problems.append(Problem(table=name, message=f"cannot read {candidates[0].name}: "
                                    f"{type(exc).__name__}: {exc}",
                                    expected="a well-formed UTF-8 CSV with a header, or Parquet"))
    if problems:
        raise ContractError(problems)
    return tables


def load_dataset(directory: str | Path) -> Dataset:
    """Read, coerce and validate every contract table of `directory`."""
    return validate_tables(read_tables(directory))
