"""The registered pyfunc travels: from a fresh virtual environment outside the repository, the
champion loads by its alias and scores contract records with the numbers of `creatorscore
score`; `mlflow models serve` answers a request with them.

"Fresh" here: a new virtual environment (no pip, nothing installed) whose only extra path is
the third-party site-packages of the test's environment (a .pth line: the editable install of
this repository is *not* activated by it), run with a cwd outside the repository and no
PYTHONPATH. Our code can only come from the model's own code paths, which the child checks.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from creatorscore import app
from data.io import write_dataset
from data.records import table_records
from store import registry, tracking
from store.pyfunc import example_input, log_model
from tests.processes import free_port, server
from tests.training.small_world import small_dataset, small_train_result, small_world

REPO = Path(__file__).resolve().parents[2]
LOAD_AND_PREDICT = """
import json, sys
import mlflow
import pandas as pd
try:
    import data
    sys.exit("repository code importable before loading the model: " + data.__file__)
except ImportError:
    pass
request = json.load(open(sys.argv[1]))
model = mlflow.pyfunc.load_model("models:/creatorscore@champion")
import data
print(json.dumps({"data_module": data.__file__}))
for name, params in request["calls"].items():
    model.predict(request["tables"], params=params).to_parquet(f"{name}.parquet")
"""


def _fresh_python(root: Path) -> Path:
    """A new virtual environment seeing only the third-party packages of this one."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    (next((root / "lib").glob("python3*")) / "site-packages" / "deps.pth").write_text(
        "\n".join(site_dirs) + "\n")
    # `mlflow models serve` starts `uvicorn` from PATH: the fresh interpreter's own.
    uvicorn = root / "bin" / "uvicorn"
    uvicorn.write_text(f"#!{root / 'bin' / 'python'}\nimport sys\n"
                       "from uvicorn.main import main\nsys.exit(main())\n")
    uvicorn.chmod(0o755)
    return root / "bin" / "python"


def _env(uri: str, fresh: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{fresh.parent}:{env.get('PATH', '')}")
    return env


@pytest.fixture(scope="module")
def travelling_champion(tmp_path_factory, _empty_store_template):
    """A champion registered in its own store (the small world's bundle) and the world as a
    dataset directory."""
    import shutil

    root = tmp_path_factory.mktemp("travel")
    shutil.copy(_empty_store_template, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracking.configure_tracking(uri)
    with mlflow.start_run(experiment_id=tracking.ensure_experiment(uri)) as run:
        info = log_model(small_train_result().bundle, example_input(small_dataset()))
    version = registry.register(info.model_uri, run.info.run_id, tracking_uri=uri)
    registry.promote(version.version, tracking_uri=uri)
    write_dataset(small_world().tables, root / "world")
    return uri, root


def _cli_scores(uri: str, data: Path, out: Path, monkeypatch, *options: str) -> pd.DataFrame:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = CliRunner().invoke(app, ["score", "--data", str(data), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def assert_same_scores(expected: pd.DataFrame, got: pd.DataFrame,
                       ignore: tuple[str, ...] = ()) -> None:
    """Row by row, column by column: texts equal, numbers equal up to the last bits (sparse
    sums over a batch of creators may round differently with the batch's make-up)."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        if column in ignore:
            continue
        a, b = expected[column], got[column]
        if pd.api.types.is_float_dtype(a.dtype):
            np.testing.assert_allclose(b.to_numpy("float64"), a.to_numpy("float64"),
                                       rtol=1e-12, atol=1e-15, err_msg=column)
        else:
            assert (a.astype(object).where(a.notna(), None).tolist()
                    == b.astype(object).where(b.notna(), None).tolist()), column


@pytest.mark.slow
def test_champion_scores_outside_the_repository_like_the_cli(travelling_champion, tmp_path,
                                                              monkeypatch):
    uri, root = travelling_champion
    tables = small_world().tables
    campaign = str(tables["collaborations"]["campaign_id"].iloc[0])
    request = {"tables": table_records({k: v for k, v in tables.items()
                                        if k != "authenticity_labels"}),
               "calls": {"creators": {}, "campaign": {"campaign_id": campaign}}}
    (tmp_path / "request.json").write_text(json.dumps(request))
    fresh = _fresh_python(tmp_path / "venv")
    outside = tmp_path / "outside"
    outside.mkdir()
    done = subprocess.run([str(fresh), "-c", LOAD_AND_PREDICT, str(tmp_path / "request.json")],
                          cwd=outside, env=_env(uri, fresh), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded_from = json.loads(done.stdout.strip().splitlines()[-1])["data_module"]
    assert not loaded_from.startswith(str(REPO)) and "/code/data/" in loaded_from

    for name, options in (("creators", ()), ("campaign", ("--campaign", campaign))):
        expected = _cli_scores(uri, root / "world", tmp_path / f"cli_{name}.parquet",
                               monkeypatch, *options)
        got = pd.read_parquet(outside / f"{name}.parquet")
        # The CLI names the registered version; the model alone does not know it.
        assert_same_scores(expected, got, ignore=("model_version",))
    assert len(got) == (tables["collaborations"]["campaign_id"] == campaign).sum()


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_the_pyfunc_numbers(travelling_champion, tmp_path):
    uri, _ = travelling_champion
    fresh = _fresh_python(tmp_path / "venv")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server([str(fresh), "-m", "mlflow", "models", "serve", "-m",
                 "models:/creatorscore@champion", "--env-manager", "local", "-h", "127.0.0.1",
                 "-p", str(port)], _env(uri, fresh), tmp_path, tmp_path / "serve.log",
                f"{url}/ping"):
        tables = example_input(small_dataset())
        status, answer = _post(f"{url}/invocations", {"inputs": tables})
        assert status == 200, answer
        local = _local_prediction(uri, tables)
        got = pd.DataFrame(answer["predictions"])
        assert list(got["creator_id"]) == list(local["creator_id"])
        for column in ("fake_follower_risk", "audience_quality", "engagement_rate"):
            np.testing.assert_allclose(got[column].to_numpy(float),
                                       local[column].to_numpy(float), rtol=1e-12)

        bad = {"creators": [{"creator_id": "a", "platform": "myspace", "followers": 10}],
               "posts": []}
        status, answer = _post(f"{url}/invocations", {"inputs": bad})
        assert status == 400
        assert "creators.platform" in answer["message"] and "instagram" in answer["message"]
        status, answer = _post(f"{url}/invocations",
                               {"inputs": tables, "params": {"campaign_id": "no-such"}})
        assert status == 400 and "needs the campaigns table" in answer["message"]


def _local_prediction(uri: str, tables: dict) -> pd.DataFrame:
    tracking.configure_tracking(uri)
    return mlflow.pyfunc.load_model("models:/creatorscore@champion").predict(tables)
