"""Read a dataset directory (`<table>.csv` or `<table>.parquet`) into a validated Dataset."""
from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data.contract import TABLES
from data.dataset import Dataset
from data.validation import ContractError, Problem, validate_tables

__all__ = ["ContractError", "Problem", "ReadAborted", "load_dataset", "read_arrow_batches",
           "read_arrow_table", "read_arrow_tables", "read_table_file", "read_table_files",
           "read_tables", "validate_tables"]

T = TypeVar("T")


MAX_RAGGED_EXAMPLES = 5


# The pieces a table file is streamed in (`read_arrow_batches`): about this many bytes of a CSV
# file (Arrow's block), this many rows of a Parquet file. A piece of the reader's memory.
CSV_BLOCK_BYTES = 8 << 20
PARQUET_BATCH_ROWS = 64 * 1024


def read_arrow_table(path: Path) -> pa.Table:
    """One table file as Arrow: Parquet with its own types; CSV with every column as text (the
    validator coerces, so a bad value is reported with its row instead of silently turning a
    column into another type), empty fields missing, the header's names as written (a
    repeated name stays repeated, so the validator reports it instead of keeping one).
    Arrow keeps text in one buffer per column: a fraction of pandas' object columns."""
    if path.suffix == ".parquet":
        return pq.read_table(path)
    header = _csv_header(path)
    with _ragged_lines_named(path):
        table = pacsv.read_csv(path, **_csv_options(header))
    return table.rename_columns(header)


def read_arrow_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """One table file as `read_arrow_table` reads it, in record batches of the file's rows in
    order (about CSV_BLOCK_BYTES of a CSV file, PARQUET_BATCH_ROWS of a Parquet file): the
    schema, then the batches, read as they are asked for. A bad header is raised here, the
    problems of later lines while iterating (a ragged CSV as RaggedCsvError)."""
    if path.suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        return parquet.schema_arrow, _parquet_batches(parquet)
    header = _csv_header(path)
    schema = pa.schema([pa.field(name, pa.string()) for name in header])
    return schema, _csv_batches(path, header)


def _parquet_batches(parquet: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    with parquet:
        yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)


def _csv_batches(path: Path, header: list[str]) -> Iterator[pa.RecordBatch]:
    with _ragged_lines_named(path):
        for batch in pacsv.open_csv(path, **_csv_options(header, CSV_BLOCK_BYTES)):
            yield batch.rename_columns(header)


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    if not header:
        raise ValueError("no header line")
    return header


def _csv_options(header: list[str], block_size: int | None = None) -> dict:
    """Arrow's CSV options for a file with `header` (see read_arrow_table)."""
    # Placeholder names: Arrow would refuse to type a repeated name; the real ones are put back.
    placeholders = [f"f{i}" for i in range(len(header))]
    read_options = pacsv.ReadOptions(column_names=placeholders, skip_rows=1, encoding="utf8")
    if block_size is not None:
        read_options.block_size = block_size
    return {"read_options": read_options,
            "parse_options": pacsv.ParseOptions(newlines_in_values=True),
            "convert_options": pacsv.ConvertOptions(
                column_types={name: pa.string() for name in placeholders},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True)}


@contextlib.contextmanager
def _ragged_lines_named(path: Path) -> Iterator[None]:
    """Arrow's CSV parser stops at the first line whose number of fields is not the header's;
    the line by line check (a Python pass over every line, so only on failure) names them
    all (RaggedCsvError); other failures are raised as they are."""
    try:
        yield
    except pa.ArrowInvalid:
        _check_csv_shape(path)
        raise


def read_table_file(path: Path) -> pd.DataFrame:
    """One table file as a raw frame (text columns for a CSV), for the validator."""
    return arrow_to_frame(read_arrow_table(path))


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """A raw Arrow table as pandas (columns as named, repeated names kept)."""
    return table.to_pandas()


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
    return {name: arrow_to_frame(table) for name, table in read_arrow_tables(directory).items()}


def read_arrow_tables(directory: str | Path) -> dict[str, pa.Table]:
    """The raw contract tables found in `directory`, as Arrow; raises ContractError if
    unreadable."""
    return read_table_files(directory, lambda _, path: read_arrow_table(path))


class ReadAborted(Exception):  # noqa: N818 - a signal carrying its cause, not an error itself
    """Raised (from its cause) by a reader of `read_table_files` for a failure that is not the
    file's, such as the disk the reader writes to being full: its cause is raised as it is
    instead of being reported as a problem of the file."""


def read_table_files(directory: str | Path, read: Callable[[str, Path], T]) -> dict[str, T]:
    """`read(table name, path)` of each contract table's file in `directory`, in contract order;
    ContractError naming every table whose file cannot be read (or that has both a .csv and a
    .parquet file), once every file was tried."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError([Problem(table="(dataset)", message=f"no such directory: {directory}",
                                     expected="a directory with <table>.csv or .parquet files")])
    tables: dict[str, T] = {}
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
            tables[name] = read(name, candidates[0])
        except ReadAborted as aborted:
            raise (aborted.__cause__ or aborted) from None
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
