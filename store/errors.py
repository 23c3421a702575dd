"""The model store's own error, in a module without MLflow: the command line's error handler
(store.cli_errors) recognises it without importing MLflow, which takes seconds."""
from __future__ import annotations


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (no champion, unknown version, ...)."""
