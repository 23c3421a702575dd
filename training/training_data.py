"""What training reads: a whole Dataset, or a dataset directory read in pieces of creators.

Training needs two kinds of data. The tables it keeps whole are small and grow with the
campaigns, not with the creators' posts: campaigns, collaborations (the conversion labels and
the time split) and authenticity labels. Everything else (creators, posts, follower history,
audience samples, comments) is only ever read through features, and a creator's features read
its own rows: those tables are read one piece of creators at a time
(features.fit_in_pieces, features.transform_in_pieces), so `creatorscore train` and `retrain`
run in memory bounded by the pieces, not by the dataset (see `read_training_data`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.chunked import ChunkedDataset, ReplayableChunks
from data.dataset import Dataset

# The tables training keeps whole (their rows gathered from the pieces, in the file's order).
WHOLE_TABLES = ("collaborations", "authenticity_labels")
# The creators kept of the first piece, with their rows: the logged model's input example.
EXAMPLE_CREATORS = 5


@dataclass(frozen=True)
class TrainingData:
    """pieces(): the dataset's pieces of creators in order (re-iterable; one piece: the whole
    dataset); tables: campaigns, collaborations and authenticity labels whole (read in pieces:
    a Dataset whose creators and posts tables are empty); n_creators, n_audience: row counts
    of creators and audience_sample; example: the first creators with their rows."""

    pieces: Callable[[], Iterable[Dataset]]
    n_pieces: int
    tables: Dataset
    n_creators: int
    n_audience: int
    example: Dataset

    @classmethod
    def of_dataset(cls, ds: Dataset) -> TrainingData:
        """A whole dataset, one piece."""
        return cls(lambda: (ds,), 1, ds, ds.rows("creators"), ds.rows("audience_sample"), ds)

    @classmethod
    def of_pieces(cls, pieces: ReplayableChunks, n_pieces: int) -> TrainingData:
        """The validated pieces of a ChunkedDataset. One pass over them here validates every
        piece (ContractError with every problem, before any training) and gathers the
        tables kept whole, their rows in the files' order (what the whole dataset's tables
        hold)."""
        kept: dict[str, list[pd.DataFrame]] = {name: [] for name in WHOLE_TABLES}
        file_rows: dict[str, list[np.ndarray]] = {name: [] for name in WHOLE_TABLES}
        first: dict | None = None  # what is kept of the first piece (never the piece itself)
        n_creators = n_audience = 0
        for chunk in pieces:
            ds = chunk.dataset
            if first is None:
                # `take([])`: empty frames of their own, not slices holding the piece's arrays.
                first = {"creators": ds.creators.take([]), "posts": ds.posts.take([]),
                         "campaigns": ds.campaigns, "example": ds.for_creators(
                             ds.column("creators", "creator_id")[:EXAMPLE_CREATORS])}
            n_creators += ds.rows("creators")
            n_audience += ds.rows("audience_sample")
            for name in WHOLE_TABLES:
                if ds.has(name):
                    kept[name].append(getattr(ds, name))
                    file_rows[name].append(chunk.file_rows[name])
        if first is None:
            raise ValueError("the dataset has no piece of creators to train on")
        tables = {name: _in_file_order(kept[name], file_rows[name]) if kept[name] else None
                  for name in WHOLE_TABLES}
        whole = Dataset(creators=first["creators"], posts=first["posts"],
                        campaigns=first["campaigns"], **tables)
        return cls(lambda: (chunk.dataset for chunk in pieces), n_pieces, whole, n_creators,
                   n_audience, first["example"])


@contextlib.contextmanager
def read_training_data(directory: str | Path, chunk_creators: int) -> Iterator[TrainingData]:
    """A dataset directory as TrainingData, read in pieces of `chunk_creators` creators
    (data.chunked.ChunkedDataset: ContractError with every problem, as load_dataset reports).

    Memory: the dataset's id columns and three pieces (the fit works on two at once,
    features.pipeline.PIECE_THREADS; the next is validated ahead), the tables kept
    whole, and what training computes: a row of features per creator and per labelled
    collaboration (and per candidate of a generated world). Disk: the pieces' files, about
    twice the dataset's Arrow tables, removed on exit."""
    with ChunkedDataset.read(directory, chunk_creators) as chunked, \
            chunked.replayable_chunks() as pieces:
        yield TrainingData.of_pieces(pieces, chunked.n_chunks)


def _in_file_order(frames: list[pd.DataFrame], file_rows: list[np.ndarray]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    order = np.argsort(np.concatenate(file_rows), kind="stable")
    return pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)
