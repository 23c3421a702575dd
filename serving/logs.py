"""One log line per refused request.

BentoML logs every request its pydantic models refuse (a 400, the client's mistake) at ERROR
with the whole traceback: 25 lines each, 2.9 MB of log for 2,040 bad requests, burying the
errors that are the service's. This filter turns those records into one WARNING line naming
the route and the first problems; every other record passes unchanged.
"""
from __future__ import annotations

import logging

from pydantic import ValidationError

BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"
MAX_PROBLEMS = 3


class OneLineClientErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_url=False)[:MAX_PROBLEMS])
            more = error.error_count() - MAX_PROBLEMS
            record.msg = f"400 %s [%s]: {problems}" + (f" (+{more} more)" if more > 0 else "")
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(f, OneLineClientErrors) for f in logger.filters):
        logger.addFilter(OneLineClientErrors())
