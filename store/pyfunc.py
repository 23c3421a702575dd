"""The registered model's pyfunc face: contract records in, scores out, our code inside.

`mlflow.pyfunc.load_model("models:/creatorscore@champion").predict(tables, params=...)`
scores exactly as `creatorscore score` does:

- input: a dict of contract tables by name, each a list of records (dicts of contract
  columns, dates and timestamps as ISO text) or a pandas DataFrame: `creators` and `posts`
  (required), `follower_history`, `audience_sample`, `comments` (optional), `campaigns` and
  `collaborations` (optional: planned collaborations, outcome columns ignored). Unknown tables
  and columns are ignored, as in a dataset directory.
- params: `campaign_id` (optional): score that campaign's planned collaborations, or every
  creator for it when it has none (`models.bundle.campaign_plans`); without it, one row per
  creator.
- output: the scores table (`ScoringBundle.score`), text columns as Python strings.

Input that breaks the data contract raises an MlflowException (HTTP 400 under
`mlflow models serve`) with the validator's report: table, column, rows and expected values.

The model carries its code (`code_paths`: the data, features, models and store packages) and
pins its Python requirements, so it loads in a fresh environment outside this repository.
"""
from __future__ import annotations

import pickle
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import ParamSchema, ParamSpec

import data
import features
import models
import store
from data.contract import TABLES
from data.records import table_records
from data.validation import ContractError, validate_tables
from models.bundle import campaign_plans
from store.registry import BUNDLE_FILE

# The packages the pickled bundle and this wrapper import (data -> features -> models; store
# holds this class). Training and serving code is not needed to score.
CODE_PACKAGES = (data, features, models, store)
# Installed with the model (`mlflow models serve`, a fresh virtual environment).
REQUIREMENTS = ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "scipy", "shap",
                "pyarrow")
EXAMPLE_CREATORS = 2
EXAMPLE_TABLES = ("creators", "posts", "follower_history", "audience_sample", "comments")


# MLflow asks for type hints on `predict` to validate inputs; a dict of contract tables has no
# MLflow type-hint form, and the contract validator checks every value. Its warning is muted by
# recording it (MLflow resets the filters while it checks, so a filter would not hold).
with warnings.catch_warnings(record=True):

    class ContractRecordsModel(mlflow.pyfunc.PythonModel):
        """pyfunc of a ScoringBundle over contract records (see the module docstring)."""

        def load_context(self, context) -> None:
            with open(context.artifacts["bundle"], "rb") as handle:
                self.bundle = pickle.load(handle)

        def predict(self, context, model_input, params: dict | None = None) -> pd.DataFrame:
            campaign_id = (params or {}).get("campaign_id") or None
            try:
                ds = validate_tables(input_tables(model_input))
                table = self.bundle.score(ds, campaign_id=campaign_id,
                                          collaborations=campaign_plans(ds, campaign_id)).table
            except ContractError as error:
                raise MlflowException(
                    "the input does not follow the data contract:\n" + error.report(),
                    error_code=INVALID_PARAMETER_VALUE) from None
            except ValueError as error:  # e.g. an unknown campaign_id
                raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
            return plain_text_columns(table)


def input_tables(model_input) -> dict[str, pd.DataFrame]:
    """The contract tables of a pyfunc input: {table name: records or DataFrame}.

    `mlflow models serve` hands a JSON `{"inputs": {...}}` over as numpy arrays of records,
    also accepted. Raises MlflowException naming what is wrong with the shape."""
    if not isinstance(model_input, dict):
        raise MlflowException(
            f"input: got {type(model_input).__name__}; expected a dict of contract tables, "
            "e.g. {\"creators\": [{...}], \"posts\": [{...}]}",
            error_code=INVALID_PARAMETER_VALUE)
    tables = {}
    for name, value in model_input.items():
        if name not in TABLES:
            continue  # unknown tables are ignored, as in a dataset directory
        if isinstance(value, pd.DataFrame):
            tables[name] = value
            continue
        rows = list(value.ravel()) if isinstance(value, np.ndarray) else value
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise MlflowException(
                f"input.{name}: got {type(value).__name__}; expected a list of records "
                "(one JSON object per row, contract columns as keys)",
                error_code=INVALID_PARAMETER_VALUE)
        tables[name] = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(
            columns=[c.name for c in TABLES[name].columns])
    return tables


def plain_text_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns as object dtype holding str or None: pandas 3's "str" dtype does not go
    through MLflow's JSON encoding or signatures."""
    out = table.copy()
    for name, dtype in table.dtypes.items():
        if not pd.api.types.is_numeric_dtype(dtype):
            values = table[name].astype(object)
            out[name] = values.where(table[name].notna(), None)
    return out


def example_input(ds) -> dict[str, list[dict]]:
    """A small pyfunc input from a dataset: the first creators with their rows."""
    creators = ds.creators["creator_id"].head(EXAMPLE_CREATORS)
    tables = {}
    for name in EXAMPLE_TABLES:
        frame = getattr(ds, name)
        if frame is not None:
            tables[name] = frame[frame["creator_id"].isin(creators)]
    return table_records(tables)


def requirements() -> list[str]:
    pins = []
    for package in REQUIREMENTS:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def log_model(bundle, input_example: dict | None = None, name: str = "model"):
    """Log `bundle` as a pyfunc in the active run (code, requirements, signature with the
    `campaign_id` param); returns the ModelInfo."""
    signature = ModelSignature(params=ParamSchema([ParamSpec("campaign_id", "string", None)]))
    code_paths = [str(Path(package.__file__).parent) for package in CODE_PACKAGES]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / BUNDLE_FILE
        with open(path, "wb") as handle:
            pickle.dump(bundle, handle, protocol=pickle.HIGHEST_PROTOCOL)
        # Explicit requirements: inferring them would re-import the model in a subprocess.
        return mlflow.pyfunc.log_model(
            name=name, python_model=ContractRecordsModel(), artifacts={"bundle": str(path)},
            code_paths=code_paths, signature=signature, input_example=input_example,
            pip_requirements=requirements())
