"""Uploaded candidates -> a `CandidateSource`: a zip of contract tables, several table files,
or one request JSON. Every refusal is a RequestError naming the file, table, column and rows
(the data contract's problems), shown in the page.

Table files go through `data.loader.load_dataset` on a temporary directory: the same reader
and validator as `creatorscore validate` and `score`.
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath

from data.contract import TABLES
from data.loader import ContractError, load_dataset
from serving.errors import RequestError, problem, too_large
from serving.shortlist import CandidateSource

TABLE_SUFFIXES = (".csv", ".parquet")


def contract_problems(error: ContractError) -> list[dict]:
    """The contract's problems as page rows: where (table, column, first rows) and what."""
    detail = []
    for item in error.problems:
        where = [item.table] + ([item.column] if item.column else [])
        if item.rows:
            where.append("row" + ("s " if len(item.rows) > 1 else " ")
                         + ", ".join(map(str, item.rows)))
        prefix = f"{item.table}.{item.column}: " if item.column else f"{item.table}: "
        text = str(item)
        detail.append(problem(where, text[len(prefix):] if text.startswith(prefix) else text,
                              "contract"))
    return detail


def _table_name(name: str) -> str | None:
    path = PurePosixPath(name)
    if path.suffix.lower() in TABLE_SUFFIXES and path.stem in TABLES:
        return f"{path.stem}{path.suffix.lower()}"
    return None


def _unpack_zip(name: str, content: bytes, directory: Path, max_bytes: int) -> None:
    try:
        archive = zipfile.ZipFile(BytesIO(content))
    except zipfile.BadZipFile:
        raise RequestError(422, "the upload cannot be read", [problem(
            ["upload", name], "not a zip file; expected a .zip of <table>.csv or .parquet "
            "files, table files, or a request .json", "not_a_zip")]) from None
    with archive:
        members = [info for info in archive.infolist()
                   if not info.is_dir() and not PurePosixPath(info.filename).name.startswith(".")
                   and "__MACOSX" not in info.filename]
        unpacked = sum(info.file_size for info in members)
        if unpacked > max_bytes:  # a zip bomb never reaches the disk
            raise RequestError(413, "upload too large", [too_large(
                ["upload", name], "bytes unpacked", max_bytes, unpacked,
                "CREATORSCORE_MAX_BODY_BYTES")])
        tables = [(info, _table_name(PurePosixPath(info.filename).name)) for info in members]
        if not any(table for _, table in tables):
            raise RequestError(422, "the upload has no contract table", [problem(
                ["upload", name], "no <table>.csv or <table>.parquet file with a contract "
                f"table's name; expected some of {list(TABLES)}", "no_tables")])
        for info, table in tables:
            if table is None:
                continue  # unknown files are ignored, as unknown tables are
            target = directory / table
            if target.exists():
                raise RequestError(422, "the upload cannot be read", [problem(
                    ["upload", name, info.filename], f"a second file for table {table!r}; "
                    "expected one file per table", "duplicate_table")])
            target.write_bytes(archive.read(info))


def read_upload(files: list[tuple[str, bytes]], max_bytes: int) -> CandidateSource:
    """The candidates of the uploaded files ((name, content) pairs)."""
    files = [(name, content) for name, content in files if name]
    if not files:
        raise RequestError(422, "nothing uploaded", [problem(
            ["upload"], "no file; expected a zip, table files or a request JSON", "missing")])
    size = sum(len(content) for _, content in files)
    if size > max_bytes:
        raise RequestError(413, "upload too large", [too_large(
            ["upload"], "bytes", max_bytes, size, "CREATORSCORE_MAX_BODY_BYTES")])
    label = ", ".join(name for name, _ in files)
    if len(files) == 1 and files[0][0].lower().endswith(".json"):
        return _request_json(*files[0])
    with tempfile.TemporaryDirectory(prefix="creatorscore-upload-") as directory:
        for name, content in files:
            suffix = PurePosixPath(name).suffix.lower()
            if suffix == ".zip":
                _unpack_zip(name, content, Path(directory), max_bytes)
            elif _table_name(PurePosixPath(name).name) is not None:
                target = Path(directory) / _table_name(PurePosixPath(name).name)
                if target.exists():
                    raise RequestError(422, "the upload cannot be read", [problem(
                        ["upload", name], f"a second file for table {target.name!r}; "
                        "expected one file per table", "duplicate_table")])
                target.write_bytes(content)
            else:
                raise RequestError(422, "the upload cannot be read", [problem(
                    ["upload", name], "not a contract table, zip or request JSON; expected "
                    f"<table>.csv or .parquet with a table among {list(TABLES)}, a .zip of "
                    "them, or one .json request", "unknown_file")])
        try:
            dataset = load_dataset(directory)
        except ContractError as error:
            raise RequestError(422, "the data do not follow the data contract",
                               contract_problems(error)) from None
    return CandidateSource(label=label, tables=dataset.tables)


def _request_json(name: str, content: bytes) -> CandidateSource:
    try:
        body = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise RequestError(422, "the upload cannot be read", [problem(
            ["upload", name], "not UTF-8 text; expected a JSON request", "not_json")]) from None
    except json.JSONDecodeError as error:
        raise RequestError(422, "the upload cannot be read", [problem(
            ["upload", name], f"not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}", "not_json")]) from None
    if not isinstance(body, dict) or not isinstance(body.get("creators"), list):
        raise RequestError(422, "the upload cannot be read", [problem(
            ["upload", name], "expected a request object with \"creators\", \"campaign\" and "
            "\"collaborations\" (as `creatorscore example-request --campaign ID` writes)",
            "not_a_request")])
    return CandidateSource(label=name, body=body)


def read_directory(directory: Path) -> CandidateSource:
    """A dataset directory the server was started with (`creatorscore serve --data DIR`)."""
    try:
        dataset = load_dataset(directory)
    except ContractError as error:
        raise RequestError(422, "the data do not follow the data contract",
                           contract_problems(error)) from None
    return CandidateSource(label=Path(directory).name, tables=dataset.tables)
