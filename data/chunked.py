"""A dataset directory read as Arrow tables and validated piece by piece: pieces of at most
`chunk_creators` creators, each with the rows about them of every table (campaigns whole).

Memory: the Arrow tables of the whole dataset (text in one buffer per column, about the size
of the files) plus one piece as pandas while it is validated and used, instead of the whole
dataset as pandas object columns.

One validator: each piece goes through `data.validation.validate_tables`. What a piece cannot
see is checked here on whole columns, vectorised, before the pieces run: ids unique across the
table, rows whose creator is in no piece (orphans, or rows without a creator_id: validated as
an extra piece that is never yielded, so they are reported, never dropped) and references that
may cross pieces (comments.post_id -> posts, collaborations -> campaigns). Problems report the
file's 1-based data rows, values and expectations as validating the whole tables does.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data.contract import TABLES
from data.dataset import Dataset
from data.loader import arrow_to_frame, read_arrow_tables
from data.validation import (
    DUPLICATE_COLUMN,
    DUPLICATE_ID,
    DUPLICATE_KEY,
    MAX_EXAMPLES,
    MISSING_PARENT,
    ORPHAN,
    VALUE_CHECK_ORDER,
    ContractError,
    Problem,
    duplicate_id_problem,
    missing_parent_problem,
    orphan_problem,
    text_or_missing,
    validate_tables,
)

# The characters str.strip() removes, which the validator strips from text: ids are matched
# across tables on the same stripped text here. Every one is at most U+3000 (the ideographic
# space; a test compares with the scan of all of Unicode): scanning 12k code points instead of
# 1.1M saves ~55 ms at every start of the CLI.
_LAST_WHITESPACE = 0x3000
_WHITESPACE = "".join(chr(c) for c in range(_LAST_WHITESPACE + 1) if chr(c).isspace())


@dataclass(frozen=True)
class Chunk:
    """A validated piece: its Dataset and, per table, the file's 0-based data rows of its rows
    (campaigns: every row)."""

    dataset: Dataset
    file_rows: dict[str, np.ndarray]


def id_keys(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """An id column as the validator coerces text: stripped, missing when empty; non-text
    values (Parquet numbers) as their text, lists as missing."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        trimmed = pc.utf8_trim(column, characters=_WHITESPACE)
        return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
    texts = (text_or_missing(v) for v in column.to_pylist())
    return pa.array([t if isinstance(t, str) else None for t in texts], type=pa.large_string())


class ChunkedDataset:
    """Arrow tables of a dataset directory, validated and handed out in pieces of creators.

    `chunks()` yields each piece as a validated Chunk while no problem has been found; once one
    is found, it validates the remaining pieces without yielding them and raises ContractError
    with every problem, in the order and with the rows whole-table validation reports."""

    def __init__(self, tables: dict[str, pa.Table], chunk_creators: int):
        if chunk_creators < 1:
            raise ValueError(f"chunk size {chunk_creators}: expected >= 1")
        self.tables = tables
        self.chunk_creators = chunk_creators

    @classmethod
    def read(cls, directory: str | Path, chunk_creators: int) -> ChunkedDataset:
        """Read a dataset directory (ContractError when a file is unreadable or ragged)."""
        tables = read_arrow_tables(directory)
        # The CSV parser's buffers, freed but kept by Arrow's allocator: back to the system.
        pa.default_memory_pool().release_unused()
        return cls(tables, chunk_creators)

    # -- ids --------------------------------------------------------------------------------
    def keys(self, table: str, column: str) -> pa.Array:
        """The stripped id values of a table's column (all missing when the column is absent)."""
        arrow = self.tables[table]
        if column not in arrow.column_names:
            return pa.nulls(arrow.num_rows, type=pa.large_string())
        # A repeated column name: the validator reads the first one.
        return id_keys(arrow.column(arrow.column_names.index(column)))

    def has_value(self, table: str, column: str, value: str) -> bool:
        """True when `table.column` holds `value` in some row (False without the table)."""
        if table not in self.tables:
            return False
        return bool(pc.any(pc.equal(self.keys(table, column), value)).as_py())

    # -- pieces -----------------------------------------------------------------------------
    def _partition(self) -> tuple[int, dict[str, list[np.ndarray]]]:
        """(number of creator pieces, per split table: the file rows of each piece, then the
        rows of no piece as the last entry)."""
        size = self.chunk_creators
        n_creators = self.tables["creators"].num_rows if "creators" in self.tables else 0
        n_chunks = max(1, -(-n_creators // size))
        creator_keys = (self.keys("creators", "creator_id") if "creators" in self.tables
                        else pa.array([], type=pa.large_string()))
        rows: dict[str, list[np.ndarray]] = {}
        if "creators" in self.tables:
            rows["creators"] = [np.arange(k * size, min((k + 1) * size, n_creators))
                                for k in range(n_chunks)] + [np.arange(0)]
        for name in self.tables:
            if name == "creators" or "creator_id" not in TABLES[name].column_by_name:
                continue
            position = pc.index_in(self.keys(name, "creator_id"), value_set=creator_keys)
            # No creator (orphan or missing id): the extra piece n_chunks.
            position = pc.fill_null(position, n_chunks * size).to_numpy(zero_copy_only=False)
            chunk = position.astype("int64") // size
            # 32-bit row numbers: the pieces' rows of every table are held for the whole run.
            order = np.argsort(chunk, kind="stable").astype(_row_type(len(chunk)))
            bounds = np.searchsorted(chunk[order], np.arange(n_chunks + 2))
            rows[name] = [order[bounds[k]:bounds[k + 1]] for k in range(n_chunks + 1)]
        return n_chunks, rows

    def _piece(self, rows: dict[str, list[np.ndarray]], k: int) -> dict[str, np.ndarray]:
        return {name: pieces[k] for name, pieces in rows.items()}

    def _validate(self, file_rows: dict[str, np.ndarray]) -> tuple[Dataset | None, list[Problem]]:
        raw = {}
        for name, arrow in self.tables.items():
            piece = arrow if name not in file_rows else arrow.take(pa.array(file_rows[name]))
            raw[name] = arrow_to_frame(piece)
        try:
            return validate_tables(raw), []
        except ContractError as error:
            return None, error.problems

    def chunks(self) -> Iterator[Chunk]:
        unique, references = self.whole_table_problems()
        problems = unique + references
        merger = _ProblemMerger(self.tables)
        n_chunks, rows = self._partition()
        leftover = {name: pieces[-1] for name, pieces in rows.items() if name != "creators"}
        pieces = [self._piece(rows, k) for k in range(n_chunks)]
        if any(len(r) for r in leftover.values()):
            pieces.append({**{n: np.arange(0) for n in rows}, **leftover})
        for k, file_rows in enumerate(pieces):
            dataset, found = self._validate(file_rows)
            merger.add(found, file_rows, first=k == 0)
            if dataset is None or problems or merger.problems or k >= n_chunks:
                continue
            yield Chunk(dataset, {name: file_rows.get(name, np.arange(arrow.num_rows))
                                  for name, arrow in self.tables.items()})
        if problems or merger.problems:
            raise ContractError(merger.ordered(unique) + references)

    @contextlib.contextmanager
    def replayable_chunks(self) -> Iterator[ReplayableChunks]:
        """The pieces of `chunks()` for more than one pass, each validated once (see
        ReplayableChunks); the temporary files of the kept pieces are removed on exit."""
        one_piece = ("creators" not in self.tables
                     or self.tables["creators"].num_rows <= self.chunk_creators)
        if one_piece:  # the piece is the memory bound anyway: kept as it is
            yield ReplayableChunks(self, None)
            return
        with tempfile.TemporaryDirectory(prefix="creatorscore-pieces-") as folder:
            yield ReplayableChunks(self, Path(folder))

    # -- what a piece cannot see ------------------------------------------------------------
    def whole_table_problems(self) -> tuple[list[Problem], list[Problem]]:
        """(unique ids of the split tables, references), checked on whole columns: the
        problems validate_tables reports for them."""
        problems: list[Problem] = []
        for name in self.tables:
            table = TABLES[name]
            if not _is_split(name):
                continue
            for column in table.columns:
                if not column.unique:
                    continue
                if column.type != "str":  # ids are text in the contract; matched as text here
                    raise NotImplementedError(f"{name}.{column.name}: unique non-text column")
                keys = self.keys(name, column.name)
                codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
                present = pc.is_valid(keys).to_numpy(zero_copy_only=False)
                dup = np.ones(len(keys), dtype=bool)
                dup[np.unique(codes, return_index=True)[1]] = False
                _add(problems, name, column.name, dup & present, keys, *duplicate_id_problem())
        references: list[Problem] = []
        for name in TABLES:
            if name not in self.tables:
                continue
            for column, parent, parent_column in TABLES[name].references:
                keys = self.keys(name, column)
                present = pc.is_valid(keys).to_numpy(zero_copy_only=False)
                if parent not in self.tables:
                    if not TABLES[parent].required and present.any():
                        message, expected = missing_parent_problem(parent)
                        references.append(Problem(table=name, column=column, message=message,
                                                  expected=expected))
                    continue
                known = pc.is_in(keys, value_set=self.keys(parent, parent_column))
                orphan = present & ~known.to_numpy(zero_copy_only=False)
                _add(references, name, column, orphan, keys,
                     *orphan_problem(parent, parent_column))
        return problems, references


class ReplayableChunks:
    """The validated pieces of a ChunkedDataset, iterable more than once, validated once.

    The first iteration is `chunks()` (it raises ContractError as `chunks()` does); each piece
    it yields is also kept: in memory when the dataset is one piece, else written to `folder`
    as Arrow IPC files (about the size of the piece's Arrow tables, so the disk holds about
    the dataset once more). Later iterations read the kept pieces back, memory-mapped, instead
    of validating them again: memory stays bounded by one piece. The frames read back equal
    the validated ones, dtypes and index included (the pandas metadata Arrow keeps)."""

    def __init__(self, chunked: ChunkedDataset, folder: Path | None):
        self._chunked = chunked
        self._folder = folder
        self._kept: list[Chunk] | None = None  # once every piece passed: in memory, or ...
        self._written: list[tuple[list[str], dict[str, np.ndarray]]] | None = None  # on disk

    def __iter__(self) -> Iterator[Chunk]:
        if self._kept is not None:
            return iter(self._kept)
        if self._written is not None:
            return (self._read(k) for k in range(len(self._written)))
        return self._validate_and_keep()

    def _validate_and_keep(self) -> Iterator[Chunk]:
        kept, written = [], []
        for chunk in self._chunked.chunks():
            if self._folder is None:
                kept.append(chunk)
            else:
                written.append((self._write(len(written), chunk.dataset), chunk.file_rows))
            yield chunk
        # chunks() ended without a ContractError: every piece is valid and kept.
        if self._folder is None:
            self._kept = kept
        else:
            self._written = written

    def _path(self, k: int, table: str) -> str:
        return str(self._folder / f"{k}-{table}.arrow")

    def _write(self, k: int, dataset: Dataset) -> list[str]:
        """Write piece k's tables; their names."""
        for name, frame in dataset.tables.items():
            table = pa.Table.from_pandas(frame)
            with pa.OSFile(self._path(k, name), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        return list(dataset.tables)

    def _read(self, k: int) -> Chunk:
        names, file_rows = self._written[k]
        # The tables' buffers stay mapped while the piece's frames use them.
        tables = {name: pa.ipc.open_file(pa.memory_map(self._path(k, name))).read_all()
                  for name in names}
        return Chunk(Dataset(**{name: table.to_pandas() for name, table in tables.items()}),
                     file_rows)


def _row_type(n_rows: int) -> type:
    return np.int32 if n_rows < 2**31 else np.int64


def _is_split(name: str) -> bool:
    """Tables whose rows are spread over the pieces (the others go whole into every piece)."""
    return name == "creators" or "creator_id" in TABLES[name].column_by_name


def _add(problems: list[Problem], table: str, column: str, mask: np.ndarray, values: pa.Array,
         message: str, expected: str) -> None:
    positions = np.flatnonzero(mask)
    if positions.size:
        first = positions[:MAX_EXAMPLES]
        problems.append(Problem(table=table, column=column, message=message,
                                rows=tuple(int(p) + 1 for p in first),
                                values=tuple(values.take(pa.array(first)).to_pylist()),
                                expected=expected, count=int(positions.size)))


class _ProblemMerger:
    """The problems of the pieces as validating the whole tables reports them: rows mapped to
    the file's rows (the first MAX_EXAMPLES of all pieces, counts summed), one copy of each
    problem without rows, whole tables' problems from the first piece only, and what the whole
    columns settle (unique ids of split tables, references) left to them."""

    def __init__(self, tables: dict[str, pa.Table]):
        self.tables = tables
        self._merged: dict[tuple, dict] = {}
        self._sequence: list[tuple] = []

    @property
    def problems(self) -> bool:
        return bool(self._merged)

    def add(self, problems: list[Problem], file_rows: dict[str, np.ndarray], first: bool
            ) -> None:
        previous = None
        for problem in problems:
            if problem.message.startswith((ORPHAN, MISSING_PARENT)):
                continue  # settled on whole columns
            split = problem.table in file_rows and _is_split(problem.table)
            if split and problem.message == DUPLICATE_ID:
                continue  # settled on whole columns
            if not split and not first and problem.table in self.tables:
                continue  # a whole table: the same problems in every piece
            key = (problem.table, problem.column, problem.message, problem.expected)
            entry = self._merged.get(key)
            if entry is None:
                entry = self._merged[key] = {"problem": problem, "rows": [], "values": [],
                                             "count": 0}
                at = self._sequence.index(previous) + 1 if previous in self._sequence \
                    else len(self._sequence)
                self._sequence.insert(at, key)
            elif not problem.count:
                previous = key
                continue  # a problem without rows (a missing column...): once
            mapped = (file_rows[problem.table][np.asarray(problem.rows, dtype="int64") - 1] + 1
                      if split else np.asarray(problem.rows, dtype="int64"))
            entry["rows"] += mapped.tolist()
            entry["values"] += list(problem.values) or [None] * len(mapped)
            entry["count"] += problem.count
            entry["has_values"] = bool(problem.values)
            previous = key

    def ordered(self, unique: list[Problem]) -> list[Problem]:
        """The merged problems in validate_tables' order: table by table, a table's columns in
        contract order (repeated column names first; a column's checks in the validator's
        order), then its unique ids and keys."""
        table_order = list(TABLES)

        def place(key: tuple) -> tuple:
            table, column, message, _ = key
            columns = [c.name for c in TABLES[table].columns] if table in TABLES else []
            section = 2 if message == DUPLICATE_KEY else 1 if message == DUPLICATE_ID else 0
            if message.startswith(DUPLICATE_COLUMN) or column is None:
                at = -1
            else:
                at = columns.index(column) if column in columns else len(columns)
            check = next((i for i, start in enumerate(VALUE_CHECK_ORDER)
                          if message.startswith(start)), len(VALUE_CHECK_ORDER))
            return (table_order.index(table) if table in table_order else -1, section, at,
                    check)

        by_key = {(p.table, p.column, p.message, p.expected): p for p in unique}
        out = []
        for key in sorted(self._sequence + list(by_key), key=place):
            if key in by_key:
                out.append(by_key[key])
                continue
            entry = self._merged[key]
            problem = entry["problem"]
            if not problem.count:
                out.append(problem)
                continue
            order = np.argsort(entry["rows"], kind="stable")[:MAX_EXAMPLES]
            out.append(Problem(
                table=problem.table, column=problem.column, message=problem.message,
                rows=tuple(int(entry["rows"][i]) for i in order),
                values=tuple(entry["values"][i] for i in order) if entry["has_values"] else (),
                expected=problem.expected, count=entry["count"]))
        return out


__all__ = ["Chunk", "ChunkedDataset", "ReplayableChunks", "id_keys"]
