"""The one error family of gateway: ConfigError for a config that cannot be served,
HTTPError for a request that gets an error status. ProtocolError (framing gone wrong) is an
HTTPError that also means the connection can no longer be trusted and must close."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class GatewayError(Exception):
    """Base class of every error gateway raises on purpose. One that callers may also catch
    as a builtin keeps it as a second base: PatternError, config's Invalid and the writer's
    HeaderError are ValueErrors too."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One mistake in a config: where it is and what would be right."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(GatewayError):
    """Every mistake found in one pass over a config; prints one line per mistake."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: Sequence[ConfigIssue] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class HTTPError(GatewayError):
    """Raise from a handler to answer with `status`; `detail` becomes the body text."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        headers: Iterable[tuple[str, str]] | dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        if isinstance(headers, dict):
            headers = headers.items()
        self.headers: list[tuple[str, str]] = list(headers or ())
        super().__init__(f"{status} {detail}" if detail else str(status))


class HandlerFailed(HTTPError):
    """A handler raised something other than HTTPError (logged where it happened): the
    client gets a 500 that names the request id, so the log line can be found."""

    original: BaseException | None = None  # what the handler raised (the dev page shows it)

    def __init__(self, request_id: str) -> None:
        super().__init__(500, f"internal server error (request id {request_id})")


class ProtocolError(HTTPError):
    """A request that breaks HTTP/1.1 framing or limits. The server answers `status`
    and closes the connection, since what follows in the buffer cannot be trusted.
    `head` is the request head when it was sound (a body over the limit: 413); the parser
    is moving to emitting that head first and raising on the next event, after which this
    attribute goes (the server reads it only when it is there)."""

    head: Any = None
