"""Request records -> a validated `data.dataset.Dataset`, with errors mapped to field paths.

The request carries, per creator, the rows of each contract table about them. They are
flattened into columns per table (arrays, no per-row pandas work, no frame), and go through
`data.loader.validate_tables`, the validator that also guards `creatorscore score`: the service
and the CLI see the same typed tables, hence the same features and scores. Each problem the
validator reports (table, column, 1-based rows) is translated back into the request path of the
offending field, e.g. `["creators", 3, "posts", 17, "posted_at"]`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.contract import MAX_EXACT_NUMBER, TABLES, Column
from data.dataset import Dataset
from data.loader import ContractError, Problem, validate_tables
from data.validation import text_array, text_or_missing, validate_accounts
from features.arrays import as_str
from serving.config import ServingConfig
from serving.errors import RequestError, problem, too_large
from serving.request_body import NESTED_TABLES, TypedRecord
from serving.schemas import PLAN_COLUMNS

# The request models checked the shape only: the validator decides every contract rule, on
# the request's JSON values (typed where Arrow infers one type, see `_typed_column`).
RowLocator = Callable[[int], tuple]
CONTRACT_ERROR = "the input does not follow the data contract"


@dataclass(frozen=True)
class RequestData:
    """The typed tables of one request and the request-ordered ids they describe."""

    dataset: Dataset
    creator_ids: list[str]
    campaign_id: str | None


_TEXT_TYPES = frozenset({"str", "date", "ts"})


def _values(rows: Sequence, name: str) -> list:
    """The values of field `name` of every record (dicts: pydantic's, a Python caller's; or
    serving.request_body's structs with the contract's columns as fields: one kind per
    request). map over dict.get / attrgetter runs the loop in C: ~20% faster than a
    comprehension on the tens of thousands of records of a /rank request."""
    if not rows or isinstance(rows[0], dict):
        return list(map(dict.get, rows, repeat(name)))
    return list(map(attrgetter(name), rows))


def _column_frame(table: str, rows: Sequence, only: Sequence[str] | None = None,
                  skip: str | None = None) -> dict[str, np.ndarray]:
    typed = bool(rows) and isinstance(rows[0], TypedRecord)
    columns: dict[str, np.ndarray] = {}
    for column in TABLES[table].columns:
        if (only is not None and column.name not in only) or column.name == skip:
            continue
        array = _request_column(column, _values(rows, column.name), typed)
        if array is not None:  # (None: the validator adds absent optional columns)
            columns[column.name] = array
    return columns


_STR_OR_NONE = frozenset({str, type(None)})
# Arrow's type for the typed records' values: text as large_string, the validator's (no cast
# per column in `text_array`); integers as int64, as Arrow infers them (Python's beyond int64
# make `_request_column` read them untyped). Floats, which Arrow does not tell from a mix with
# integers, are left to its inference.
_ARROW_TYPES = {"str": pa.large_string(), "date": pa.large_string(), "ts": pa.large_string(),
                "int": pa.int64(), "bool": pa.bool_()}


def _request_column(column: Column, values: list, typed: bool = False):
    """`_typed_column` of the values, None when the column is optional and all missing.
    `typed`: every value is of the column's JSON type or None (serving.request_body's typed
    records), read by Arrow at that type without looking at the types of the values (~35 ms
    of checks and inference at a /rank of 1,000 creators). Else text of only str and None
    (the usual request) goes to Arrow text directly: inferring its type first, then
    converting, costs ~3x as much, per text column of a request."""
    if typed and column.type in _ARROW_TYPES:
        try:
            inferred = pa.array(values, type=_ARROW_TYPES[column.type])
        except (pa.ArrowException, OverflowError):  # integers beyond int64
            inferred = None
        else:
            if inferred.null_count == len(values):
                inferred = None  # Arrow infers no type for only None (see `_typed_column`)
    elif (column.type in _TEXT_TYPES and _STR_OR_NONE.issuperset(map(type, values))
            and values.count(None) < len(values)):
        return text_array(values)
    else:
        inferred = _arrow_or_none(values)
    if not column.required and (values.count(None) == len(values) if inferred is None
                                else inferred.null_count == len(values)):
        return None
    return _typed_column(column, values, inferred)


def _arrow_or_none(values: list) -> pa.Array | None:
    """The values as one Arrow array when Arrow infers one type for them (all text, all
    integers, all booleans, all missing; integers mixed with floats give doubles), else
    None."""
    try:
        return pa.array(values)
    except (pa.ArrowException, OverflowError, ValueError, TypeError):
        return None


def _typed_column(column: Column, values: list, inferred: pa.Array | None):
    """The JSON values of one column as the validator reads them fastest, never changing
    what it decides or reports: a text-typed column of only text (and missing values) as
    Arrow strings, a number column of only integers within +-2^53 as int64 (pandas integers
    when some are missing), a boolean column of only true and false (and missing values) as
    pandas booleans; anything else as it came, an object array (floats, which Arrow does not
    tell from a mix with integers, mixes and odd values keep every per-value rule and
    message). Typed columns spare pandas inferring each object column's type (~35 ms at a
    /rank of 1,000 creators) and the validator a pass over Python objects. `inferred`:
    `_arrow_or_none(values)`, or the values read at their type (typed records)."""
    if inferred is not None:
        if column.type in _TEXT_TYPES and (pa.types.is_string(inferred.type)
                                           or pa.types.is_large_string(inferred.type)):
            return text_array(inferred)
        if column.type in ("int", "float") and pa.types.is_int64(inferred.type):
            numbers = pc.fill_null(inferred, 0).to_numpy() if inferred.null_count \
                else inferred.to_numpy()
            if ((numbers >= -MAX_EXACT_NUMBER) & (numbers <= MAX_EXACT_NUMBER)).all():
                if not inferred.null_count:
                    return numbers
                return pd.arrays.IntegerArray(
                    numbers, inferred.is_null().to_numpy(zero_copy_only=False))
        if column.type == "bool" and pa.types.is_boolean(inferred.type):
            return pd.arrays.BooleanArray(
                pc.fill_null(inferred, False).to_numpy(zero_copy_only=False),
                inferred.is_null().to_numpy(zero_copy_only=False))
    return np.array(values, dtype=object)


def _raw_frame(columns: dict, length: int | None = None) -> pd.DataFrame:
    """The request's columns as one frame for the validator, object columns kept as objects:
    pandas would infer text columns, a pass over every value (the validator reads them
    anyway)."""
    return pd.DataFrame({name: pd.Series(values, dtype=object, copy=False)
                         if isinstance(values, np.ndarray) and values.dtype == object
                         else values for name, values in columns.items()},
                        index=None if length is None else pd.RangeIndex(length))


def _ids(values: np.ndarray) -> np.ndarray:
    """Ids as the validator will read them (stripped text, None when missing), so that a
    nested record's creator_id compares with its profile's as the tables will."""
    return np.array([text_or_missing(v) for v in values], dtype=object)


def _check_limits(creators: Sequence, config: ServingConfig) -> None:
    detail = []
    if len(creators) > config.max_creators:
        detail.append(too_large(["creators"], "creators", config.max_creators, len(creators),
                                "CREATORSCORE_MAX_CREATORS"))
    else:
        for i, creator in enumerate(creators):
            if len(creator.posts) > config.max_posts_per_creator:
                detail.append(too_large(["creators", i, "posts"], "posts per creator",
                                        config.max_posts_per_creator, len(creator.posts),
                                        "CREATORSCORE_MAX_POSTS_PER_CREATOR"))
            for table in NESTED_TABLES[1:]:
                rows = getattr(creator, table) or ()
                if len(rows) > config.max_rows_per_creator:
                    detail.append(too_large(["creators", i, table], f"{table} rows per creator",
                                            config.max_rows_per_creator, len(rows),
                                            "CREATORSCORE_MAX_ROWS_PER_CREATOR"))
    if detail:
        raise RequestError(413, "request too large", detail)


def _nested_table(table: str, creators: Sequence, profile_ids: np.ndarray,
                  detail: list[dict]) -> tuple[dict[str, np.ndarray], RowLocator] | None:
    per_creator = [getattr(c, table) or () for c in creators]
    counts = np.fromiter(map(len, per_creator), dtype="int64", count=len(per_creator))
    if counts.sum() == 0:
        return None
    rows = list(chain.from_iterable(per_creator))
    # Every record's creator_id is its profile's (below): the given ones are only compared.
    columns = _column_frame(table, rows, skip="creator_id")
    owner_index = np.repeat(np.arange(len(creators)), counts)
    record_index = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    owner = profile_ids[owner_index]
    given = _values(rows, "creator_id")
    if given.count(None) < len(given):  # (most requests leave every record's id out)
        # (fromiter: one object per record, whatever it is; np.array would nest a list's items)
        given = np.fromiter(given, dtype=object, count=len(rows))
        # Element-wise on object arrays (in C): most records leave the id out or repeat their
        # profile's exactly; only the others are read as the validator reads ids.
        suspects = np.flatnonzero((given != None) & (given != owner))  # noqa: E711
        read = _ids(given[suspects])
        theirs = owner[suspects]
        conflict = (read != None) & (theirs != None) & (read != theirs)  # noqa: E711
        for k in np.flatnonzero(conflict)[:5]:
            position = suspects[k]
            i, j = int(owner_index[position]), int(record_index[position])
            detail.append(problem(
                ["creators", i, table, j, "creator_id"],
                f"creator_id {read[k]!r} differs from the profile's "
                f"{owner[position]!r}; expected the profile's creator_id or no value",
                "creator_id_mismatch"))
    if all(type(profile_id) is str for profile_id in profile_ids.tolist()):
        # The profiles' ids as Arrow text, taken per record: no Python pass over the records.
        columns["creator_id"] = text_array(
            pa.array(profile_ids, type=pa.large_string()).take(owner_index))
    else:
        columns["creator_id"] = _request_column(TABLES[table].column_by_name["creator_id"],
                                                owner.tolist())

    def locate(row: int) -> tuple:
        return ("creators", int(owner_index[row]), table, int(record_index[row]))

    return columns, locate


def _campaign_tables(campaign: dict | None, collaborations: Sequence[dict] | None,
                     creator_count: int, config: ServingConfig, detail: list[dict]
                     ) -> dict[str, tuple[dict[str, np.ndarray], RowLocator]]:
    tables: dict[str, tuple[dict[str, np.ndarray], RowLocator]] = {}
    if campaign is not None:
        tables["campaigns"] = (_column_frame("campaigns", [campaign]), lambda row: ("campaign",))
    if collaborations is None:
        return tables
    if campaign is None:
        detail.append(problem(["campaign"], "planned collaborations need their campaign; "
                              "expected a campaign object", "missing"))
        return tables
    if len(collaborations) > config.max_creators:
        raise RequestError(413, "request too large", [too_large(
            ["collaborations"], "collaborations", config.max_creators, len(collaborations),
            "CREATORSCORE_MAX_CREATORS")])
    columns = _column_frame("collaborations", collaborations, only=PLAN_COLUMNS)
    campaign_id = _ids(tables["campaigns"][0]["campaign_id"])[0]
    given = columns.get("campaign_id")
    if given is not None:
        given = _ids(given)
        for position, value in enumerate(given):
            if value is not None and value != campaign_id:
                detail.append(problem(
                    ["collaborations", position, "campaign_id"],
                    f"campaign_id {value!r} is not the request's campaign {campaign_id!r}; "
                    f"expected {campaign_id!r} or no value", "campaign_id_mismatch"))
    columns["campaign_id"] = np.array([campaign_id] * len(collaborations), dtype=object)
    tables["collaborations"] = (columns, lambda row: ("collaborations", row))
    return tables


def _problem_locs(item: Problem, locate: RowLocator | None, column: str | None) -> list[list]:
    tail = [column] if column else []
    if locate is None:
        return [[item.table, *tail]]
    if not item.rows:
        # A problem of the whole table (e.g. a missing required column): the first record.
        return [[*locate(0), *tail]]
    return [[*locate(row - 1), *tail] for row in item.rows]


def _contract_detail(error: ContractError,
                     locators: dict[str, RowLocator]) -> list[dict]:
    detail = []
    for item in error.problems:
        column = item.column if item.column and " + " not in item.column else None
        message = item.message + (f"; expected {item.expected}" if item.expected else "")
        locs = _problem_locs(item, locators.get(item.table), column)
        values = list(item.values) if item.values else [None] * len(locs)
        for k, loc in enumerate(locs):
            msg = message
            if k < len(values) and values[k] is not None and item.rows:
                msg = f"{message} (got {values[k]!r})"
            if item.count > len(locs) and k == len(locs) - 1:
                msg += f" [and {item.count - len(locs)} more rows with this problem]"
            detail.append(problem(loc, msg, "contract"))
    return detail


def build_request_data(creators: Sequence, campaign: dict | None = None,
                       collaborations: Sequence[dict] | None = None,
                       config: ServingConfig | None = None) -> RequestData:
    """Validated Dataset for a /score or /rank request; raises RequestError (413 / 422)."""
    config = config or ServingConfig()
    _check_limits(creators, config)
    detail: list[dict] = []
    profiles = _column_frame("creators", [c.profile for c in creators])
    raw: dict[str, dict[str, np.ndarray]] = {"creators": profiles}
    locators: dict[str, RowLocator] = {"creators": lambda row: ("creators", row, "profile")}
    profile_ids = _ids(profiles["creator_id"])
    for table in NESTED_TABLES:
        nested = _nested_table(table, creators, profile_ids, detail)
        if nested is not None:
            raw[table], locators[table] = nested
    if not creators:  # a problem about creators[0] would name a record that does not exist
        detail.append(problem(["creators"], "no creators; expected at least one",
                              "too_short"))
    elif "posts" not in raw:  # the request model requires posts; a direct caller may not
        detail.append(problem(["creators", 0, "posts"], "no posts; expected at least one",
                              "missing"))
    for table, (columns, locate) in _campaign_tables(campaign, collaborations, len(creators),
                                                     config, detail).items():
        raw[table], locators[table] = columns, locate
    if detail:
        raise RequestError(422, "invalid request", detail)
    try:
        dataset = validate_tables(raw)
    except ContractError as error:
        raise RequestError(422, CONTRACT_ERROR, _contract_detail(error, locators)) from None
    campaign_id = None
    if dataset.campaigns is not None:
        campaign_id = str(dataset.campaigns["campaign_id"].iloc[0])
    return RequestData(dataset=dataset,
                       creator_ids=as_str(dataset.column("creators", "creator_id")).tolist(),
                       campaign_id=campaign_id)


def accounts_frame(accounts: Sequence[dict], config: ServingConfig | None = None
                   ) -> pd.DataFrame:
    """The typed accounts of an /audit_followers request, checked by the contract validator
    (`data.validation.validate_accounts`, the one `creatorscore audit-followers` uses);
    raises RequestError (413 / 422, each problem at its ["accounts", i, field] path)."""
    config = config or ServingConfig()
    if len(accounts) > config.max_accounts:
        raise RequestError(413, "request too large", [too_large(
            ["accounts"], "accounts", config.max_accounts, len(accounts),
            "CREATORSCORE_MAX_ACCOUNTS")])
    columns = {name: values for name, values in _column_frame("audience_sample",
                                                             accounts).items()
               if name != "creator_id" or any(v is not None for v in values)}
    try:
        return validate_accounts(_raw_frame(columns, len(accounts)))
    except ContractError as error:
        raise RequestError(422, CONTRACT_ERROR, _contract_detail(
            error, {"audience_sample": lambda row: ("accounts", row)})) from None
