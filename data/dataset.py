"""The typed, validated dataset: one frame per contract table (optional tables may be None)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

TABLE_NAMES = ("creators", "posts", "follower_history", "audience_sample", "comments",
               "campaigns", "collaborations", "authenticity_labels")


@dataclass(frozen=True)
class DeferredFrame:
    """A table's frame, made on its first read (data.validation hands its typed columns over
    this way): a request about one creator reads columns only, and the ~4 frames it would
    never read cost ~0.5 ms of its ~7 (a pandas frame of extension arrays: ~50-130 us)."""

    build: Callable[[], pd.DataFrame]
    rows: int


def _table(name: str) -> property:
    def read(self: Dataset) -> pd.DataFrame | None:
        frame = self._frames.get(name)
        if isinstance(frame, DeferredFrame):
            # (Two threads may both build it: equal frames, the last one kept.)
            frame = self._frames[name] = frame.build()
        return frame

    return property(read, doc=f"The {name} table (None when absent).")


class Dataset:
    """Validated contract tables. Column dtypes follow `data.contract.PANDAS_DTYPES`.

    Only contract columns are kept (unknown extra columns are dropped at load time); optional
    columns that were absent are added, filled with missing values, so downstream code can rely
    on every contract column being there.

    A table is given as a frame or as a `DeferredFrame` (made when first read); `rows` and
    `column` never make one. `arrays`: by table, the column arrays the validator made each
    frame from (the frames hold these very arrays), read by `column`. The tables are not
    modified after validation.
    """

    __slots__ = ("_frames", "arrays")

    creators = _table("creators")
    posts = _table("posts")
    follower_history = _table("follower_history")
    audience_sample = _table("audience_sample")
    comments = _table("comments")
    campaigns = _table("campaigns")
    collaborations = _table("collaborations")
    authenticity_labels = _table("authenticity_labels")

    def __init__(self, creators: pd.DataFrame | DeferredFrame,
                 posts: pd.DataFrame | DeferredFrame,
                 follower_history: pd.DataFrame | DeferredFrame | None = None,
                 audience_sample: pd.DataFrame | DeferredFrame | None = None,
                 comments: pd.DataFrame | DeferredFrame | None = None,
                 campaigns: pd.DataFrame | DeferredFrame | None = None,
                 collaborations: pd.DataFrame | DeferredFrame | None = None,
                 authenticity_labels: pd.DataFrame | DeferredFrame | None = None,
                 arrays: Mapping[str, Mapping[str, object]] | None = None) -> None:
        given = {"creators": creators, "posts": posts, "follower_history": follower_history,
                 "audience_sample": audience_sample, "comments": comments,
                 "campaigns": campaigns, "collaborations": collaborations,
                 "authenticity_labels": authenticity_labels}
        object.__setattr__(self, "_frames", {name: frame for name, frame in given.items()
                                             if frame is not None})
        object.__setattr__(self, "arrays", {} if arrays is None else arrays)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"Dataset is read-only: use with_tables to replace {name!r}")

    def __repr__(self) -> str:
        return "Dataset(" + ", ".join(f"{name}={self.rows(name)} rows"
                                      for name in TABLE_NAMES if name in self._frames) + ")"

    def __getstate__(self) -> dict:
        return {"frames": self.tables, "arrays": self.arrays}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "_frames", dict(state["frames"]))
        object.__setattr__(self, "arrays", state["arrays"])

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that are present, by name (every frame made)."""
        return {name: getattr(self, name) for name in TABLE_NAMES if name in self._frames}

    def has(self, table: str) -> bool:
        """Whether `table` is present (without making its frame)."""
        return table in self._frames

    def rows(self, table: str) -> int:
        """The row count of `table`, 0 when it is absent (without making its frame)."""
        frame = self._frames.get(table)
        if frame is None:
            return 0
        return frame.rows if isinstance(frame, DeferredFrame) else len(frame)

    def column(self, table: str, name: str):
        """The values of one column of a present table as an array (numpy, or a pandas
        extension array such as Arrow text or nullable integers), what `frame[name].array`
        holds: without the Series pandas makes per column read (~15 us each, ~30 reads when
        one creator is scored)."""
        values = self.arrays.get(table, {}).get(name)
        if values is not None:
            return values
        series = getattr(self, table)[name]
        return series.array if not isinstance(series.dtype, np.dtype) else series.to_numpy()

    def with_tables(self, **tables: pd.DataFrame | None) -> Dataset:
        """The dataset with `tables` replaced (None: removed); the others as they are."""
        unknown = set(tables) - set(TABLE_NAMES)
        if unknown:
            raise TypeError(f"unknown table(s) {sorted(unknown)}; expected one of {TABLE_NAMES}")
        arrays = {name: columns for name, columns in self.arrays.items() if name not in tables}
        return Dataset(**{**self._frames, **tables}, arrays=arrays)

    def for_creators(self, creator_ids) -> Dataset:
        """The rows about `creator_ids` of every table with a creator_id column (campaigns
        whole). Features of a creator depend on its own rows only, so scoring a dataset piece
        by piece gives the rows of scoring it whole (the parity tests)."""
        keep = set(map(str, creator_ids))
        tables = {}
        for name, frame in self.tables.items():
            if "creator_id" in frame.columns:
                mask = frame["creator_id"].astype(object).isin(keep).to_numpy(dtype=bool)
                tables[name] = frame[mask].reset_index(drop=True)
        return self.with_tables(**tables)

    def creator_chunks(self, size: int) -> Iterator[Dataset]:
        """Consecutive pieces of at most `size` creators (in the creators table's order), each
        with the rows about them of every table (campaigns whole), rows in their original
        order. Each table is grouped once, so the pieces cost one pass over the data; the
        working set of whoever scores them is bounded by the piece."""
        if size < 1:
            raise ValueError(f"chunk size {size}: expected >= 1")
        n = len(self.creators)
        creator_index = pd.Index(self.creators["creator_id"].astype(object))
        n_chunks = max(1, -(-n // size))
        groups: dict[str, list[np.ndarray]] = {}
        for name, frame in self.tables.items():
            if name == "creators" or "creator_id" not in frame.columns:
                continue
            position = creator_index.get_indexer(frame["creator_id"].astype(object))
            chunk = np.where(position >= 0, position // size, -1)
            order = np.argsort(chunk, kind="stable")
            bounds = np.searchsorted(chunk[order], np.arange(n_chunks + 1))
            groups[name] = [order[bounds[k]:bounds[k + 1]] for k in range(n_chunks)]
        for k in range(n_chunks):
            tables = {"creators": self.creators.iloc[k * size:(k + 1) * size]
                      .reset_index(drop=True)}
            for name, rows in groups.items():
                tables[name] = getattr(self, name).iloc[rows[k]].reset_index(drop=True)
            yield self.with_tables(**tables)


def column_labels(names) -> pd.Index:
    """Column labels for a frame of `names` (a list or tuple), made once per distinct list:
    pandas builds an Index of string labels from a list in ~60 us and a frame given one in
    ~100 us (~15 us given the Index), a fixed cost per request. A new view per call, so that
    renaming one frame's columns never renames another's."""
    return _labels(tuple(names)).view()


@lru_cache(maxsize=64)
def _labels(names: tuple) -> pd.Index:
    return pd.Index(list(names))
