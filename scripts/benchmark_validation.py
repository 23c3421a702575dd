"""Speed of the contract validator (data.validation) on request-shaped tables.

Usage: python scripts/benchmark_validation.py [--creators 1000] [--repeats 15]

1. Crossovers: each column kind of a request (plain text, vocabulary text, numbers, booleans,
   dates/timestamps) coerced on its per-value path and on its vectorised path, at growing row
   counts; the row count from which the vectorised path wins is what VECTOR_MIN_ROWS holds.
2. validate_tables on a /rank request of `--creators` creators and on one creator, with the
   shipped thresholds and with every column and check on the per-value path.

Tables are laid out as the service builds them (scripts/benchmark_single_creator.py). Shared
machines are noisy: each figure is a median of interleaved repeats, printed with its ratio to
a pandas groupby-sum measured in the same loop.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark_single_creator import REQUEST_TABLES, _request_column, request_tables  # noqa: E402
from timing import run_times  # noqa: E402

import data.validation as validation  # noqa: E402
from data.contract import TABLES  # noqa: E402
from data.synthetic import generate_world  # noqa: E402

KINDS = {  # a request column of each kind
    "str": ("audience_sample", "username"), "vocabulary": ("posts", "format"),
    "number": ("posts", "likes"), "bool": ("audience_sample", "is_private"),
    "time": ("posts", "posted_at"),
}
SIZES = (1, 10, 30, 100, 300, 1000, 3000)


def everywhere(rows: int):
    """Every column kind from `rows` rows on its vectorised path."""
    return mock.patch.object(validation, "VECTOR_MIN_ROWS",
                             dict.fromkeys(validation.VECTOR_MIN_ROWS, rows))


def median_ms(function, repeats: int) -> float:
    return statistics.median(run_times(function, repeats)) * 1000


def coerce(table, column, raw: pd.Series):
    return validation._coerce_column(table, column, raw, validation._Collector())


def crossovers(tables: dict[str, pd.DataFrame], repeats: int) -> None:
    print("per-value / vectorised coercion of one column, microseconds (median):")
    for kind, (name, column_name) in KINDS.items():
        table, column = TABLES[name], TABLES[name].column_by_name[column_name]
        cells = tables[name][column_name].to_numpy(object)
        figures, wins = [], None
        for size in SIZES:
            raw = pd.DataFrame({column_name: cells[np.arange(size) % len(cells)]})[column_name]
            pair = []
            for rows in (sys.maxsize, 0):
                with everywhere(rows):
                    pair.append(median_ms(partial(coerce, table, column, raw),
                                          repeats * 20) * 1000)
            figures.append(f"{size}: {pair[0]:.0f}/{pair[1]:.0f}")
            if wins is None and pair[1] < pair[0]:
                wins = size
        print(f"  {kind:<10} ({name}.{column_name}) " + "  ".join(figures)
              + f"  -> vectorised from {wins} rows; VECTOR_MIN_ROWS "
              f"{validation.VECTOR_MIN_ROWS[kind]}")


def totals(request: dict[str, pd.DataFrame], one: dict[str, pd.DataFrame],
           repeats: int) -> None:
    sizes = {name: len(frame) for name, frame in request.items()}
    print(f"validate_tables, median of {repeats} interleaved repeats: request {sizes}")
    likes = validation.validate_tables(request).posts
    cases = {"request": (request, 1), "one creator": (one, 50)}
    per_value = mock.patch.multiple(validation, SMALL_TABLE_ROWS=sys.maxsize,
                                    VECTOR_MIN_ROWS=dict.fromkeys(validation.VECTOR_MIN_ROWS,
                                                                  sys.maxsize))
    timings = {(case, mode): [] for case in cases for mode in ("shipped", "per-value")}
    baselines = []
    for _ in range(repeats):
        for case, (tables, inner) in cases.items():
            timings[case, "shipped"].append(
                median_ms(lambda t=tables: validation.validate_tables(t), inner))
            with per_value:
                timings[case, "per-value"].append(
                    median_ms(lambda t=tables: validation.validate_tables(t), inner))
        baselines.append(median_ms(
            lambda: likes.groupby("creator_id", sort=False)["likes"].sum(), 5))
    base = statistics.median(baselines)
    for (case, mode), values in timings.items():
        figure = statistics.median(values)
        print(f"  {case:<12} {mode:<10} {figure:8.2f} ms  ({figure / base:6.1f}x a pandas "
              f"groupby-sum of the request's likes, {base:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    world = generate_world(args.creators, max(args.creators // 50, 5), seed=7,
                           posts_per_creator=args.posts)
    request = {name: pd.DataFrame({c.name: _request_column(world.tables[name][c.name], c.type)
                                   for c in TABLES[name].columns
                                   if c.name in world.tables[name]})
               for name in REQUEST_TABLES}
    one = request_tables(world.tables, args.posts)
    for tables in (request, one):  # warm-up: lazy imports, Arrow kernels
        for _ in range(3):
            validation.validate_tables(tables)
    crossovers(request, args.repeats)
    totals(request, one, args.repeats)


if __name__ == "__main__":
    main()
