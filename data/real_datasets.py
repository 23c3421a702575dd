"""Public labelled fake-account data sets, brought into the `audience_sample` schema plus a label.

The files live outside the repository, in `../shared/datasets/` (read-only, never copied into the
repo; each folder has a PROVENANCE.txt with source, licence and published results). Locate them
with the env var CREATORSCORE_SHARED_DIR (the shared folder, or directly its `datasets/`
sub-folder), else `<repo>/../shared`.

Every loader returns one row per labelled account with:

- the `audience_sample` contract columns (`creator_id`, `follower_id`, `username`, `full_name`
  are present but missing: these accounts are not attached to a creator and the sources publish
  no names), typed like loaded contract tables (Int64 / boolean / str);
- `username_length`, `username_digit_count` (Int64) and `username_digit_ratio` (float64, digits /
  length), where the source has them;
- `is_fake` (bool), `source` (str: "purba", "instafake", "kaggle"), `purba_class` (str: r/a/i/s,
  Purba only).

Fields a source does not publish are missing (never invented). Source-specific extras are kept
under the names in `PURBA_POSTING_COLUMNS` and `KAGGLE_NAME_COLUMNS`.

Licences: InstaFake is CC BY-NC 4.0 (non-commercial): use it for benchmarks only, which is why
`load_real_accounts` leaves it out by default. Purba and Kaggle state no licence in their mirrors.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from data.contract import PANDAS_DTYPES, TABLES

SHARED_DIR_ENV = "CREATORSCORE_SHARED_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]

PURBA_DIR = "purba_instagram_fake"
INSTAFAKE_DIR = "instafake"
KAGGLE_DIR = "kaggle_instagram_fake"
PURBA_FILE = "user_fake_authentic_4class.csv"
INSTAFAKE_FILE = "fake_v1.0_combined.csv"
KAGGLE_FILES = {"train": "train.csv", "test": "test.csv"}

SOURCES = ("purba", "instafake", "kaggle")
# InstaFake (CC BY-NC) is excluded from the default: the model the product ships must not
# depend on non-commercial data.
DEFAULT_SOURCES = ("purba", "kaggle")

PURBA_CLASSES = {"r": "authentic", "a": "active fake", "i": "inactive fake", "s": "spammer"}

# Purba's posting features (computed by the authors over each account's recent posts).
PURBA_POSTING_COLUMNS = {
    "cl": "caption_length_mean",
    "cz": "zero_caption_fraction",
    "ni": "non_image_post_fraction",
    "erl": "like_engagement_rate_pct",
    "erc": "comment_engagement_rate_pct",
    "lt": "location_tag_fraction",
    "hc": "hashtag_count_mean",
    "pr": "promotional_keyword_fraction",
    "fo": "follower_hunting_keyword_fraction",
    "cs": "post_cosine_similarity_mean",
    "pi": "post_interval_hours_mean",
}
KAGGLE_NAME_COLUMNS = {
    "fullname words": "full_name_word_count",
    "nums/length fullname": "full_name_digit_ratio",
    "name==username": "full_name_equals_username",
}

AUDIENCE_COLUMNS = tuple(c.name for c in TABLES["audience_sample"].columns)
USERNAME_COLUMNS = ("username_length", "username_digit_count", "username_digit_ratio")
LABEL_COLUMNS = ("is_fake", "source", "purba_class")
COMMON_COLUMNS = AUDIENCE_COLUMNS + USERNAME_COLUMNS + LABEL_COLUMNS

_EXTRA_DTYPES = {
    "username_length": "Int64",
    "username_digit_count": "Int64",
    "username_digit_ratio": "float64",
    "is_fake": "bool",
    "source": "str",
    "purba_class": "str",
}


class RealDataMissingError(FileNotFoundError):
    """A shared data set (folder or file) is not where it should be."""


def shared_datasets_dir(shared_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the data set folders (`purba_instagram_fake/`, ...).

    `shared_dir` (or env CREATORSCORE_SHARED_DIR, or `<repo>/../shared`) may be the shared folder
    or its `datasets/` sub-folder. The path is returned even if it does not exist; loaders raise.
    """
    if shared_dir is None:
        shared_dir = os.environ.get(SHARED_DIR_ENV) or (REPO_ROOT.parent / "shared")
    base = Path(shared_dir)
    if (base / "datasets").is_dir():
        return base / "datasets"
    if base.name == "datasets" or any((base / d).is_dir() for d in (PURBA_DIR, KAGGLE_DIR)):
        return base
    return base / "datasets"


def shared_datasets_available(shared_dir: str | os.PathLike | None = None) -> bool:
    """True when the default training sources (Purba and Kaggle) can be loaded."""
    root = shared_datasets_dir(shared_dir)
    return (root / PURBA_DIR / PURBA_FILE).is_file() and all(
        (root / KAGGLE_DIR / f).is_file() for f in KAGGLE_FILES.values()
    )


def _dataset_file(directory: str | os.PathLike | None, default_dir: str, file: str,
                  source: str) -> Path:
    folder = Path(directory) if directory is not None else shared_datasets_dir() / default_dir
    path = folder / file
    if not path.is_file():
        where = "folder is missing" if not folder.is_dir() else f"{file} is missing from it"
        raise RealDataMissingError(
            f"{source} data set not found: {path} ({where}). Put the shared data sets in "
            f"<repo>/../shared/datasets/{default_dir}/ or set {SHARED_DIR_ENV}."
        )
    return path


def _read_csv(path: Path, expected: Iterable[str], source: str) -> pd.DataFrame:
    raw = pd.read_csv(path)
    missing = [c for c in expected if c not in raw.columns]
    if missing:
        raise ValueError(f"{source} file {path}: missing columns {missing}; found "
                         f"{list(raw.columns)}")
    return raw


def _flag(values: pd.Series, source: str, column: str) -> pd.Series:
    bad = ~values.isin([0, 1])
    if bad.any():
        rows = list(values.index[bad][:5])
        raise ValueError(f"{source} column {column!r}: values other than 0/1 at rows {rows}")
    return values.astype("boolean")


def _finish(frame: pd.DataFrame, source: str, extra_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Add absent common columns as missing, type them and order them."""
    out = frame.copy()
    out["source"] = source
    if "follower_id" not in out:
        out["follower_id"] = [f"{source}-{i:06d}" for i in range(len(out))]
    dtypes = {c.name: PANDAS_DTYPES[c.type] for c in TABLES["audience_sample"].columns}
    dtypes.update(_EXTRA_DTYPES)
    for column in COMMON_COLUMNS:
        if column not in out:
            out[column] = pd.Series(index=out.index, dtype=dtypes[column])
        else:
            out[column] = out[column].astype(dtypes[column])
    columns = list(COMMON_COLUMNS) + [c for c in extra_columns if c not in COMMON_COLUMNS]
    return out[columns].reset_index(drop=True)


def load_purba(dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Purba et al. 2020, 4-class file: 43,307 accounts (r 10,441 / a 12,054 / i 10,549 /
    s 10,263; 1,082 exact duplicate rows kept, all inactive fakes). No privacy flag, no username.
    `is_fake` is True for active fakes, inactive fakes and spammers."""
    path = _dataset_file(dir, PURBA_DIR, PURBA_FILE, "Purba")
    base = {"pos": "posts_count", "flw": "followers", "flg": "following", "bl": "bio_length",
            "pic": "has_profile_pic", "lin": "has_external_url"}
    raw = _read_csv(path, list(base) + list(PURBA_POSTING_COLUMNS) + ["class"], "Purba")
    unknown = ~raw["class"].isin(list(PURBA_CLASSES))
    if unknown.any():
        labels = sorted(raw["class"][unknown].unique())
        raise ValueError(f"Purba column 'class': unknown labels {labels}"
                         f" at rows {list(raw.index[unknown][:5])}; expected {list(PURBA_CLASSES)}")
    frame = raw.rename(columns={**base, **PURBA_POSTING_COLUMNS})
    for column in ("has_profile_pic", "has_external_url"):
        frame[column] = _flag(frame[column], "Purba", column)
    frame["purba_class"] = raw["class"]
    frame["is_fake"] = raw["class"].ne("r").to_numpy()
    posting = list(PURBA_POSTING_COLUMNS.values())
    frame[posting] = frame[posting].astype("float64")
    return _finish(frame, "purba", posting)


def load_instafake(dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """InstaFake (Akyon & Kalfaoglu 2019), fake-v1.0: 1,194 accounts, 200 fake. No external-URL
    flag. Licence CC BY-NC 4.0: benchmarks only, never the shipped model."""
    path = _dataset_file(dir, INSTAFAKE_DIR, INSTAFAKE_FILE, "InstaFake")
    names = {"userFollowerCount": "followers", "userFollowingCount": "following",
             "userBiographyLength": "bio_length", "userMediaCount": "posts_count",
             "userHasProfilPic": "has_profile_pic", "userIsPrivate": "is_private",
             "usernameDigitCount": "username_digit_count", "usernameLength": "username_length"}
    raw = _read_csv(path, list(names) + ["isFake"], "InstaFake")
    frame = raw.rename(columns=names)
    for column in ("has_profile_pic", "is_private"):
        frame[column] = _flag(frame[column], "InstaFake", column)
    length = frame["username_length"].astype("float64")
    frame["username_digit_ratio"] = np.where(
        length > 0, frame["username_digit_count"] / length.where(length > 0), np.nan)
    frame["is_fake"] = _flag(raw["isFake"], "InstaFake", "isFake").to_numpy(dtype=bool)
    return _finish(frame, "instafake")


def load_kaggle(dir: str | os.PathLike | None = None, split: str = "train") -> pd.DataFrame:
    """Kaggle "Instagram fake spammer genuine accounts": train 576 (288 fake), test 120 (60 fake).

    The source gives only the username's digits/length ratio, not the length nor the count: the
    ratio is kept as `username_digit_ratio`, `username_length` and `username_digit_count` stay
    missing (a ratio of 0 would imply a count of 0, but filling only those rows would make
    missingness itself mean "has digits", which a model would learn)."""
    if split not in KAGGLE_FILES:
        raise ValueError(f"Kaggle split must be one of {list(KAGGLE_FILES)}, got {split!r}")
    path = _dataset_file(dir, KAGGLE_DIR, KAGGLE_FILES[split], "Kaggle")
    names = {"#followers": "followers", "#follows": "following", "#posts": "posts_count",
             "profile pic": "has_profile_pic", "private": "is_private",
             "description length": "bio_length", "external URL": "has_external_url",
             "nums/length username": "username_digit_ratio"}
    raw = _read_csv(path, list(names) + list(KAGGLE_NAME_COLUMNS) + ["fake"], "Kaggle")
    frame = raw.rename(columns={**names, **KAGGLE_NAME_COLUMNS})
    for column in ("has_profile_pic", "is_private", "has_external_url"):
        frame[column] = _flag(frame[column], "Kaggle", column)
    frame["is_fake"] = _flag(raw["fake"], "Kaggle", "fake").to_numpy(dtype=bool)
    frame["full_name_equals_username"] = _flag(frame["full_name_equals_username"], "Kaggle",
                                               "name==username")
    frame["full_name_word_count"] = frame["full_name_word_count"].astype("Int64")
    frame["full_name_digit_ratio"] = frame["full_name_digit_ratio"].astype("float64")
    frame["follower_id"] = [f"kaggle-{split}-{i:06d}" for i in range(len(frame))]
    return _finish(frame, "kaggle", list(KAGGLE_NAME_COLUMNS.values()))


def load_real_accounts(shared_dir: str | os.PathLike | None = None,
                       sources: Iterable[str] = DEFAULT_SOURCES) -> pd.DataFrame:
    """The chosen sources stacked (Kaggle = train + test), common columns only.

    Default sources leave out InstaFake (CC BY-NC, non-commercial). Raises RealDataMissingError
    when a source's files are absent.
    """
    sources = tuple(sources)
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"unknown or no sources {unknown or list(sources)}; choose from "
                         f"{list(SOURCES)}")
    root = shared_datasets_dir(shared_dir)
    frames = []
    for source in sources:
        if source == "purba":
            frames.append(load_purba(root / PURBA_DIR))
        elif source == "instafake":
            frames.append(load_instafake(root / INSTAFAKE_DIR))
        else:
            frames.extend(load_kaggle(root / KAGGLE_DIR, split) for split in KAGGLE_FILES)
    stacked = pd.concat([f[list(COMMON_COLUMNS)] for f in frames], ignore_index=True)
    return stacked
