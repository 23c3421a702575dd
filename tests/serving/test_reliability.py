"""Reliability of the inference commands and the service (issue 14).

Finding 1: `serve` on a damaged champion exits 1 in seconds, before binding its port, and
`score` says the same in one line. Finding 2: the file-system errors a user can cause are one
line, never a traceback. Finding 3: the service refuses the very values the contract refuses
in files (the two paths agree), and an empty accounts file is refused like an empty list.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from store import registry
from tests.data.test_contract_bounds import BAD_CASES
from tests.serving.helpers import campaign_with_plans, score_body
from tests.store.test_loading import _bundle_path
from tests.store.test_registry import _register_versions

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def damaged_champion(mlflow_store):
    (version,) = _register_versions(mlflow_store, 1)
    registry.promote(version)
    path = _bundle_path(version)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # a truncated copy
    return mlflow_store


def _assert_one_line_error(output: str) -> None:
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output


def test_serve_exits_1_in_seconds_on_a_damaged_champion(damaged_champion):
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": damaged_champion,
           "BENTOML_DO_NOT_TRACK": "true", "COLUMNS": "200"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "creatorscore", "serve", "--port",
                               str(port)], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
    except subprocess.TimeoutExpired:  # the old `serve` never exits
        pytest.fail("`creatorscore serve` did not exit on a damaged champion")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert time.monotonic() - started < 60
    _assert_one_line_error(output)
    assert "creatorscore/1 is damaged" in output and "serving on" not in output
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the port was never bound


def test_score_and_retrain_on_a_damaged_champion_are_one_line(damaged_champion, champion,
                                                              tmp_path):
    write_dataset(champion.tables, tmp_path / "world")
    out = tmp_path / "scores.csv"
    runner = CliRunner()
    for args in (["score", "--data", str(tmp_path / "world"), "--out", str(out)],
                 ["retrain", "--data", str(tmp_path / "world"), "--rounds", "5"]):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 1, result.output
        _assert_one_line_error(result.output)
        assert "creatorscore/1 is damaged" in result.output
    assert not out.exists()
    assert registry.get_alias(registry.CHAMPION).version == "1"  # nothing registered
    assert registry.get_alias(registry.CHALLENGER) is None


def test_file_system_errors_are_one_line(champion, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
    write_dataset(champion.tables, tmp_path / "world")
    (tmp_path / "existing_dir.csv").mkdir()
    (tmp_path / "afile").write_text("x")
    accounts = tmp_path / "accounts.csv"
    champion.tables["audience_sample"].head(20).to_csv(accounts, index=False)
    cases = [
        (["score", "--data", str(tmp_path / "world"), "--out",
          str(tmp_path / "existing_dir.csv")], "is a directory"),
        (["score", "--data", str(tmp_path / "world"), "--out",
          str(tmp_path / "afile" / "x.csv")], "expected a directory"),
        (["audit-followers", str(tmp_path / "world"), "--out", str(tmp_path / "a.csv")],
         "is a directory"),
        (["audit-followers", str(accounts), "--out", str(tmp_path / "existing_dir.csv")],
         "is a directory"),
        (["features", "--data", str(tmp_path / "world"), "--out",
          str(tmp_path / "afile" / "f.csv")], "expected a directory"),
    ]
    runner = CliRunner()
    for args, message in cases:
        result = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert result.exit_code == 1, (args, result.output)
        _assert_one_line_error(result.output)
        assert message in result.output, (args, result.output)


def test_a_header_only_accounts_file_is_refused(tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("followers,following,posts_count\n")
    result = CliRunner().invoke(app, ["audit-followers", str(accounts), "--out",
                                      str(tmp_path / "a.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "0 data row(s)" in result.output and "at least 1 row" in result.output
    assert not (tmp_path / "a.csv").exists()


def _typed(column: str, value: str):
    if column in ("likes", "followers"):
        return int(value)
    if column in ("product_price", "cost"):
        return float(value)
    return value


@pytest.mark.parametrize(("table", "column", "value", "message"), BAD_CASES)
def test_the_service_refuses_what_the_contract_refuses(client, champion, table, column, value,
                                                       message):
    """The same cases as tests/data/test_contract_bounds.py, as JSON: both paths refuse."""
    tables = champion.tables
    campaign_id = campaign_with_plans(tables, min_plans=1)
    planned = tables["collaborations"].loc[
        tables["collaborations"]["campaign_id"] == campaign_id, "creator_id"].tolist()[:1]
    body = score_body(tables, planned, campaign_id, explain=False)
    target = {"posts": body["creators"][0]["posts"][0],
              "creators": body["creators"][0]["profile"],
              "campaigns": body["campaign"],
              "collaborations": body["collaborations"][0]}[table]
    target[column] = _typed(column, value)
    response = client.post("/score", json=body)
    # 400 when the request model refuses it, 422 when the contract validator does.
    assert response.status_code in (400, 422), response.text
    locs = [detail["loc"] for detail in response.json()["detail"]]
    assert any(loc[-1] == column for loc in locs), locs


def _can_mount_read_only(path: Path) -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind '{path}' '{path}' && "
                            f"mount -o remount,ro,bind '{path}'"], capture_output=True)
    return probe.returncode == 0


def test_score_works_on_a_read_only_store(champion, tmp_path):
    """The store mounted read-only (a private mount namespace): loading the champion used to
    write registered_model_meta into its artifact folder and end in OSError [Errno 30]."""
    store_dir = Path(champion.tracking_uri[len("sqlite:///"):]).parent
    if shutil.which("unshare") is None or not _can_mount_read_only(store_dir):
        pytest.skip("needs `unshare -m` and bind mounts (root in a private mount namespace) "
                    "to mount the store read-only")
    write_dataset(champion.tables, tmp_path / "world")
    out = tmp_path / "scores.csv"
    command = (f"mount --bind '{store_dir}' '{store_dir}' && "
               f"mount -o remount,ro,bind '{store_dir}' && "
               f"touch '{store_dir}/probe' 2>/dev/null && exit 99; "
               f"exec '{sys.executable}' -m creatorscore score --data '{tmp_path / 'world'}' "
               f"--out '{out}'")
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "COLUMNS": "200",
                                                       "MLFLOW_TRACKING_URI":
                                                       champion.tracking_uri})
    assert done.returncode != 99, "the store was still writable"
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.exists() and f"with creatorscore/{champion.version}" in done.stdout


def test_a_refused_request_logs_one_line(client, caplog):
    """A 400 used to log its whole traceback at ERROR (25 lines per bad request)."""
    import logging

    with caplog.at_level(logging.INFO):
        response = client.post("/score", json={"creators": [{"profile": {"creator_id": 5}}],
                                                "top_n": "many"})
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "bentoml._internal.server.http_app"]
    assert len(records) == 1 and records[0].levelname == "WARNING"
    assert records[0].exc_info is None and "\n" not in records[0].getMessage()
    assert records[0].getMessage().startswith("400 /score [POST]: ")


def test_every_answer_names_the_model_and_whether_it_is_the_registrys_champion(client,
                                                                               champion):
    expected = f"creatorscore/{champion.version}"
    body = score_body(champion.tables, champion.tables["creators"]["creator_id"].tolist()[:1],
                      explain=False)
    for response in (client.post("/score", json=body), client.get("/model_info"),
                     client.post("/model_info", json={}),
                     client.post("/score", json={"creators": []})):
        assert response.headers["x-model-version"] == expected, response.status_code
        assert response.headers["x-registry-champion"] == "current"


def test_a_full_disk_is_one_line(champion, tmp_path):
    """`train` on a store whose disk is full (a 600 KiB tmpfs in a private mount namespace)
    used to print ~230 lines of MLflow tracebacks before its cause."""
    full = tmp_path / "full"
    full.mkdir()
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=600k tmpfs "
                            f"'{full}'"], capture_output=True) if shutil.which("unshare") \
        else None
    if probe is None or probe.returncode != 0:
        pytest.skip("needs `unshare -m` and tmpfs mounts (root in a private mount namespace)")
    write_dataset(champion.tables, tmp_path / "world")
    command = (f"mount -t tmpfs -o size=600k tmpfs '{full}' && exec '{sys.executable}' -m "
               f"creatorscore train --data '{tmp_path / 'world'}' --rounds 5")
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={
                              **os.environ, "COLUMNS": "200",
                              "MLFLOW_TRACKING_URI": f"sqlite:///{full / 'mlflow.db'}"})
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    _assert_one_line_error(output)
    assert "disk is full" in output and len(output.strip().splitlines()) <= 3, output


def test_an_empty_creator_list_is_refused_as_such(client):
    """It used to be answered with a problem about creators[0].posts, a record that does not
    exist."""
    response = client.post("/score", json={"creators": []})
    assert response.status_code in (400, 422), response.text
    locs = [detail["loc"] for detail in response.json()["detail"]]
    assert locs == [["creators"]], locs


def test_scoring_answers_carry_the_engines_time(client, champion):
    """Server-Timing gives the engine's share of a request (the benchmark reports the rest as
    HTTP and BentoML): on answers and on refusals of the scoring routes."""
    body = score_body(champion.tables, champion.tables["creators"]["creator_id"].tolist()[:1],
                      explain=False)
    for response, status in ((client.post("/score", json=body), 200),
                             (client.post("/score", json={"creators": []}), 422)):
        assert response.status_code == status
        match = re.fullmatch(r'engine;dur=(\d+\.\d\d);desc="[^"]+"',
                             response.headers["server-timing"])
        assert match and 0 <= float(match.group(1)) < 60_000
