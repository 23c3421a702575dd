"""The input data contract (version 1) in code: tables, columns, types and vocabularies.

This module is the single source of truth that the loader, the validator, the generator, the
feature pipelines and the service's request models read; `data/CONTRACT.md` is its prose form.
Extend it only backward-compatibly: new optional columns, new optional tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CONTRACT_VERSION = "1"

PLATFORMS = ("instagram", "tiktok", "youtube")
NICHES = (
    "beauty", "fashion", "fitness", "food", "travel", "home", "parenting", "tech", "gaming",
    "pets", "sports", "finance", "lifestyle", "sustainability",
)
FORMATS = ("image", "carousel", "video", "reel", "short", "story", "live")
COMPENSATIONS = ("fixed", "gifting", "affiliate", "hybrid")

# Column types of the contract. After loading, columns have these pandas dtypes:
#   str   -> "str"            (pandas 3 string dtype, missing = NaN)
#   int   -> "Int64"          (nullable integer)
#   float -> "float64"
#   bool  -> "boolean"        (nullable boolean)
#   date  -> "datetime64[ns]" (naive, midnight)
#   ts    -> "datetime64[ns]" (naive, converted to UTC)
PANDAS_DTYPES = {
    "str": "str", "int": "Int64", "float": "float64", "bool": "boolean",
    "date": "datetime64[ns]", "ts": "datetime64[ns]",
}


# The plausible window of dates and timestamps: nothing before EARLIEST_DATE (older dates are
# typing errors or sentinels, and before 2004 none of the platforms existed); nothing later
# than the validation day plus `Column.days_ahead` days (one day for observations, which
# absorbs time zones; longer for planned campaigns).
EARLIEST_DATE = "2004-01-01"
OBSERVED_DAYS_AHEAD = 1
PLANNED_DAYS_AHEAD = 2 * 366
# Numbers beyond 2**53 are no longer exact in float64, the type of every feature: refused.
MAX_EXACT_NUMBER = 2**53


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of PANDAS_DTYPES
    required: bool = True  # the column must be present
    nullable: bool = False  # values may be missing
    allowed: tuple[str, ...] | None = None  # vocabulary for str columns
    min_value: float | None = None  # for numeric columns
    max_value: float | None = None
    unique: bool = False
    doc: str = ""
    days_ahead: int = OBSERVED_DAYS_AHEAD  # for date/ts columns: see EARLIEST_DATE


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False  # the table must be present in a dataset
    key: tuple[str, ...] = ()  # unique together (besides unique columns)
    # (column, parent table, parent column): every value must exist in the parent
    references: tuple[tuple[str, str, str], ...] = ()
    doc: str = ""
    column_by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_by_name", {c.name: c for c in self.columns})


def _opt(name: str, type_: str, **kw) -> Column:
    return Column(name, type_, required=False, nullable=True, **kw)


NON_NEGATIVE = {"min_value": 0}

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "creators",
            (
                Column("creator_id", "str", unique=True),
                Column("platform", "str", allowed=PLATFORMS),
                Column("followers", "int", **NON_NEGATIVE),
                _opt("following", "int", **NON_NEGATIVE),
                _opt("posts_count", "int", **NON_NEGATIVE),
                _opt("account_created", "date"),
                _opt("country", "str"),
                _opt("bio", "str"),
                _opt("verified", "bool"),
                _opt("niche", "str", allowed=NICHES),
            ),
            required=True,
            doc="One row per creator account.",
        ),
        Table(
            "posts",
            (
                Column("post_id", "str", unique=True),
                Column("creator_id", "str"),
                Column("posted_at", "ts"),
                _opt("format", "str", allowed=FORMATS),
                Column("likes", "int", **NON_NEGATIVE),
                Column("comments", "int", **NON_NEGATIVE),
                _opt("shares", "int", **NON_NEGATIVE),
                _opt("saves", "int", **NON_NEGATIVE),
                _opt("views", "int", **NON_NEGATIVE),
                _opt("caption", "str"),
                _opt("sponsored", "bool"),
            ),
            required=True,
            references=(("creator_id", "creators", "creator_id"),),
            doc="The recent posts of each creator (typically the last 30 to 100).",
        ),
        Table(
            "follower_history",
            (
                Column("creator_id", "str"),
                Column("date", "date"),
                Column("followers", "int", **NON_NEGATIVE),
            ),
            key=("creator_id", "date"),
            references=(("creator_id", "creators", "creator_id"),),
            doc="Follower counts over time (daily or weekly snapshots).",
        ),
        Table(
            "audience_sample",
            (
                Column("creator_id", "str"),
                _opt("follower_id", "str"),
                _opt("username", "str"),
                Column("followers", "int", **NON_NEGATIVE),
                Column("following", "int", **NON_NEGATIVE),
                Column("posts_count", "int", **NON_NEGATIVE),
                _opt("has_profile_pic", "bool"),
                _opt("is_private", "bool"),
                _opt("bio_length", "int", **NON_NEGATIVE),
                _opt("has_external_url", "bool"),
                _opt("full_name", "str"),
            ),
            references=(("creator_id", "creators", "creator_id"),),
            doc="A random sample of each creator's follower accounts.",
        ),
        Table(
            "comments",
            (
                Column("creator_id", "str"),
                Column("post_id", "str"),
                _opt("commenter_id", "str"),
                Column("text", "str", nullable=True),
            ),
            references=(
                ("creator_id", "creators", "creator_id"),
                ("post_id", "posts", "post_id"),
            ),
            doc="Comments on the creators' posts.",
        ),
        Table(
            "campaigns",
            (
                Column("campaign_id", "str", unique=True),
                Column("brand", "str"),
                Column("niche", "str", allowed=NICHES),
                _opt("brief", "str"),
                _opt("target_countries", "str"),
                _opt("product_price", "float", **NON_NEGATIVE),
                Column("start_date", "date", days_ahead=PLANNED_DAYS_AHEAD),
                _opt("end_date", "date", days_ahead=PLANNED_DAYS_AHEAD),
            ),
            doc="Campaigns, for conversion prediction and ranking.",
        ),
        Table(
            "collaborations",
            (
                Column("campaign_id", "str"),
                Column("creator_id", "str"),
                Column("compensation", "str", allowed=COMPENSATIONS),
                Column("cost", "float", **NON_NEGATIVE),
                _opt("posted_at", "ts"),
                _opt("impressions", "int", **NON_NEGATIVE),
                _opt("clicks", "int", **NON_NEGATIVE),
                # Outcome column: absent for planned collaborations (scoring a new campaign).
                _opt("conversions", "int", **NON_NEGATIVE),
                _opt("revenue", "float", **NON_NEGATIVE),
            ),
            key=("campaign_id", "creator_id"),
            references=(
                ("campaign_id", "campaigns", "campaign_id"),
                ("creator_id", "creators", "creator_id"),
            ),
            doc="Past collaborations with their outcomes (conversion labels), or planned ones.",
        ),
        Table(
            "authenticity_labels",
            (
                Column("creator_id", "str", unique=True),
                _opt("fake_follower_share", "float", min_value=0, max_value=1),
                _opt("bought_followers", "bool"),
            ),
            references=(("creator_id", "creators", "creator_id"),),
            doc="Audited creators, for training the fake-follower risk model.",
        ),
    )
}

TABLE_ORDER = tuple(TABLES)


def contract_markdown() -> str:
    """The contract as Markdown, generated from TABLES (written to data/CONTRACT.md)."""
    lines = [
        f"# Input data contract, version {CONTRACT_VERSION}",
        "",
        "Generated from `data/contract.py` by `python -m data.contract`: edit the code, not this "
        "file. A dataset is a directory with one file per table, `<table>.csv` or "
        "`<table>.parquet`; the scoring service takes the same tables as JSON records. Unknown "
        "extra columns are ignored; optional tables and columns may be absent. Extend only "
        "backward-compatibly (new optional columns, new optional tables).",
        "",
        "Types: `str`, `int` (whole number), `float`, `bool` (true/false, 1/0, yes/no), `date` "
        "(ISO 8601 `YYYY-MM-DD`), `ts` (ISO 8601 timestamp, UTC if no offset).",
        "",
        f"Numbers: at most 2**53 ({MAX_EXACT_NUMBER:,}) in absolute value, the largest "
        "range float64 holds exactly. Dates and timestamps: not before "
        f"{EARLIEST_DATE} and not after the day of validation plus {OBSERVED_DAYS_AHEAD} day "
        f"(campaign dates: plus {PLANNED_DAYS_AHEAD} days). A column name appears once per "
        "table; a cell holds one value (no lists); every CSV line has the header's number of "
        "fields.",
        "",
        "Point in time: features for a collaboration use only posts, follower history and "
        "comments dated before the campaign's `start_date`.",
    ]
    for table in TABLES.values():
        lines += ["", f"## {table.name} ({'required' if table.required else 'optional'})", "",
                  table.doc, "", "| column | type | required | missing allowed | rule |",
                  "|---|---|---|---|---|"]
        for column in table.columns:
            rules = []
            if column.unique:
                rules.append("unique")
            if column.allowed:
                rules.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
            if column.min_value is not None:
                rules.append(f">= {column.min_value:g}")
            if column.max_value is not None:
                rules.append(f"<= {column.max_value:g}")
            lines.append(f"| {column.name} | {column.type} | {'yes' if column.required else 'no'}"
                         f" | {'yes' if column.nullable else 'no'} | {'; '.join(rules)} |")
        if table.key:
            lines += ["", "Unique together: " + ", ".join(table.key) + "."]
        for column, parent, parent_column in table.references:
            lines += ["", f"`{column}` must exist in `{parent}.{parent_column}`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    Path(__file__).with_name("CONTRACT.md").write_text(contract_markdown(), encoding="utf-8")
