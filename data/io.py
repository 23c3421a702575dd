"""Write contract tables (or any named frames) to a directory as CSV or Parquet."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMATS = ("csv", "parquet")


def write_dataset(tables: dict[str, pd.DataFrame], directory: str | Path,
                  fmt: str = "csv") -> list[Path]:
    """Write each frame as `<name>.<fmt>`; timestamps are written in ISO 8601."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        if frame is None:
            continue
        path = directory / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written


OUTPUT_SUFFIXES = (".csv", ".parquet")


def check_output_path(path: str | Path) -> Path:
    """The output path, or ValueError when its extension is neither .csv nor .parquet."""
    path = Path(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"unsupported output {path.name!r}: expected a .csv or .parquet file")
    return path


def write_frame(frame: pd.DataFrame, path: str | Path, index: bool = True) -> Path:
    """Write one frame, CSV or Parquet chosen by the file's extension."""
    path = check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=index)
    else:
        frame.to_csv(path, index=index)
    return path
