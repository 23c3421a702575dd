"""The `creatorscore` command line: one entry point; each package contributes its commands."""
from __future__ import annotations

import importlib
import os

import typer

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

app = typer.Typer(
    name="creatorscore",
    help="Explainable, self-hostable scoring of influencer-marketing creators: engagement, "
    "audience authenticity, niche fit and campaign conversion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each package registers its own commands; a package still missing its CLI module is skipped
# so the rest of the CLI keeps working.
for module_name in ("data.cli", "training.cli", "serving.cli"):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        continue
    module.register(app)


if __name__ == "__main__":
    app()
