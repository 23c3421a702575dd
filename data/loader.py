"""Read a dataset directory (`<table>.csv` or `<table>.parquet`) into a validated Dataset."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.contract import TABLES
from data.dataset import Dataset
from data.validation import ContractError, Problem, validate_tables

__all__ = ["ContractError", "Problem", "load_dataset", "read_tables", "validate_tables"]


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # Everything as text: the validator coerces, so a bad value is reported with its row
    # instead of silently turning a column into another type.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                       encoding="utf-8-sig")


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
            tables[name] = _read_table(candidates[0])
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
