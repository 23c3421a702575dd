"""ChunkedDataset: a dataset validated piece by piece gives the frames and the problems of
validating it whole (the same validator; what a piece cannot see checked on whole columns)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from data.chunked import ChunkedDataset
from data.io import write_dataset
from data.loader import load_dataset, read_arrow_batches
from data.synthetic import generate_world
from data.validation import ContractError

SIZES = (1, 7, 40, 10_000)


@lru_cache(maxsize=1)
def world_tables() -> dict[str, pd.DataFrame]:
    return generate_world(60, 6, seed=5, posts_per_creator=8).tables


def tables_copy() -> dict[str, pd.DataFrame]:
    return {name: frame.astype(object) for name, frame in world_tables().items()}


def reassemble(chunks, name: str) -> pd.DataFrame:
    """A table of the yielded pieces, back in the file's order."""
    if name == "campaigns":
        frames = [chunks[0].dataset.campaigns]
        rows = [np.arange(len(frames[0]))]
    else:
        frames = [c.dataset.tables[name] for c in chunks]
        rows = [c.file_rows[name] for c in chunks]
    order = np.argsort(np.concatenate(rows), kind="stable")
    return pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)


def whole_problems(directory) -> list:
    with pytest.raises(ContractError) as caught:
        load_dataset(directory)
    return caught.value.problems


def chunked_problems(directory, size: int) -> list:
    with pytest.raises(ContractError) as caught:
        for _ in ChunkedDataset.read(directory, size).chunks():
            pass
    return caught.value.problems


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pieces_hold_every_row_as_validated_whole(tmp_path, fmt):
    write_dataset(world_tables(), tmp_path, fmt=fmt)
    whole = load_dataset(tmp_path)
    for size in SIZES:
        chunks = list(ChunkedDataset.read(tmp_path, size).chunks())
        assert len(chunks) == -(-len(whole.creators) // size)
        assert all(len(c.dataset.creators) <= size for c in chunks)
        for name, frame in whole.tables.items():
            pd.testing.assert_frame_equal(reassemble(chunks, name), frame)
        for chunk in chunks:  # a piece holds the rows about its creators only
            ids = set(chunk.dataset.creators["creator_id"])
            assert set(chunk.dataset.posts["creator_id"]) <= ids


def broken_tables() -> dict[str, pd.DataFrame]:
    t = tables_copy()
    posts, creators, comments = t["posts"], t["creators"], t["comments"]
    last = len(posts) - 1
    posts.loc[last - 3, "likes"] = "many"  # a bad value in the last piece
    posts.loc[4, "likes"] = -3  # ... and another check of the same column in the first
    posts.loc[2, "post_id"] = posts.loc[last, "post_id"]  # duplicate id across pieces
    posts.loc[6, "creator_id"] = "nobody"  # orphan
    posts.loc[7, "creator_id"] = None  # no creator: reported, never dropped
    posts.loc[9, "creator_id"] = "  " + str(posts.loc[9, "creator_id"]) + " "  # stripped: fine
    posts.loc[8, "posted_at"] = "1999-01-01"
    comments.loc[1, "post_id"] = posts.loc[last - 1, "post_id"]  # a post of another piece: fine
    comments.loc[2, "post_id"] = "no-such-post"
    creators.loc[len(creators) - 2, "creator_id"] = creators.loc[0, "creator_id"]
    creators.loc[len(creators) - 1, "followers"] = "x"
    creators.loc[3, "platform"] = "myspace"
    t["collaborations"].loc[0, "campaign_id"] = "no-such-campaign"
    t["follower_history"].loc[1, "date"] = t["follower_history"].loc[0, "date"]  # same key
    t["authenticity_labels"].loc[1, "creator_id"] = t["authenticity_labels"].loc[0,
                                                                                 "creator_id"]
    return t


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_broken_dataset_gives_the_problems_of_whole_validation(tmp_path, fmt):
    tables = broken_tables()
    if fmt == "parquet":  # Parquet columns keep their (here mixed) values as text
        tables = {n: f.astype(str).mask(f.isna()) for n, f in tables.items()}
    write_dataset(tables, tmp_path, fmt=fmt)
    expected = whole_problems(tmp_path)
    messages = {(p.table, p.column, p.message.split(":")[0]) for p in expected}
    for needed in [("posts", "likes", "wrong type"), ("posts", "post_id", "duplicate id"),
                   ("posts", "creator_id", "orphan row"), ("posts", "creator_id",
                                                           "missing value"),
                   ("comments", "post_id", "orphan row"),
                   ("creators", "creator_id", "duplicate id"),
                   ("collaborations", "campaign_id", "orphan row"),
                   ("follower_history", "creator_id + date", "duplicate row for the same key"),
                   ("authenticity_labels", "creator_id", "duplicate id")]:
        assert needed in messages, needed
    for size in SIZES:
        assert chunked_problems(tmp_path, size) == expected, size


def test_a_late_bad_value_stops_the_pieces_and_reports_its_file_row(tmp_path):
    tables = tables_copy()
    last = len(tables["posts"]) - 1
    tables["posts"].loc[last, "comments"] = "lots"
    write_dataset(tables, tmp_path)
    chunked = ChunkedDataset.read(tmp_path, 7)
    yielded = []
    with pytest.raises(ContractError) as caught:
        for chunk in chunked.chunks():
            yielded.append(chunk)
    assert len(yielded) < -(-len(tables["creators"]) // 7)  # the last piece is never yielded
    [problem] = caught.value.problems
    assert (problem.table, problem.column, problem.rows, problem.values) == (
        "posts", "comments", (last + 1,), ("lots",))
    assert caught.value.problems == whole_problems(tmp_path)


@pytest.mark.parametrize("damage", ["no posts table", "no creators table", "no likes column",
                                    "no creator_id column", "repeated likes column"])
def test_missing_tables_and_columns(tmp_path, damage):
    tables = tables_copy()
    if damage == "no posts table":
        del tables["posts"]
    elif damage == "no creators table":
        del tables["creators"]
    elif damage == "no likes column":
        tables["posts"] = tables["posts"].drop(columns="likes")
    elif damage == "no creator_id column":
        tables["comments"] = tables["comments"].drop(columns="creator_id")
    write_dataset(tables, tmp_path)
    if damage == "repeated likes column":
        path = tmp_path / "posts.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[0] = lines[0].replace("comments", "likes", 1)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = whole_problems(tmp_path)
    for size in (3, 10_000):
        assert chunked_problems(tmp_path, size) == expected


def test_empty_creators_table(tmp_path):
    tables = {name: frame.iloc[:0] for name, frame in world_tables().items()}
    write_dataset(tables, tmp_path)
    [chunk] = ChunkedDataset.read(tmp_path, 5).chunks()
    assert len(chunk.dataset.creators) == 0 and len(chunk.dataset.posts) == 0


def test_unreadable_and_ragged_files_are_refused_before_any_piece(tmp_path):
    write_dataset(world_tables(), tmp_path)
    path = tmp_path / "posts.csv"
    path.write_text(path.read_text(encoding="utf-8") + "a,b\n", encoding="utf-8")
    with pytest.raises(ContractError, match="wrong number of fields"):
        ChunkedDataset.read(tmp_path, 5)


@pytest.mark.parametrize("size", [7, 10_000])
def test_replayed_pieces_equal_the_validated_ones_without_validating_again(tmp_path, size,
                                                                            monkeypatch):
    import data.chunked

    write_dataset(world_tables(), tmp_path)
    validations = []
    validate = data.chunked.validate_tables
    monkeypatch.setattr(data.chunked, "validate_tables",
                        lambda raw: validations.append(1) or validate(raw))
    chunked = ChunkedDataset.read(tmp_path, size)
    with chunked.replayable_chunks() as pieces:
        first = list(pieces)
        validated = len(validations)
        assert validated == len(first) == -(-len(world_tables()["creators"]) // size)
        for _ in range(2):
            again = list(pieces)
            assert len(validations) == validated  # read back, not validated again
            assert len(again) == len(first)
            for kept, chunk in zip(first, again, strict=True):
                assert kept.dataset.tables.keys() == chunk.dataset.tables.keys()
                for name, frame in kept.dataset.tables.items():
                    pd.testing.assert_frame_equal(chunk.dataset.tables[name], frame,
                                                  check_exact=True)
                assert kept.file_rows.keys() == chunk.file_rows.keys()
                for name, rows in kept.file_rows.items():
                    np.testing.assert_array_equal(chunk.file_rows[name], rows)
        folder = pieces._folder
        assert (folder is None) == (size >= len(world_tables()["creators"]))
    assert folder is None or not folder.exists()  # the kept pieces' files are removed


def test_replayable_pieces_of_a_broken_dataset_raise_every_problem(tmp_path):
    write_dataset(broken_tables(), tmp_path)
    with pytest.raises(ContractError) as caught:
        with ChunkedDataset.read(tmp_path, 7).replayable_chunks() as pieces:
            for _ in pieces:
                pass
    assert caught.value.problems == whole_problems(tmp_path)


def test_id_keys_strip_every_unicode_whitespace_character():
    """The characters stripped from ids are those str.strip() removes, found by scanning up
    to U+3000 only (start-up time): the scan of all of Unicode finds no more."""
    import sys

    from data import chunked

    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert chunked._WHITESPACE == every


# -- streaming: files read in batches, pieces written to and read back from disk -----------

@pytest.fixture
def small_batches(monkeypatch):
    """Batches of a few rows (every table of the test world spans many) and at most two piece
    files open at once (pieces go on in new files)."""
    import data.chunked
    import data.loader

    monkeypatch.setattr(data.loader, "CSV_BLOCK_BYTES", 2048)
    monkeypatch.setattr(data.loader, "PARQUET_BATCH_ROWS", 16)
    monkeypatch.setattr(data.chunked, "MAX_OPEN_PIECE_FILES", 2)


def shuffled_tables() -> dict[str, pd.DataFrame]:
    """The world with every table's rows in a random order: a batch holds rows of several
    pieces, and a piece rows of many batches."""
    rng = np.random.default_rng(3)
    return {name: frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
            for name, frame in world_tables().items()}


def batch_count(path) -> int:
    return sum(1 for _ in read_arrow_batches(path)[1])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_streamed_pieces_are_the_rows_of_the_whole_tables_in_file_order(tmp_path, fmt,
                                                                         small_batches):
    """Each piece holds, for every table, the rows of its creators (by their first row in
    the creators file) in the file's order, with their file rows: what taking them from the
    whole tables gives."""
    write_dataset(shuffled_tables(), tmp_path, fmt=fmt)
    assert batch_count(tmp_path / f"posts.{fmt}") > 10
    whole = load_dataset(tmp_path)
    creator_ids = whole.creators["creator_id"].tolist()
    first_row = {c: creator_ids.index(c) for c in creator_ids}
    for size in (1, 7, 40, 10_000):
        with ChunkedDataset.read(tmp_path, size) as chunked:
            chunks = list(chunked.chunks())
        assert len(chunks) == -(-len(creator_ids) // size)
        for k, chunk in enumerate(chunks):
            for name, frame in whole.tables.items():
                if name == "creators":
                    expected = np.arange(k * size, min((k + 1) * size, len(frame)))
                elif name == "campaigns":
                    expected = np.arange(len(frame))
                else:
                    expected = np.flatnonzero([first_row[c] // size == k
                                               for c in frame["creator_id"]])
                np.testing.assert_array_equal(chunk.file_rows[name], expected)
                pd.testing.assert_frame_equal(chunk.dataset.tables[name],
                                              frame.iloc[expected].reset_index(drop=True))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_problems_in_later_batches_are_those_of_whole_validation(tmp_path, fmt,
                                                                  small_batches):
    """Duplicate ids across pieces, orphans, rows without a creator, references across
    pieces and wrong values in the last batches: the problems of validating whole, with the
    file's rows."""
    tables = broken_tables()
    if fmt == "parquet":
        tables = {n: f.astype(str).mask(f.isna()) for n, f in tables.items()}
    write_dataset(tables, tmp_path, fmt=fmt)
    first_batch = next(read_arrow_batches(tmp_path / f"posts.{fmt}")[1])
    assert first_batch.num_rows < len(tables["posts"]) - 4  # "many" is in a later batch
    expected = whole_problems(tmp_path)
    assert ("posts", "likes") in {(p.table, p.column) for p in expected}
    for size in (1, 7, 40, 10_000):
        assert chunked_problems(tmp_path, size) == expected, size


def test_a_ragged_line_in_a_later_batch_is_named_as_whole_reading_names_it(tmp_path,
                                                                          small_batches):
    write_dataset(world_tables(), tmp_path)
    path = tmp_path / "posts.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[-3] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert batch_count(tmp_path / "comments.csv") > 1
    expected = whole_problems(tmp_path)
    assert "wrong number of fields" in str(expected[0]) and f"line {len(lines) - 2}" in \
        str(expected[0])
    with pytest.raises(ContractError) as caught:
        ChunkedDataset.read(tmp_path, 7)
    assert caught.value.problems == expected


def _pieces_folders(directory) -> list:
    return [p for p in directory.iterdir() if p.name.startswith("creatorscore-pieces-")]


def test_the_pieces_files_are_in_tmpdir_and_removed_after_success_and_errors(tmp_path,
                                                                             monkeypatch):
    import errno
    import gc
    import tempfile

    import pyarrow as pa

    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    data = tmp_path / "world"
    write_dataset(world_tables(), data)

    with ChunkedDataset.read(data, 7) as chunked:
        assert _pieces_folders(spill) == [chunked.folder]
        assert any(chunked.folder.glob("posts-*"))
        with chunked.replayable_chunks() as pieces:
            list(pieces)
            list(pieces)
    assert not any(spill.iterdir())

    chunked = ChunkedDataset.read(data, 7)  # never closed: removed when collected
    list(chunked.chunks())
    del chunked
    gc.collect()
    assert not any(spill.iterdir())

    broken = tmp_path / "broken"
    write_dataset(broken_tables(), broken)
    with pytest.raises(ContractError), ChunkedDataset.read(broken, 7) as chunked:
        list(chunked.chunks())
    assert not any(spill.iterdir())

    ragged = broken / "comments.csv"
    ragged.write_text(ragged.read_text(encoding="utf-8") + "a,b\n", encoding="utf-8")
    with pytest.raises(ContractError, match="wrong number of fields"):
        ChunkedDataset.read(broken, 7)
    assert not any(spill.iterdir())

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pa.ipc, "new_stream", full_disk)
    with pytest.raises(OSError, match="No space left") as caught:  # the disk's, not the data's
        ChunkedDataset.read(data, 7)
    assert caught.value.errno == errno.ENOSPC
    assert not any(spill.iterdir())


def test_only_the_key_columns_are_kept_in_memory(tmp_path):
    """What the checks across pieces hold while the pieces are on disk: the ids and
    references of _kept_columns, each piece's file rows, and campaigns (every piece's)."""
    write_dataset(world_tables(), tmp_path)
    with ChunkedDataset.read(tmp_path, 7) as chunked:
        assert sorted(chunked._keys) == [
            ("authenticity_labels", "creator_id"), ("collaborations", "campaign_id"),
            ("comments", "post_id"), ("creators", "creator_id"), ("posts", "post_id")]
        assert list(chunked._whole) == ["campaigns"]
        with pytest.raises(ValueError, match="not a key column kept"):
            chunked.keys("posts", "caption")
        assert chunked.has_value("collaborations", "campaign_id",
                                 world_tables()["collaborations"]["campaign_id"].iloc[-1])
        assert not chunked.has_value("collaborations", "campaign_id", "no-such-campaign")
