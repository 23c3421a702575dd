"""A dataset directory streamed into pieces of creators and validated piece by piece: pieces of
at most `chunk_creators` creators, each with the rows about them of every table (campaigns
whole), with the rows, in the order, that taking them from the whole tables gives.

Reading (`ChunkedDataset.read`): each table's file is read in record batches
(`data.loader.read_arrow_batches`: Arrow's CSV reader with the contract's text columns, or a
Parquet file's batches). The rows of each batch go to the piece of their creator (its position
in the creators file; rows of no creator to an extra piece, validated, never yielded) and are
appended to that piece's file for the table: Arrow IPC streams in a temporary directory
(tempfile's: TMPDIR), removed when the ChunkedDataset is closed (`with`), on an error while
reading, else when it is garbage collected or at exit. Each piece is then read back alone.
Campaigns, which every piece holds whole, are read whole.

Memory: peak ~ the key columns of the dataset + two pieces (or one read batch while reading),
not the dataset:
- the key columns: what the checks across pieces need, kept while reading as Arrow text (the
  ids that must be unique across a table: creators.creator_id, posts.post_id,
  authenticity_labels.creator_id; the references to a table other than creators and the ids
  they refer to: comments.post_id, collaborations.campaign_id, campaigns.campaign_id), plus
  each piece's file rows (4 bytes a row of every table); references to creators are checked
  batch by batch while reading;
- two pieces: one of `chunk_creators` creators and their rows of every table, as Arrow, then
  pandas, then validated, and what the command computes from it; the next one, validated
  meanwhile on a helper thread (see `chunks`);
- one read batch: ~CSV_BLOCK_BYTES (8 MiB) of a CSV file or PARQUET_BATCH_ROWS (64k) rows of
  a Parquet file, with what Arrow's reader holds ahead.
Measured (scripts/benchmark_features.py --cli; 5,000 creators a piece, 50 posts a creator,
CSV; the 2-core shared machine, load 0.9-1.7): the key columns take ~2.3 KB a creator (113 MiB
at 50k: 73 MiB of ids, 40 MiB of file rows); `creatorscore score` peaked at 984-997 MiB RSS for
10k creators and 1,114 MiB for 50k with one piece at a time (1,181-1,199 and 2,426 MiB when
the whole dataset's Arrow tables were held), 1,093 and 1,293 MiB with the next piece
validated ahead (2026-12-01 05:10 UTC). `features` fits
the pipeline piece by piece too (features.pipeline.fit_and_build_in_chunks), two pieces at
work at once (features.pipeline.PIECE_THREADS) beside the one validated ahead: 0.86-0.93 GiB
at 10k creators, 0.99-1.03 GiB at 50k (0.67 and 0.87-0.94 GiB one piece at a time);
`train` and `retrain` read their data this way as well (training.training_data: 1.3 GiB at
50k creators in pieces of 2,500, 1.5 GiB in pieces of 5,000, 4.2-4.6 GiB with the whole
dataset loaded).
Disk: the pieces' files hold about the dataset's
Arrow tables (about the size of the CSV files), written and read back uncompressed: Parquet's
encoding and decoding would cost ~0.6 s an 80 MiB table, ~15% of a run.

One validator: each piece goes through `data.validation.validate_tables`. What a piece cannot
see is checked here on whole columns, vectorised, before the pieces run: ids unique across the
table, rows whose creator is in no piece (orphans, or rows without a creator_id: validated as
an extra piece that is never yielded, so they are reported, never dropped) and references that
may cross pieces (comments.post_id -> posts, collaborations -> campaigns). Problems report the
file's 1-based data rows, values and expectations as validating the whole tables does.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data.contract import TABLES
from data.dataset import Dataset
from data.loader import (
    ReadAborted,
    arrow_to_frame,
    read_arrow_batches,
    read_arrow_table,
    read_table_files,
)
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


# Creators a piece holds by default (`--chunk-creators` of score, features, train, retrain;
# `ScoringBundle.score_table`): a few hundred MB of working set at 50 posts each. 2,500 rather
# than 5,000: as fast (50k creators, alternating runs, 2026-12-01 07:08 UTC: score 17.0-18.0 s
# both, features 25.8 vs 26.6 s, train 49.4 vs 50.6 s) in ~200-260 MiB less (score 1.09 vs
# 1.37 GiB, features 0.95 vs 1.15, train 1.32 vs 1.53).
CHUNK_CREATORS = 2_500

# Writers of piece files open at once while a table is read: past it, the least recently
# written piece's file is closed and the piece goes on in a new file (with few creators a
# piece, a file descriptor per piece would run out).
MAX_OPEN_PIECE_FILES = 64


class ChunkedDataset:
    """A dataset directory read into pieces of creators, validated and handed out one at a time.

    `read` streams the files into the pieces' files (ContractError when a file is unreadable
    or ragged). `chunks()` yields each piece as a validated Chunk while no problem has been
    found; once one is found, it validates the remaining pieces without yielding them and
    raises ContractError with every problem, in the order and with the rows whole-table
    validation reports. `close()` (or leaving `with`) removes the pieces' files."""

    def __init__(self, chunk_creators: int):
        if chunk_creators < 1:
            raise ValueError(f"chunk size {chunk_creators}: expected >= 1")
        self.chunk_creators = chunk_creators
        self.names: list[str] = []  # the tables read, in contract order
        self.n_rows: dict[str, int] = {}
        self._whole: dict[str, pa.Table] = {}  # tables every piece holds whole (campaigns)
        self._pieces: dict[str, _PieceFiles] = {}  # the others, piece by piece on disk
        self._rows: dict[str, list[np.ndarray]] = {}  # their file rows, piece by piece
        self._keys: dict[tuple[str, str], pa.Array] = {}  # see _kept_columns
        self._no_creator: dict[tuple[str, str], _Found] = {}  # orphans of creator references
        self.folder = Path(tempfile.mkdtemp(prefix="creatorscore-pieces-"))
        self._remove = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    @classmethod
    def read(cls, directory: str | Path, chunk_creators: int) -> ChunkedDataset:
        """Read a dataset directory (ContractError when a file is unreadable or ragged; the
        pieces' files are removed then, and on any other error)."""
        chunked = cls(chunk_creators)
        try:
            read_table_files(directory, chunked._read_table)
        except BaseException:
            chunked.close()
            raise
        # The readers' buffers, freed but kept by Arrow's allocator: back to the system.
        pa.default_memory_pool().release_unused()
        return chunked

    def close(self) -> None:
        """Remove the pieces' files (the ChunkedDataset cannot be used after)."""
        self._remove()

    def __enter__(self) -> ChunkedDataset:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    @property
    def n_creators(self) -> int:
        return self.n_rows.get("creators", 0)

    @property
    def n_chunks(self) -> int:
        """The number of creator pieces (at least one, also without creators)."""
        return max(1, -(-self.n_creators // self.chunk_creators))

    # -- reading ----------------------------------------------------------------------------
    def _read_table(self, name: str, path: Path) -> None:
        if not _is_split(name):
            self._whole[name] = read_arrow_table(path)
            self.n_rows[name] = self._whole[name].num_rows
            self.names.append(name)
            return
        schema, batches = read_arrow_batches(path)
        files = _PieceFiles(self.folder, name, schema)
        rows: dict[int, list[np.ndarray]] = {}
        kept: dict[str, list[pa.Array]] = {column: [] for column in _kept_columns(name)}
        no_creator = {(column, parent_column): _Found()
                      for column, parent, parent_column in TABLES[name].references
                      if parent == "creators" and "creators" in self.names}
        offset = 0
        try:
            for batch in batches:
                for column, arrays in kept.items():
                    arrays.append(_batch_keys(batch, column))
                piece = self._piece_of_rows(name, batch, offset, no_creator)
                order = np.argsort(piece, kind="stable")
                ordered = piece[order]
                starts = np.flatnonzero(np.diff(ordered, prepend=-1))
                for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
                    at = order[start:end]
                    rows.setdefault(int(ordered[start]), []).append(at + offset)
                    files.write(int(ordered[start]), _take(batch, at))
                offset += batch.num_rows
        finally:
            files.close()
        self.n_rows[name] = offset  # (for creators: the number of pieces from here)
        row_type = _row_type(offset)
        self._rows[name] = [np.concatenate(rows.get(k, [np.arange(0)])).astype(row_type)
                            for k in range(self.n_chunks + 1)]
        self._pieces[name] = files
        for column, arrays in kept.items():
            self._keys[(name, column)] = (pa.concat_arrays(arrays) if arrays
                                          else pa.array([], type=pa.large_string()))
        for (column, _), found in no_creator.items():
            self._no_creator[(name, column)] = found
        self.names.append(name)

    def _piece_of_rows(self, name: str, batch: pa.RecordBatch, offset: int,
                       no_creator: dict[tuple[str, str], _Found]) -> np.ndarray:
        """The piece of each row of a batch of table `name` (whose first row is the file's
        row `offset`): creators by their position in the file; the others by their
        creator's, n_chunks (the extra piece) without one. Counts the orphans of references
        to creators meanwhile."""
        size = self.chunk_creators
        if name == "creators":
            return (offset + np.arange(batch.num_rows)) // size
        creators = self._creator_keys()
        keys = _batch_keys(batch, "creator_id")
        # The first creator row of the same id (and a row without one, that of a creator
        # without one, if any: Arrow matches missing values too).
        position = pc.index_in(keys, value_set=creators)
        for (column, parent_column), found in no_creator.items():
            values = keys if column == "creator_id" else _batch_keys(batch, column)
            known = (pc.is_valid(position) if (column, parent_column) == ("creator_id",) * 2
                     else pc.is_in(values, value_set=self.keys("creators", parent_column)))
            found.add(pc.and_(pc.is_valid(values), pc.invert(known)), values, offset)
        position = pc.fill_null(position, self.n_chunks * size).to_numpy(zero_copy_only=False)
        return position.astype("int64") // size

    def _creator_keys(self) -> pa.Array:
        if "creators" not in self.names:
            return pa.array([], type=pa.large_string())
        return self.keys("creators", "creator_id")

    # -- ids --------------------------------------------------------------------------------
    def keys(self, table: str, column: str) -> pa.Array:
        """The stripped id values of a table's column in file order (all missing when the
        column is absent), for the columns kept while reading (see _kept_columns) and those
        of the tables read whole."""
        if table in self._whole:
            return _batch_keys(self._whole[table], column)
        if (table, column) not in self._keys:
            raise ValueError(f"{table}.{column}: not a key column kept while reading; "
                             f"expected one of {sorted(self._keys)}")
        return self._keys[(table, column)]

    def has_value(self, table: str, column: str, value: str) -> bool:
        """True when `table.column` holds `value` in some row (False without the table)."""
        if table not in self.names:
            return False
        return bool(pc.any(pc.equal(self.keys(table, column), value)).as_py())

    # -- pieces -----------------------------------------------------------------------------
    def _file_rows(self, k: int) -> dict[str, np.ndarray]:
        """Piece k's file rows of every table (the tables read whole: every row)."""
        return {name: self._rows[name][k] if name in self._rows
                else np.arange(self.n_rows[name]) for name in self.names}

    def _validate(self, k: int) -> tuple[Dataset | None, list[Problem]]:
        raw = {name: arrow_to_frame(self._pieces[name].read(k) if name in self._pieces
                                    else self._whole[name]) for name in self.names}
        try:
            return validate_tables(raw), []
        except ContractError as error:
            return None, error.problems

    def chunks(self) -> Iterator[Chunk]:
        n_chunks = self.n_chunks
        pieces = list(range(n_chunks))
        if any(len(rows[n_chunks]) for name, rows in self._rows.items() if name != "creators"):
            pieces.append(n_chunks)  # the rows of no creator: validated, never yielded
        # The next piece is validated on a helper thread while the caller works on this one
        # (Arrow and numpy release the GIL for much of both: at 50k creators `features` ~15%
        # faster, `score` ~7%); the first while the whole columns are checked here. Memory:
        # two pieces.
        with concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="validate-piece") as validator:
            validating = validator.submit(self._validate, pieces[0])
            unique, references = self.whole_table_problems()
            problems = unique + references
            merger = _ProblemMerger(self.names)
            for at, k in enumerate(pieces):
                dataset, found = validating.result()
                if at + 1 < len(pieces):
                    validating = validator.submit(self._validate, pieces[at + 1])
                file_rows = self._file_rows(k)
                merger.add(found, {name: file_rows[name] for name in self._rows},
                           first=k == 0)
                if dataset is None or problems or merger.problems or k >= n_chunks:
                    continue
                yield Chunk(dataset, file_rows)
        if problems or merger.problems:
            raise ContractError(merger.ordered(unique) + references)

    @contextlib.contextmanager
    def replayable_chunks(self) -> Iterator[ReplayableChunks]:
        """The pieces of `chunks()` for more than one pass, each validated once (see
        ReplayableChunks); the files of the kept pieces are removed on exit."""
        if self.n_creators <= self.chunk_creators:  # the piece is the memory bound anyway
            yield ReplayableChunks(self, None)
            return
        with tempfile.TemporaryDirectory(prefix="validated-", dir=self.folder) as folder:
            yield ReplayableChunks(self, Path(folder))

    # -- what a piece cannot see ------------------------------------------------------------
    def whole_table_problems(self) -> tuple[list[Problem], list[Problem]]:
        """(unique ids of the split tables, references), checked on whole columns (references
        to creators: batch by batch while reading): the problems validate_tables reports for
        them."""
        problems: list[Problem] = []
        for name in self.names:
            if not _is_split(name):
                continue
            for column in TABLES[name].columns:
                if not column.unique:
                    continue
                if column.type != "str":  # ids are text in the contract; matched as text here
                    raise NotImplementedError(f"{name}.{column.name}: unique non-text column")
                keys = self.keys(name, column.name)
                codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
                present = pc.is_valid(keys).to_numpy(zero_copy_only=False)
                dup = np.ones(len(keys), dtype=bool)
                dup[np.unique(codes, return_index=True)[1]] = False
                found = _Found().add(dup & present, keys)
                _append(problems, found.problem(name, column.name, *duplicate_id_problem()))
        references: list[Problem] = []
        for name in self.names:
            for column, parent, parent_column in TABLES[name].references:
                if parent not in self.names:
                    if not TABLES[parent].required and pc.any(
                            pc.is_valid(self.keys(name, column))).as_py():
                        message, expected = missing_parent_problem(parent)
                        references.append(Problem(table=name, column=column, message=message,
                                                  expected=expected))
                    continue
                if parent == "creators":
                    found = self._no_creator[(name, column)]
                else:
                    keys = self.keys(name, column)
                    known = pc.is_in(keys, value_set=self.keys(parent, parent_column))
                    found = _Found().add(pc.and_(pc.is_valid(keys), pc.invert(known)), keys)
                _append(references, found.problem(name, column,
                                                  *orphan_problem(parent, parent_column)))
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


def _kept_columns(name: str) -> list[str]:
    """The columns of split table `name` whose keys are kept whole while reading, for the
    checks across pieces: its ids that must be unique, its references to tables other than
    creators (those to creators are checked batch by batch against the creators' ids, read
    first) and the ids other tables refer to."""
    table = TABLES[name]
    kept = [column.name for column in table.columns if column.unique]
    kept += [column for column, parent, _ in table.references if parent != "creators"]
    kept += [parent_column for child in TABLES.values()
             for _, parent, parent_column in child.references if parent == name]
    return list(dict.fromkeys(kept))


def _batch_keys(batch: pa.RecordBatch | pa.Table, column: str) -> pa.Array:
    """`id_keys` of a batch's column as large_string (all missing when the column is absent;
    the first of a repeated name, which the validator reads)."""
    names = batch.schema.names
    if column not in names:
        return pa.nulls(batch.num_rows, type=pa.large_string())
    return id_keys(batch.column(names.index(column))).cast(pa.large_string())


def _take(batch: pa.RecordBatch, at: np.ndarray) -> pa.RecordBatch:
    """The rows `at` (increasing) of a batch: a slice, without a copy, when they follow each
    other (a file sorted by creator), else a copy."""
    if len(at) and at[-1] - at[0] + 1 == len(at):
        return batch.slice(int(at[0]), len(at))
    return batch.take(pa.array(at))


class _PieceFiles:
    """The rows of one table written piece by piece, in the order given, to Arrow IPC stream
    files under `folder`, and read back a piece at a time. Uncompressed IPC: written and read
    at about memory speed (Parquet's encoding and decoding cost ~0.6 s an 80 MiB table of text,
    where IPC costs 0.06 s: ~15% of a `score` run). Write failures (a full disk) are raised
    as ReadAborted: not a problem of the file being read."""

    def __init__(self, folder: Path, table: str, schema: pa.Schema):
        self.folder = folder
        self.table = table
        self.schema = schema
        self.parts: dict[int, list[Path]] = {}
        self._open: dict[int, tuple[pa.NativeFile, pa.ipc.RecordBatchStreamWriter]] = {}

    def write(self, k: int, batch: pa.RecordBatch) -> None:
        try:
            if k in self._open:
                self._open[k] = self._open.pop(k)  # the most recently written, last
            else:
                if len(self._open) >= MAX_OPEN_PIECE_FILES:
                    self._close(next(iter(self._open)))
                parts = self.parts.setdefault(k, [])
                path = self.folder / f"{self.table}-{k}-{len(parts)}.arrows"
                sink = pa.OSFile(str(path), "wb")
                self._open[k] = (sink, pa.ipc.new_stream(sink, self.schema))
                parts.append(path)
            self._open[k][1].write_batch(batch)
        except OSError as error:
            raise ReadAborted from error

    def _close(self, k: int) -> None:
        sink, writer = self._open.pop(k)
        writer.close()
        sink.close()

    def close(self) -> None:
        try:
            while self._open:
                self._close(next(iter(self._open)))
        except OSError as error:
            raise ReadAborted from error

    def read(self, k: int) -> pa.Table:
        """Piece k's rows (none: an empty table of the file's schema)."""
        tables = []
        for path in self.parts.get(k, []):
            with pa.OSFile(str(path), "rb") as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        if not tables:
            return self.schema.empty_table()
        # One chunk a column, as taking the rows from a whole table gives: the validator's
        # quick checks of text need it.
        return pa.concat_tables(tables).combine_chunks()


class _Found:
    """The rows a check finds, added a batch at a time in file order: the first MAX_EXAMPLES
    (the file's 0-based rows) with their values, and how many."""

    def __init__(self):
        self.rows: list[int] = []
        self.values: list = []
        self.count = 0

    def add(self, mask: np.ndarray | pa.Array, values: pa.Array, offset: int = 0) -> _Found:
        """Add the rows of `mask` of a batch whose first row is the file's row `offset`."""
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            mask = mask.to_numpy(zero_copy_only=False)
        positions = np.flatnonzero(mask)
        self.count += int(positions.size)
        first = positions[:MAX_EXAMPLES - len(self.rows)]
        if first.size:
            self.rows += (first + offset).tolist()
            self.values += values.take(pa.array(first)).to_pylist()
        return self

    def problem(self, table: str, column: str, message: str, expected: str) -> Problem | None:
        if not self.count:
            return None
        return Problem(table=table, column=column, message=message,
                       rows=tuple(row + 1 for row in self.rows), values=tuple(self.values),
                       expected=expected, count=self.count)


def _append(problems: list[Problem], problem: Problem | None) -> None:
    if problem is not None:
        problems.append(problem)


class _ProblemMerger:
    """The problems of the pieces as validating the whole tables reports them: rows mapped to
    the file's rows (the first MAX_EXAMPLES of all pieces, counts summed), one copy of each
    problem without rows, whole tables' problems from the first piece only, and what the whole
    columns settle (unique ids of split tables, references) left to them."""

    def __init__(self, tables: list[str]):
        self.tables = tables  # the names of the tables read
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
