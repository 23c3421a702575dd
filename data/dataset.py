"""The typed, validated dataset: one frame per contract table (optional tables may be None)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import pandas as pd


@dataclass(frozen=True)
class Dataset:
    """Validated contract tables. Column dtypes follow `data.contract.PANDAS_DTYPES`.

    Only contract columns are kept (unknown extra columns are dropped at load time); optional
    columns that were absent are added, filled with missing values, so downstream code can rely
    on every contract column being there.
    """

    creators: pd.DataFrame
    posts: pd.DataFrame
    follower_history: pd.DataFrame | None = None
    audience_sample: pd.DataFrame | None = None
    comments: pd.DataFrame | None = None
    campaigns: pd.DataFrame | None = None
    collaborations: pd.DataFrame | None = None
    authenticity_labels: pd.DataFrame | None = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that are present, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def with_tables(self, **tables: pd.DataFrame | None) -> Dataset:
        return replace(self, **tables)
