"""Batch scoring on Spark: `creatorscore score --engine spark` and the spark-submit job.

The same feature pipeline and ScoringBundle as the pandas path (`ScoringBundle.score` on a
validated `Dataset`), run per group of creators with `applyInPandas`:

1. every contract table of the dataset directory is read by Spark (`<table>.parquet`, a file
   or a directory of Parquet partitions, or `<table>.csv` read as text, as the pandas loader
   does: the validator coerces);
2. the tables keyed by creator (creators, posts, follower_history, audience_sample, comments,
   collaborations, ...) are laid side by side in one frame (`<table>__<column>` columns, a
   `_table` tag) and grouped by a hash bucket of creator_id, so each group holds *all* the
   rows of its creators; the small `campaigns` table goes to every group whole;
3. each group is validated (`data.loader.validate_tables`) and scored by the bundle, exactly
   as `creatorscore score` scores the whole dataset: every feature of a creator depends only
   on that creator's rows, the fitted pipeline state and the campaigns (tested row by row in
   tests/serving/test_batch_spark.py);
4. the scores are written as Parquet (a directory of part files).

With `--campaign`, the choice `creatorscore score` makes on the whole dataset (score the
campaign's planned collaborations, or every creator when it has none) is made once on the
driver, so each group applies the same rule to its creators.

pyspark is an optional dependency (`pip install 'creatorscore[spark]'`), imported lazily.
On a cluster, the executors need this package and its dependencies: ship a wheel
(`--py-files dist/creatorscore-*.whl` plus the pinned requirements in the executors' Python)
or a packed virtual environment (`--archives venv.tar.gz#environment` with
`PYSPARK_PYTHON=./environment/bin/python`); see serving/README.md.
"""
from __future__ import annotations

import argparse
import math
import os
import pickle
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from data.contract import TABLES
from data.validation import ContractError, validate_tables
from models.bundle import campaign_plans
from store import registry
from store.tracking import quiet_mlflow

TABLE_TAG = "_table"
BUCKET = "_bucket"
SEPARATOR = "__"
# Creators per applyInPandas group: the pipeline is vectorised over a group, so large groups
# are efficient, and a group of 2,000 creators with their posts stays well under 1 GB.
DEFAULT_CREATORS_PER_GROUP = 2_000
CONTRACT_ERROR_MARK = "creatorscore-contract-error:"
# The column Spark puts a CSV line in when its field count differs from the header's (read in
# PERMISSIVE mode with this column, checked before scoring: see `_csv_frame`).
MALFORMED_LINE = "__creatorscore_malformed_line"
MALFORMED_EXAMPLES = 5
# Tables scored per creator (they have a creator_id column); the others go whole to each group.
CREATOR_TABLES = tuple(name for name, table in TABLES.items()
                       if "creator_id" in table.column_by_name)
# Not used by scoring: left out of the groups.
UNSCORED_TABLES = ("authenticity_labels",)


class SparkScoringError(ValueError):
    """The dataset cannot be scored (contract problems, missing tables, bad options)."""


@dataclass(frozen=True)
class SparkScoringResult:
    rows: int
    groups: int
    out: Path


def spark_session(master: str | None = "local[2]", app_name: str = "creatorscore-score",
                  driver_memory: str | None = None):
    """A SparkSession for scoring (or the active one, e.g. under spark-submit, where a
    `master` of None leaves the choice to spark-submit).

    UTC session time zone: timestamps cross the JVM unchanged, as the pandas loader reads them.
    The Python workers run this interpreter (local mode) unless PYSPARK_PYTHON says otherwise.
    """
    from pyspark.sql import SparkSession  # lazy: pyspark is an optional dependency

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.appName(app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.enabled", "false")
               # pandas writes nanosecond timestamps, which Spark reads only as longs: they are
               # turned back into timestamps in `read_tables`.
               .config("spark.sql.legacy.parquet.nanosAsLong", "true")
               .config("spark.ui.showConsoleProgress", "false"))
    if master:
        builder = builder.master(master)
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    try:
        return builder.getOrCreate()
    except Exception as error:  # noqa: BLE001 - the JVM did not start: say what it needs
        if "JAVA" not in str(error).upper():
            raise
        raise RuntimeError("Spark could not start its JVM: --engine spark needs Java 17 or "
                           "later (Debian: apt-get install default-jre-headless) and "
                           f"JAVA_HOME or java on PATH ({error})") from None


def _table_path(directory: Path, name: str) -> tuple[Path, str] | None:
    found = [(directory / f"{name}{suffix}", kind)
             for suffix, kind in ((".parquet", "parquet"), (".csv", "csv"))
             if (directory / f"{name}{suffix}").exists()]
    if len(found) > 1:
        raise SparkScoringError(f"{name}: both {name}.csv and {name}.parquet exist; expected "
                                "exactly one file (or Parquet directory) per table")
    return found[0] if found else None


def read_tables(spark, directory: str | Path) -> dict:
    """Spark DataFrames of the contract tables in `directory` (CSV columns as text)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SparkScoringError(f"no such directory: {directory}; expected a dataset directory "
                                "with <table>.parquet (file or directory) or <table>.csv")
    frames = {}
    for name in TABLES:
        found = _table_path(directory, name)
        if found is None or name in UNSCORED_TABLES:
            continue
        path, kind = found
        if kind == "parquet":
            frames[name] = _nanos_as_timestamps(name, spark.read.parquet(str(path)))
        else:
            frames[name] = _csv_frame(spark, name, path)
    for name, table in TABLES.items():
        if table.required and name not in frames:
            raise SparkScoringError(f"{directory}: missing required table {name}; expected a "
                                    f"file {name}.csv or {name}.parquet")
    return frames


def _csv_frame(spark, name: str, path: Path):
    """A CSV table as the pandas loader reads it: every value as text (the validator coerces
    and reports), quoted fields may span lines, "" escapes a quote, BOM-less UTF-8; and, as
    that loader, a line with more or fewer fields than the header is an error naming it.
    Spark's default would fill missing fields with nulls and drop extra ones, silently."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    options = {"header": True, "multiLine": True, "escape": '"', "inferSchema": False,
               "encoding": "UTF-8"}
    header = spark.read.csv(str(path), **options).columns
    schema = StructType([StructField(column, StringType()) for column in header]
                        + [StructField(MALFORMED_LINE, StringType())])
    frame = spark.read.csv(str(path), schema=schema, mode="PERMISSIVE",
                           columnNameOfCorruptRecord=MALFORMED_LINE, **options)
    # One pass over the file: the price of never scoring a line Spark had to reshape.
    malformed = frame.where(F.col(MALFORMED_LINE).isNotNull())
    examples = [row[MALFORMED_LINE] for row in malformed.limit(MALFORMED_EXAMPLES).collect()]
    if examples:
        # Spark refuses a query of the malformed-line column alone: a data column rides along.
        count = frame.agg(F.count(MALFORMED_LINE), F.first(header[0])).first()[0]
        # Long lines keep both ends: a missing or extra field is usually at the end.
        shown = "; ".join(repr(line if len(line) <= 80 else f"{line[:40]}...{line[-37:]}")
                          for line in examples)
        raise SparkScoringError(
            f"{name}.csv: {count} line(s) whose number of fields differs from the header's "
            f"{len(header)} ({', '.join(header)}), e.g. {shown}; expected every line to "
            "have one value per header column (quote values that contain commas)")
    return frame.drop(MALFORMED_LINE)


def _nanos_as_timestamps(name: str, frame):
    """Contract date / timestamp columns stored as nanosecond Parquet timestamps (read as
    longs, see `spark_session`) back to timestamps (microsecond precision, Spark's)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    table = TABLES[name]
    for field in frame.schema.fields:
        column = table.column_by_name.get(field.name)
        if column is not None and column.type in ("date", "ts") \
                and isinstance(field.dataType, T.LongType):
            frame = frame.withColumn(field.name, F.timestamp_micros(
                F.floor(F.col(f"`{field.name}`") / F.lit(1000))))
    return frame


def _side_by_side(frames: dict, n_buckets: int):
    """One frame: the creator-keyed tables' rows, tagged with their table, bucketed by
    creator_id; columns `<table>__<column>` (null on other tables' rows)."""
    from pyspark.sql import functions as F

    parts = []
    for name in CREATOR_TABLES:
        frame = frames.get(name)
        if frame is None:
            continue
        if "creator_id" not in frame.columns:
            raise SparkScoringError(f"{name}: missing required column creator_id; expected a "
                                    "creator id (text) on every row")
        parts.append(frame.select(
            F.pmod(F.xxhash64(F.trim(F.col("creator_id").cast("string"))),
                   F.lit(n_buckets)).alias(BUCKET),
            F.lit(name).alias(TABLE_TAG),
            *[F.col(f"`{c}`").alias(f"{name}{SEPARATOR}{c}") for c in frame.columns]))
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.unionByName(part, allowMissingColumns=True)
    return combined


def _tables_of_group(group: pd.DataFrame, columns: dict[str, list[str]],
                     campaigns: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    tag = group[TABLE_TAG].to_numpy(dtype=object)
    tables = {}
    for name, names in columns.items():
        rows = group.loc[tag == name, [f"{name}{SEPARATOR}{c}" for c in names]]
        rows.columns = names
        tables[name] = rows.reset_index(drop=True)
    if campaigns is not None:
        tables["campaigns"] = campaigns
    return tables


def _contract_message(error: ContractError, tables: dict[str, pd.DataFrame]) -> str:
    """Problems with the creator ids of their rows (a group's row numbers mean nothing to
    the user)."""
    lines = []
    for item in error.problems:
        where = f"{item.table}.{item.column}" if item.column else item.table
        text = f"{where}: {item.message}"
        frame = tables.get(item.table)
        if item.rows and frame is not None and "creator_id" in frame:
            ids = [str(frame["creator_id"].iloc[r - 1]) for r in item.rows
                   if 0 < r <= len(frame)]
            shown = ", ".join(f"creator {cid} ({value!r})" for cid, value in
                              zip(ids, item.values or ("",) * len(ids), strict=False))
            text += f" in {item.count} row(s): {shown}"
        if item.expected:
            text += f"; expected {item.expected}"
        lines.append(text)
    return CONTRACT_ERROR_MARK + "\n".join(lines) + "\n:" + CONTRACT_ERROR_MARK


def score_tables(bundle, tables: dict[str, pd.DataFrame], campaign_id: str | None,
                 campaign_planned: bool) -> pd.DataFrame | None:
    """Scores of one group's raw tables, as `creatorscore score` scores a dataset; None when
    the group has nothing to score (a campaign with plans, none for these creators)."""
    try:
        ds = validate_tables(tables)
    except ContractError as error:
        raise SparkScoringError(_contract_message(error, tables)) from None
    planned = campaign_plans(ds, campaign_id)
    if campaign_planned and planned is None:
        return None
    return bundle.score(ds, campaign_id=campaign_id, collaborations=planned).table


def _spark_schema(table: pd.DataFrame):
    from pyspark.sql import types as T

    return T.StructType([
        T.StructField(name, T.StringType() if not pd.api.types.is_float_dtype(dtype)
                      else T.DoubleType(), True)
        for name, dtype in table.dtypes.items()])


def _to_spark_frame(table: pd.DataFrame, schema) -> pd.DataFrame:
    out = {}
    for field in schema.fields:
        column = table[field.name]
        if field.dataType.typeName() == "string":
            values = column.astype(object).to_numpy()
            out[field.name] = [None if v is None or v is pd.NA or
                               (isinstance(v, float) and math.isnan(v)) else str(v)
                               for v in values]
        else:
            out[field.name] = column.to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(out, columns=[f.name for f in schema.fields])


def _probe_schema(bundle, frames: dict, columns: dict[str, list[str]],
                  campaigns: pd.DataFrame | None):
    """The output schema: the bundle's score table on the dataset's first creator."""
    from pyspark.sql import functions as F

    first = frames["creators"].select(F.trim(F.col("creator_id").cast("string")).alias("id"))
    row = first.where(F.col("id").isNotNull()).limit(1).collect()
    if not row:
        raise SparkScoringError("creators: no rows; expected at least one creator")
    creator_id = row[0]["id"]
    tables = {name: frames[name].where(F.trim(F.col("creator_id").cast("string")) == creator_id)
              .toPandas()[names] for name, names in columns.items()}
    if campaigns is not None:
        tables["campaigns"] = campaigns
    return _spark_schema(score_tables(bundle, tables, None, False))


def score_directory(spark, bundle, data: str | Path, out: str | Path,
                    campaign_id: str | None = None,
                    creators_per_group: int = DEFAULT_CREATORS_PER_GROUP) -> SparkScoringResult:
    """Score the dataset directory `data` with `bundle` on Spark; write Parquet to `out`."""
    from pyspark.sql import functions as F

    if creators_per_group < 1:
        raise SparkScoringError(f"creators per group: {creators_per_group}; expected >= 1")
    frames = read_tables(spark, data)
    campaigns = None
    if "campaigns" in frames:
        campaigns = frames.pop("campaigns").toPandas()
    if campaign_id is not None:
        if campaigns is None or not (campaigns["campaign_id"].astype(str).str.strip()
                                     == campaign_id).any():
            raise SparkScoringError(f"campaign_id {campaign_id!r} is not in the campaigns table")
    campaign_planned = False
    if campaign_id is not None and "collaborations" in frames:
        plans = frames["collaborations"].where(
            F.trim(F.col("campaign_id").cast("string")) == campaign_id)
        campaign_planned = bool(plans.limit(1).count())
    n_creators = frames["creators"].count()
    n_buckets = max(1, math.ceil(n_creators / creators_per_group))
    columns = {name: list(frame.columns) for name, frame in frames.items()}
    schema = _probe_schema(bundle, frames, columns, campaigns)
    payload = spark.sparkContext.broadcast(pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL))
    payload_key = uuid.uuid4().hex

    def score_group(group: pd.DataFrame) -> pd.DataFrame:
        # Runs on the executors: the bundle is unpickled once per Python worker.
        model = _worker_bundle(payload_key, payload)
        tables = _tables_of_group(group, columns, campaigns)
        table = score_tables(model, tables, campaign_id, campaign_planned)
        if table is None:
            return pd.DataFrame({f.name: pd.Series([], dtype=object if
                                 f.dataType.typeName() == "string" else "float64")
                                 for f in schema.fields})
        return _to_spark_frame(table, schema)

    scored = (_side_by_side(frames, n_buckets).repartition(n_buckets, BUCKET)
              .groupBy(BUCKET).applyInPandas(score_group, schema=schema))
    out = Path(out)
    try:
        scored.write.mode("overwrite").parquet(str(out))
    except Exception as error:  # noqa: BLE001 - a worker's failure comes back as a JVM error
        raise _readable(error) from None
    rows = spark.read.parquet(str(out)).count()
    return SparkScoringResult(rows=rows, groups=n_buckets, out=out)


_WORKER_CACHE: dict[str, object] = {}  # per Python worker process


def _worker_bundle(key: str, payload):
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = pickle.loads(payload.value)
    return _WORKER_CACHE[key]


def _readable(error: Exception) -> Exception:
    """A worker's contract report (or failure) as one clear error, without the JVM trace."""
    text = str(error)
    start = text.find(CONTRACT_ERROR_MARK)
    if start >= 0:
        end = text.find(":" + CONTRACT_ERROR_MARK, start)
        report = text[start + len(CONTRACT_ERROR_MARK):end if end > 0 else None].strip()
        return SparkScoringError("the dataset does not follow the data contract:\n" + report)
    last = [line for line in text.splitlines() if "Error" in line or "Exception" in line]
    return RuntimeError("Spark scoring failed: " + (last[-1].strip() if last else text[:500]))




def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: `spark-submit [--master URL] serving/batch_spark.py --data DIR
    --out DIR [--campaign ID] [--model-uri URI] [--creators-per-group N]`."""
    parser = argparse.ArgumentParser(prog="batch_spark", description=main.__doc__)
    parser.add_argument("--data", required=True, help="dataset directory (contract tables)")
    parser.add_argument("--out", required=True, help="output directory (Parquet)")
    parser.add_argument("--campaign", default=None, help="campaign id")
    parser.add_argument("--model-uri", default=None,
                        help="MLflow model URI of a creatorscore model (default: the champion "
                             "of the store named by MLFLOW_TRACKING_URI)")
    parser.add_argument("--creators-per-group", type=int, default=DEFAULT_CREATORS_PER_GROUP)
    parser.add_argument("--master", default=None,
                        help="Spark master when not launched by spark-submit (e.g. local[2])")
    args = parser.parse_args(argv)
    quiet_mlflow()
    try:
        if args.model_uri is None:
            bundle, info = registry.load_champion()
            version = info.model_version
        else:
            bundle, version = registry.load_bundle(args.model_uri), args.model_uri
        spark = spark_session(master=args.master)
        result = score_directory(spark, bundle, args.data, args.out, args.campaign,
                                 args.creators_per_group)
    except (SparkScoringError, registry.RegistryError, MlflowException, RuntimeError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    print(f"{result.rows:,} rows scored with {version} in {result.groups} group(s) -> "
          f"{result.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
