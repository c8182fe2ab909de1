"""Access log: one line per response in common, combined or json format, to stderr or to
a file (`access_log = { format, path }`, reopened on SIGUSR1 after a rotation). Lines are
buffered and written once per loop iteration, so a burst of pipelined requests costs one
write, not one per request."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.http.events import RequestHead
    from gateway.request import Request

FORMATS = ("off", "common", "combined", "json")


class AccessLog:
    def __init__(
        self, fmt: str = "common", stream: IO[str] | None = None, path: Path | None = None
    ) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._stamp_second = -1
        self._stamp = ""
        self.path: Path | None = None
        self._file: IO[str] | None = None
        # A proxied request's (upstream address, its status, seconds to its head): set by
        # gateway.proxy.serving just before that request's line, and used by that line only.
        self.upstream: tuple[str, int | None, float | None] | None = None
        self.set_format(fmt)
        self.set_path(path)

    def set_path(self, path: Path | None) -> None:
        """Log to the file at `path` (appending; its folder is made), or to stderr: None."""
        if path == self.path and (path is None or self._file is not None):
            return
        self.flush()
        self.path = path
        self.reopen()

    def reopen(self) -> None:
        """Close and open the file again by its name: after logrotate moved it (SIGUSR1)."""
        self.flush()
        old, self._file = self._file, None
        if old is not None:
            old.close()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def set_format(self, fmt: str) -> None:
        self.format = fmt
        self.enabled = fmt != "off"
        # A common or combined line is a function of the request head, the client and the
        # time: an answer from the response cache can be logged exactly (hit()). A json
        # line also names the request's id, which only the long way makes.
        self.logs_hits = fmt in ("common", "combined")

    def hit(self, head: RequestHead, status: int, length: int, client: tuple[str, int]) -> None:
        """The line for an answer sent from the response cache (only while logs_hits): the
        same line __call__ writes for the Request built from `head`."""
        if not self.logs_hits:
            return
        self.upstream = None
        target = head.path + ("?" + head.query if head.query else "")
        headers = head.headers
        self._line(
            client,
            f"{head.method} {target} HTTP/{head.http_version}",
            status,
            str(length),
            headers.get("referer") or "-",
            headers.get("user-agent") or "-",
            None,
        )

    def __call__(
        self, request: Request | None, status: int, length: int | None, client: tuple[str, int]
    ) -> None:
        upstream, self.upstream = self.upstream, None
        if not self.enabled:
            return
        size = "-" if length is None else str(length)
        if request is None:
            line_text, referer, agent, rid = "-", "-", "-", "-"
        else:
            target = request.raw_path + ("?" + request.query_string if request.query_string else "")
            line_text = f"{request.method} {target} HTTP/{request.http_version}"
            referer = request.headers.get("referer") or "-"
            agent = request.headers.get("user-agent") or "-"
            rid = request.id
        if self.format == "json":
            now = time.time()
            record = {
                "time": now,
                "client": client[0],
                "request": line_text,
                "status": status,
                "bytes": length,
                "referer": referer,
                "user_agent": agent,
                "id": rid,
            }
            if upstream is not None:
                record["upstream"], record["upstream_status"], record["upstream_time"] = upstream
            self._lines.append(json.dumps(record))
            return
        self._line(client, line_text, status, size, referer, agent, upstream)

    def _line(
        self,
        client: tuple[str, int],
        line_text: str,
        status: int,
        size: str,
        referer: str,
        agent: str,
        upstream: tuple[str, int | None, float | None] | None,
    ) -> None:
        """A common or combined line (nginx's formats, plus the upstream's when proxied)."""
        now = time.time()
        if int(now) != self._stamp_second:
            self._stamp_second = int(now)
            self._stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        line = f'{client[0]} - - [{self._stamp}] "{_escape(line_text)}" {status} {size}'
        if self.format == "combined":
            line += f' "{_escape(referer)}" "{_escape(agent)}"'
        if upstream is not None:  # nginx's $upstream_addr $upstream_status $upstream_response_time
            server, up_status, up_time = upstream
            shown = "-" if up_time is None else f"{up_time:.3f}"
            line += f" upstream={server or '-'} {up_status or '-'} {shown}"
        self._lines.append(line)

    def flush(self) -> None:
        if self._lines:
            stream = self._file or self._stream or sys.stderr
            stream.write("\n".join(self._lines) + "\n")
            stream.flush()
            self._lines.clear()


def _escape(text: str) -> str:
    # A client controls these strings: keep one request on one log line.
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
