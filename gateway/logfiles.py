"""The error log in a file: `[server] error_log = { path = "logs/error.log" }` sends the
`gateway` loggers (reload results, handler tracebacks, warnings) to that file instead of
stderr, appending; reopen() after a rotation (SIGUSR1), as the access log does."""

from __future__ import annotations

import logging
from pathlib import Path

LOGGER = "gateway"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ErrorLog:
    def __init__(self) -> None:
        self.path: Path | None = None
        self._handler: logging.FileHandler | None = None

    def set_path(self, path: Path | None) -> None:
        """Log to `path` from now on; None: back to stderr (the root logger's handlers)."""
        if path == self.path:
            return
        self.path = path
        self.reopen()

    def reopen(self) -> None:
        logger = logging.getLogger(LOGGER)
        old, self._handler = self._handler, None
        if old is not None:
            logger.removeHandler(old)
            old.close()
        if self.path is None:
            logger.propagate = True
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.propagate = False  # in the file, not on stderr too
        self._handler = handler
