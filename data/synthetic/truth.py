"""The generator's truth tables, written beside a generated world (DIR/truth/)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def load_truth(data_dir) -> dict | None:
    """The generator's truth tables (DIR/truth/<name>.csv|parquet), or None when absent."""
    truth_dir = Path(data_dir) / "truth"
    if not truth_dir.is_dir():
        return None
    tables = {}
    for name in ("collaboration_truth", "creator_truth", "candidate_truth"):
        for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
            path = truth_dir / f"{name}{suffix}"
            if path.exists():
                frame = reader(path)
                for column in ("campaign_id", "creator_id"):
                    if column in frame.columns:
                        frame[column] = frame[column].astype("str")
                tables[name] = frame
                break
    return tables or None
