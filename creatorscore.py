"""The `creatorscore` command line: one entry point; each package contributes its commands."""
from __future__ import annotations

import functools
import importlib
import os

import typer

from store.cli_errors import VERBOSE_VARIABLE, user_errors
from store.tracking import REPO_ROOT, other_checkout

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

app = typer.Typer(
    name="creatorscore",
    help="Explainable, self-hostable scoring of influencer-marketing creators: engagement, "
    "audience authenticity, niche fit and campaign conversion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _print_version(value: bool) -> None:
    if value:
        from serving.openapi import package_version

        typer.echo(f"creatorscore {package_version()}")
        raise typer.Exit()


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


def _handled(command):
    """The command run inside the one error handler (store.cli_errors.user_errors)."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with user_errors():
            return command(*args, **kwargs)
    return run


for info in app.registered_commands:
    info.callback = _handled(info.callback)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose",
                                      help="On an error, show the traceback and MLflow's logs."),
         version: bool = typer.Option(False, "--version", callback=_print_version,
                                      is_eager=True, help="Print the version and exit."),
         ) -> None:
    """Explainable, self-hostable scoring of influencer-marketing creators."""
    if verbose:
        os.environ[VERBOSE_VARIABLE] = "1"
    copy = other_checkout()
    if copy is not None and not os.environ.get("MLFLOW_TRACKING_URI"):
        typer.echo(f"warning: this is the creatorscore checkout {copy}, but the code and the "
                   f"model store in use are those of {REPO_ROOT} (the virtual environment was "
                   "made there): recreate it here (python3 -m venv .venv && .venv/bin/pip "
                   "install -e '.[dev]') or set MLFLOW_TRACKING_URI", err=True)


if __name__ == "__main__":
    app()
