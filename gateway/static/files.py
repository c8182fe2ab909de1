"""StaticMount: one [[static]] table compiled once, serving the files under its dir. Every
file is opened (never stat-then-open) and checked through its fd, so the headers, the
validators and the bytes sent all describe one snapshot; every fd opened is closed or handed
to the Response as a FileBody, whichever way serve() leaves."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gateway.compress.policy import Policy
from gateway.compress.variants import VariantCache
from gateway.config.schema import StaticSpec
from gateway.errors import ConfigError, HTTPError
from gateway.request import Request
from gateway.response import FileBody, HeaderList, Response
from gateway.static.conditional import (
    Precondition,
    evaluate,
    http_date,
    make_etag,
    range_applies,
    weak_match,
)
from gateway.static.fdcache import CachedFile, FdBudget
from gateway.static.listing import render_listing
from gateway.static.mime import MimeTypes
from gateway.static.negotiate import CODING_SUFFIX, accepted_codings, accepts_html
from gateway.static.onthefly import OnTheFly, Schedule
from gateway.static.opener import Opener, is_file
from gateway.static.paths import (
    DotfilePolicy,
    SymlinkPolicy,
    bad_segment,
    hidden,
    inside,
    lexical_join,
)
from gateway.static.ranges import content_range, multipart_response, parse_range
from gateway.static.rules import CacheRules
from gateway.static.spec import check_spec, relative_parts

# pchar minus "/" (RFC 3986 §3.3): what may stay unencoded in one segment of a Location.
_SEGMENT_SAFE = "!$&'()*+,;=:@"
# A 304 repeats what a cache needs to update its stored copy (RFC 9110 §15.4.5), no more.
_NOT_MODIFIED_KEEP = frozenset({"etag", "last-modified", "cache-control", "vary", "expires"})
# Configured `headers` replace these computed ones; any other name is added alongside.
_REPLACEABLE = frozenset({"content-type", "cache-control", "x-content-type-options"})
_HTML = "text/html; charset=utf-8"
_MAX_HEADER_SETS = 4096
_MAX_JOINS = 4096
_RANGE = frozenset(("range",))
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_UNSEEN: Any = object()
# (headers, etag, last-modified seconds, content type) of one file version under one name
_KnownHeaders = tuple[tuple[tuple[str, str], ...], str, int, str]


class StaticMount:
    """Files under `root` (the dir's realpath) for URLs under `prefix`.
    Build with `StaticMount.from_spec(spec)`; answer with `serve(request, rest)`."""

    __slots__ = (
        "_extra",
        "_fallback",
        "_headers",
        "_joins",
        "_onthefly",
        "_opener",
        "_replaced",
        "cache",
        "codings",
        "default_control",
        "dotfiles",
        "mime",
        "prefix",
        "root",
        "spec",
        "symlinks",
    )

    def __init__(
        self,
        spec: StaticSpec,
        root: str,
        cache: CacheRules,
        *,
        default_cache_control: str | None = None,
        fd_budget: FdBudget | None = None,
        onthefly: OnTheFly | None = None,
    ) -> None:
        """Use from_spec, which checks `spec` first; `root` is the realpath of spec.dir."""
        self.spec = spec
        self.root = root
        self.prefix = spec.prefix.rstrip("/")
        self.codings = spec.precompressed
        self.dotfiles: DotfilePolicy = spec.dotfiles
        self.symlinks: SymlinkPolicy = spec.symlinks
        self.cache = cache
        self.default_control = default_cache_control
        self.mime = MimeTypes(spec.mime)
        self._extra: HeaderList = [(name.lower(), value) for name, value in spec.headers]
        self._replaced = frozenset(name for name, _ in self._extra) & _REPLACEABLE
        fallback = spec.fallback
        self._fallback = None if fallback is None else relative_parts(fallback)
        self._opener = Opener(root, spec.symlinks, fd_budget)
        self._headers: dict[tuple[object, ...], _KnownHeaders] = {}
        self._joins: dict[tuple[str, ...], str | None] = {}
        self._onthefly = onthefly

    @classmethod
    def from_spec(
        cls,
        spec: StaticSpec,
        *,
        default_cache_control: str | None = None,
        fd_budget: FdBudget | None = None,
        compress: Policy | None = None,
        variants: VariantCache | None = None,
        schedule: Schedule | None = None,
    ) -> StaticMount:
        """Compile a [[static]] table; ConfigError with every problem found in it.
        `default_cache_control` is the Cache-Control of files no `cache` rule matches
        ("no-cache" in development, so an edited file is never served from a browser's
        heuristic cache); None keeps the usual default (HTML "no-cache", the rest none).
        `fd_budget` bounds the open-file cache (the process's share of RLIMIT_NOFILE).
        With `compress` and `variants`, compressible files get variants made once per file
        version in `variants`, built by jobs handed to `schedule` (a pool's submit; None
        builds in the serving thread) and then sent like precompressed files."""
        issues = check_spec(spec)
        root = os.path.realpath(spec.dir)
        if not os.path.isdir(root):
            issues.append(spec.where.issue(f"{str(spec.dir)!r} is not a directory", "dir"))
        try:
            cache = CacheRules(spec.cache)
        except re.error as exc:  # a glob such as "[z-a]"
            issues.append(spec.where.issue(f"bad glob: {exc}", "cache"))
        if issues:
            raise ConfigError(issues)
        onthefly = None
        if compress is not None and compress.enabled and variants is not None:
            onthefly = OnTheFly(compress, variants, schedule)
        return cls(
            spec,
            root,
            cache,
            default_cache_control=default_cache_control,
            fd_budget=fd_budget,
            onthefly=onthefly,
        )

    def serve(self, request: Request, rest: tuple[str, ...]) -> Response | None:
        """The response for `rest` (decoded segments after the prefix; a trailing slash is a
        final ""), or None for "no such file" (the app answers 404). GET and HEAD only.
        Raises HTTPError(503) when a file cannot be opened for want of file descriptors."""
        trailing = bool(rest) and rest[-1] == ""
        segments = rest[:-1] if trailing else rest
        # The join is a pure function of the segments (the policies are fixed per mount).
        lexical = self._joins.get(segments, _UNSEEN)
        if lexical is _UNSEEN:
            lexical = lexical_join(self.root, segments, self.dotfiles)
            if len(self._joins) >= _MAX_JOINS:
                self._joins.clear()  # bounded: clients choose these keys
            self._joins[segments] = lexical
        response = (
            None if lexical is None else self._serve_path(request, lexical, segments, trailing)
        )
        if response is None and self._may_fall_back(request, segments):
            return self._serve_fallback(request)
        return response

    def file_identity(self, rest: tuple[str, ...], body: FileBody) -> tuple[str, object] | None:
        """(path, identity) when `body`, served for `rest`, is the whole of this mount's
        cached open file at that path and nothing was negotiated (no precompressed
        siblings): what a response cache needs to send that file again (see reopen)."""
        if self.codings or not rest or rest[-1] == "":
            return None
        path = self._joins.get(rest)
        entry = self._opener.files.peek(path) if path else None
        if (
            path is None
            or entry is None
            or entry.fd != body.fd
            or body.offset
            or body.length != entry.st.st_size
        ):
            return None
        return path, entry.identity

    def reopen(self, path: str, identity: object) -> FileBody | None:
        """The whole file at `path` if it is still the file with `identity` (one stat, as
        every request to a cached file pays: an edit, a replacement, a truncation or a
        deletion is seen at once), else None."""
        entry = self.current(path, identity)
        if entry is None:
            return None
        return FileBody(entry.fd, 0, entry.st.st_size, entry.acquire())

    def current(self, path: str, identity: object) -> CachedFile | None:
        """The cached open file at `path` if it is still the file with `identity` (one
        stat), else None. Its fd may be sent at once; to keep it past this loop turn,
        take a reference (`acquire`), as reopen does."""
        entry = self._opener.files.get(path)
        if entry is None or entry.identity != identity:
            return None
        return entry

    def answers(self, request: Request, rest: tuple[str, ...]) -> bool:
        """Whether serve(request, rest) gives content: not a miss, not a redirect, not out
        of fds. The app asks before it redirects a miss to the other trailing-slash form that
        this mount serves, so no two redirects ever point at each other."""
        try:
            response = self.serve(request, rest)
        except HTTPError:
            return False
        if response is None:
            return False
        response.close()
        return response.status not in _REDIRECTS

    def close(self) -> None:
        """Let go of cached files (when a reload replaces this mount)."""
        self._opener.close()

    def _serve_path(
        self, request: Request, lexical: str, segments: tuple[str, ...], trailing: bool
    ) -> Response | None:
        opened = self._opener.open(lexical)
        if opened is None:
            return None
        body, st = opened
        if stat.S_ISDIR(st.st_mode):
            body.close()
            return self._directory(request, lexical, segments, trailing)
        if trailing or not stat.S_ISREG(st.st_mode):
            body.close()  # "/file.txt/" names a folder that is not there; a FIFO is no file
            return None
        return self._file(request, lexical, "/".join(segments), body, st)

    def _variant(
        self, request: Request, lexical: str
    ) -> tuple[tuple[FileBody, os.stat_result, str] | None, bool]:
        """The first precompressed sibling, in the mount's order, that the client accepts and
        that passes the same checks as the file; and whether any sibling exists (for Vary)."""
        accepted = accepted_codings(_joined(request, "accept-encoding"), self.codings)
        exists = False
        for coding in self.codings:
            path = lexical + CODING_SUFFIX[coding]
            if coding in accepted:
                opened = self._opener.open_regular(path)
                if opened is not None:
                    return (*opened, coding), True
            elif not exists:
                exists = is_file(path)  # only decides Vary, so a plain stat will do
        return None, exists

    # -- one file --------------------------------------------------------------------------

    def _file(
        self, request: Request, lexical: str, rel: str, body: FileBody, st: os.stat_result
    ) -> Response:
        """Serve the open file `body` (named `rel` under the dir), a precompressed sibling,
        or a compressed variant made on the fly (`made`: its ETag is the file's + coding)."""
        try:
            coding, vary, made = "", False, False
            if self.codings:
                variant, vary = self._variant(request, lexical)
                if variant is not None:
                    body.close()
                    body, st, coding = variant
            if self._onthefly is not None and not coding:
                made_body, owed, eligible = self._onthefly.open(
                    request, lexical, rel, st, self._opener, self._described
                )
                vary = vary or eligible
                if made_body is not None:
                    body.close()
                    body, coding, made = made_body, owed, True
                elif owed and _holds(request, make_etag(st, owed)):
                    # The client holds this version's variant, made before a restart or an
                    # eviction: still good, so a 304 under its tag (nothing of `body` is sent).
                    coding, made = owed, True
            # Headers depend only on the name and the file's identity: build them once.
            key = (rel, coding, vary, made, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            known = self._headers.get(key)
            if known is None:
                content_type = self.mime.guess(rel)
                etag, mtime = make_etag(st, coding), int(st.st_mtime)
                built = self._file_headers(rel, content_type, etag, mtime, coding, vary, made)
                known = (built, etag, mtime, content_type)
                if len(self._headers) >= _MAX_HEADER_SETS:
                    self._headers.clear()  # a crude bound; rebuilding is cheap
                self._headers[key] = known
            headers, etag, mtime, content_type = known
            rep = _Representation(body, body.length if made else st.st_size, etag, mtime)
            return self._conditional(request, rep, content_type, list(headers))
        except BaseException:
            body.close()
            raise

    def _described(self, rel: str) -> tuple[str, str]:
        """The Content-Type and Cache-Control file `rel` is served with ("" for none)."""
        content_type = self.mime.guess(rel)
        control = self.cache.control(rel, content_type, self.default_control) or ""
        for name, value in self._extra:
            if name == "content-type":
                content_type = value
            elif name == "cache-control":
                control = value
        return content_type, control

    def _file_headers(
        self,
        rel: str,
        content_type: str,
        etag: str,
        mtime: int,
        coding: str,
        vary: bool,
        made: bool = False,
    ) -> tuple[tuple[str, str], ...]:
        replaced = self._replaced
        headers: HeaderList = []
        if "content-type" not in replaced:
            headers.append(("content-type", content_type))
        if not made:  # a made variant is never served in ranges: a ranged GET gets identity
            headers.append(("accept-ranges", "bytes"))
        headers += [("last-modified", http_date(mtime)), ("etag", etag)]
        if "x-content-type-options" not in replaced:
            headers.append(("x-content-type-options", "nosniff"))
        control = self.cache.control(rel, content_type, self.default_control)
        if control is not None and "cache-control" not in replaced:
            headers.append(("cache-control", control))
        if vary:
            headers.append(("vary", "accept-encoding"))
        if coding:
            headers.append(("content-encoding", coding))
        headers += self._extra
        return tuple(headers)

    def _conditional(
        self, request: Request, rep: _Representation, content_type: str, headers: HeaderList
    ) -> Response:
        """Preconditions first (RFC 9110 §13.2.2), then Range for GET; 200 otherwise."""
        body, size = rep.body, rep.size
        outcome = evaluate(request.headers, request.method, rep.etag, rep.mtime)
        if outcome is not Precondition.PROCEED:
            body.close()
            if outcome is Precondition.FAILED:
                return Response(412)
            return Response(304, b"", [h for h in headers if h[0] in _NOT_MODIFIED_KEEP])
        if request.method != "GET" or not request.headers.has_any(_RANGE):
            return Response(200, body, headers)
        ranges = request.headers.get_all("range")
        if len(ranges) != 1:
            return Response(200, body, headers)
        if not range_applies(request.headers.get("if-range"), rep.etag, rep.mtime):
            return Response(200, body, headers)
        spans = parse_range(ranges[0], size)
        if spans is None:
            return Response(200, body, headers)
        if not spans:
            body.close()
            return Response(416, b"", [("content-range", f"bytes */{size}")])
        if len(spans) == 1:
            body.offset, body.length = spans[0][0], spans[0][1] - spans[0][0] + 1
            return Response(206, body, [*headers, ("content-range", content_range(spans[0], size))])
        return multipart_response(body, size, spans, content_type, headers)

    # -- folders, fallback -----------------------------------------------------------------

    def _directory(
        self, request: Request, lexical: str, segments: tuple[str, ...], trailing: bool
    ) -> Response | None:
        index = self._find_index(lexical)
        if not trailing:
            # Only a folder whose slash form this mount answers (an index file, or a listing
            # it can read) gets the redirect: the rest are misses like any missing path (the
            # fallback may answer them in place), so a redirect never leads to a miss that the
            # app could redirect back. The body stays empty so nothing of the path is echoed.
            if index is None and not (self.spec.listing and os.access(lexical, os.R_OK)):
                return None
            if index is not None:
                index[0].close()
            return Response(308, b"", [("location", self._location(request, segments))])
        if index is not None:
            body, st, name = index
            rel = "/".join((*segments, name))
            return self._file(request, os.path.join(lexical, name), rel, body, st)
        return self._listing(lexical, segments) if self.spec.listing else None

    def _find_index(self, lexical: str) -> tuple[FileBody, os.stat_result, str] | None:
        for name in self.spec.index:
            opened = self._opener.open_regular(os.path.join(lexical, name))
            if opened is not None:
                return (*opened, name)
        return None

    def _location(self, request: Request, segments: tuple[str, ...]) -> str:
        # Rebuilt from the prefix and the decoded segments, not echoed from the request line:
        # the segments are non-empty, so the result can never start with "//" (another host).
        location = self._url_path(segments) + "/"
        return f"{location}?{request.query_string}" if request.query_string else location

    def _url_path(self, segments: tuple[str, ...]) -> str:
        encoded = "".join("/" + quote(s, safe=_SEGMENT_SAFE) for s in segments)
        return (self.prefix + encoded) or "/"

    def _listing(self, lexical: str, segments: tuple[str, ...]) -> Response | None:
        url_path = self._url_path(segments).rstrip("/") + "/"
        try:
            page = self._opener.with_fds(
                render_listing, lexical, url_path, self._listed, not segments
            )
        except OSError:
            return None
        headers = [("cache-control", "no-cache"), ("x-content-type-options", "nosniff")]
        return Response(200, page, [*headers, *self._extra], _HTML)

    def _listed(self, entry: os.DirEntry[str]) -> bool:
        """Whether a listing shows `entry`: what serve() would also find."""
        if bad_segment(entry.name) or hidden(entry.name, self.dotfiles):
            return False
        try:
            if not entry.is_symlink() or self.symlinks == "follow":
                return True
            return self.symlinks == "inside" and inside(self.root, os.path.realpath(entry.path))
        except (OSError, ValueError):
            return False

    def _may_fall_back(self, request: Request, segments: tuple[str, ...]) -> bool:
        """The SPA fallback applies to a GET/HEAD that accepts text/html by name, for a path
        that does not look like an asset (no extension in its last segment) and that is
        safe; a dotfile only under dotfiles="ignore" ("deny" is a firm 404)."""
        if self._fallback is None or request.method not in ("GET", "HEAD"):
            return False
        if segments and os.path.splitext(segments[-1])[1]:
            return False
        for segment in segments:
            if bad_segment(segment) or (self.dotfiles == "deny" and hidden(segment, "deny")):
                return False
        return accepts_html(_joined(request, "accept"))

    def _serve_fallback(self, request: Request) -> Response | None:
        assert self._fallback is not None
        lexical = lexical_join(self.root, self._fallback, "allow")
        opened = None if lexical is None else self._opener.open_regular(lexical)
        if lexical is None or opened is None:
            return None
        return self._file(request, lexical, "/".join(self._fallback), *opened)


@dataclass(slots=True)
class _Representation:
    """The file (or precompressed sibling) chosen to answer, with its validators."""

    body: FileBody
    size: int
    etag: str
    mtime: int  # Last-Modified, whole seconds


def _holds(request: Request, etag: str) -> bool:
    """If-None-Match names `etag`: the request's outcome is a 304 (or an If-Match 412)."""
    value = _joined(request, "if-none-match")
    return value is not None and value.strip() != "*" and weak_match(value, etag)


def _joined(request: Request, name: str) -> str | None:
    values = request.headers.get_all(name)
    return ", ".join(values) if values else None
