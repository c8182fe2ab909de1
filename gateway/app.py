"""App: a compiled gateway.toml. build_app turns a GatewayConfig into an immutable router
of targets (collecting every compile error at once); App.handle answers one Request with
a Response, or a PoolCall for the handler pool. Every error answer is rendered by
App.render_error; the live-reload filter is applied in App.finish. No sockets here."""

from __future__ import annotations

import inspect
import logging
import mimetypes
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway import devpage, problem
from gateway.aio.kinds import handler_kind, signature_problem
from gateway.asynccall import AsyncCall, AsyncDeferred, AsyncTarget, CallAnswers
from gateway.compress import VariantCache
from gateway.compress.apply import compress_for
from gateway.config.compression import policy_for
from gateway.config.routes import conflict_issue
from gateway.config.schema import GatewayConfig, RouteSpec, StaticSpec
from gateway.config.source import display_name
from gateway.cors import CorsPolicy
from gateway.errors import ConfigError, ConfigIssue, HandlerFailed, HTTPError
from gateway.handlers import SiteModules, call_handler, once_per_module, reason
from gateway.livereload import EVENTS_PATH, LiveReload, is_reserved, reserved_message
from gateway.placement import Placement, plain_body
from gateway.proxy.call import ProxyCall
from gateway.proxy.serving import ProxyTarget, compile_proxy, upstream_specs
from gateway.proxy.spec import UpstreamSpec
from gateway.request import Request
from gateway.response import Response, to_header_list
from gateway.router.paths import join_path
from gateway.router.patterns import PatternError, parse_host
from gateway.router.trie import (
    Match,
    MethodNotAllowed,
    NoMatch,
    RouteConflicts,
    Router,
    RouterBuilder,
    TrailingSlashRedirect,
)
from gateway.slashes import instead_of_405
from gateway.static.files import StaticMount
from gateway.targets import (
    MISS,
    Deferred,
    HandlerTarget,
    RedirectTarget,
    RespondTarget,
    StaticTarget,
    Target,
)
from gateway.wsroute import WebSocketTarget, warn_missing_wsproto

log = logging.getLogger("gateway.app")


@dataclass(frozen=True, slots=True)
class ErrorPage:
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One line of `gateway routes`."""

    host: str
    methods: str
    pattern: str
    target: str
    cors: str


class App:
    """Answers requests for one compiled config. Immutable once built."""

    def __init__(
        self,
        config: GatewayConfig,
        router: Router[Target],
        error_pages: dict[int, ErrorPage],
        default_cors: CorsPolicy | None,
        rows: list[RouteRow],
        modules: SiteModules,
        mounts: list[StaticMount] | None = None,
        live: LiveReload | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.error_pages = error_pages
        self.default_cors = default_cors
        self.rows = rows
        self.modules = modules
        self.mounts = mounts or []
        self.live = live  # set when [dev] live_reload is on and a reloader runs
        self.startup: list[Callable[[], Any]] = []  # [server] startup / shutdown hooks
        self.shutdown: list[Callable[[], Any]] = []
        self._fallback_target = Target("error", default_cors)
        self.upstream_specs: tuple[UpstreamSpec, ...] = ()  # live upstreams its routes use
        # Static files' compressed variants: made once per file version on one background
        # thread (a best-level build may take seconds: never on a handler thread), then sent
        # with sendfile like precompressed files. None while compression is off.
        self.variants: VariantCache | None = None
        self.variant_jobs: ThreadPoolExecutor | None = None

    def handle(self, request: Request) -> Response | PoolCall | AsyncCall | ProxyCall:
        """The answer to `request`: never raises."""
        try:
            match = self.router.match(request.host, request.method, request.segments)
        except NoMatch as miss:
            return self._no_route(request, miss)
        target = match.target
        request.params = match.params
        request.route = target.route
        if request.method == "OPTIONS" and target.cors is not None:
            preflight = target.cors.preflight(request.method, request.headers)
            if preflight is not None:
                return preflight
        try:
            result: Any = target.serve(request, match)
        except HTTPError as exc:  # a handler's or a mount's: its own text, never a page
            return self._raised(exc, request, target)
        if type(result) is Deferred:
            return PoolCall(self, result)
        if type(result) is ProxyCall:
            return result  # the connection runs the exchange (gateway.proxy.serving)
        if type(result) is AsyncDeferred:
            return AsyncCall(self, result)
        if result is MISS:
            return self._static_miss(request, target)
        return self.finish(request, target, result)

    def finish(self, request: Request, target: Target, response: Response) -> Response:
        """A target's answer as it goes out: the route's headers and CORS, then the one
        response filter (live reload puts its client into HTML pages), then compression
        when the route has a policy (handler and respond routes)."""
        response = target.finish(request, response)
        live = self.live
        if live is not None:
            response = live.inject(request, response)
        policy = target.compress
        if policy is None or _below_min_size(response, request, policy):
            return response
        return compress_for(request, response, policy)

    def render_error(
        self,
        status: int,
        request: Request | None,
        target: Target | None = None,
        detail: str = "",
        headers: Iterable[tuple[str, str]] | None = None,
        *,
        page: bool = True,
    ) -> Response:
        """Every error answer gateway sends: the [errors] page for `status` when one is set
        (and `page`: an error a handler raised keeps its own text), else `detail` or the
        reason phrase: as problem+json (RFC 9457, gateway/problem.py) when the client prefers
        JSON or the route says `json = true` and `headers` give no content type of their own,
        else as text. `headers`
        replace defaults of the same name; the route's headers and CORS headers are added
        so a web app can read its errors. The writer leaves the body out for HEAD."""
        headers = to_header_list(headers)
        error_page = self.error_pages.get(status) if page else None
        if error_page is not None:
            response = Response(status, error_page.body, content_type=error_page.content_type)
        else:
            accept = request.headers.get("accept") if request is not None else None
            as_json = _wants_json(accept, getattr(target, "json", False)) and not any(
                name.lower() == "content-type" for name, _ in headers
            )
            body, ctype = problem.render(
                status,
                detail or reason(status),
                request_id=request.id if request is not None else "",
                prefer_json=as_json,
            )
            response = Response(status, body, content_type=ctype)
        if headers:
            response.set_headers(headers)
        if request is not None and target is not None:
            target.finish(request, response)
        return response

    def handler_failed(
        self, exc: BaseException, request: Request, target: Target | None
    ) -> Response:
        """The 500 for a handler's unhandled exception (already logged): in dev mode
        ([dev] reload) a page with the traceback for a browser that accepts HTML; else the
        answer that names only the request id."""
        accept = request.headers.get("accept")
        if (
            self.config.dev.reload
            and devpage.wants_page(accept)
            and devpage.shown_to(request, self.config)  # loopback, [dev] allow or key
        ):
            page = devpage.response(exc, request, self.config)
            return self.finish(request, target or self._fallback_target, page)
        detail = f"internal server error (request id {request.id})"
        return self.render_error(500, request, target, detail)

    def _raised(self, exc: HTTPError, request: Request, target: Target) -> Response:
        """A handler's HTTPError, or HandlerFailed for any other exception it raised."""
        original = getattr(exc, "original", None)
        if isinstance(exc, HandlerFailed) and original is not None:
            return self.handler_failed(original, request, target)
        return self.render_error(exc.status, request, target, exc.detail, exc.headers, page=False)

    def protocol_error_response(self, exc: HTTPError, request: Request | None = None) -> Response:
        """The answer to a request that could not be read. When its head was sound (a body
        over the limit), the route it was for adds its CORS headers."""
        target: Target | None = None
        if request is not None:
            try:
                target = self.router.match(request.host, request.method, request.segments).target
            except MethodNotAllowed as not_allowed:
                target = not_allowed.target  # as handle() does: that route's policy, or none
            except NoMatch:
                target = self._fallback_target
        return self.render_error(exc.status, request, target, exc.detail, exc.headers)

    def close(self) -> None:
        """Release cached files once this app is no longer the one serving."""
        for mount in self.mounts:
            mount.close()
        if self.variant_jobs is not None:
            self.variant_jobs.shutdown(wait=False, cancel_futures=True)
        if self.variants is not None:
            self.variants.close()

    # -- misses ---------------------------------------------------------------------------

    def _no_route(self, request: Request, miss: NoMatch) -> Response:
        if isinstance(miss, MethodNotAllowed):
            redirect = self.config.server.trailing_slash == "redirect"
            instead = instead_of_405(  # never a mount's Allow for a route's other slash form
                self.router, request, miss, redirect, lambda r, t: self.render_error(404, r, t)
            )
            if instead is not None:
                return instead
            return self._method_not_allowed(request, miss.allow, miss.target)
        if isinstance(miss, TrailingSlashRedirect):
            location = join_path(miss.segments)
            if request.query_string:
                location += "?" + request.query_string
            return self._fallback_target.finish(
                request, Response(308, b"", [("location", location)])
            )
        if request.path == "*" and request.method == "OPTIONS":
            return Response(204, b"", [("allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")])
        return self.render_error(404, request, self._fallback_target)

    def _static_miss(self, request: Request, mount: Target) -> Response:
        """A static mount had no file. A mount is a catch-all, so it may have shadowed a
        route that exists for another method (405) or with the other trailing slash (308)."""
        host = request.host
        try:
            self.router.match(host, "\0", request.segments)  # a method no route has
        except MethodNotAllowed as exc:
            if exc.target is not mount:
                return self.render_error(405, request, exc.target, "", [("allow", exc.allow)])
        except NoMatch:
            pass
        segments = request.segments
        other = segments[:-1] if segments and segments[-1] == "" else (*segments, "")
        if self.config.server.trailing_slash == "redirect" and other:
            try:
                match = self.router.match(host, request.method, other)
            except NoMatch:
                match = None
            if match is not None and match.target is not mount and _answers(match, request):
                location = join_path(other) + (
                    f"?{request.query_string}" if request.query_string else ""
                )
                return mount.finish(request, Response(308, b"", [("location", location)]))
        return self.render_error(404, request, mount)

    def _method_not_allowed(self, request: Request, allow: str, target: Target) -> Response:
        if request.method == "OPTIONS":
            if target.cors is not None:
                preflight = target.cors.preflight(request.method, request.headers)
                if preflight is not None:
                    return preflight
            return target.finish(request, Response(204, b"", [("allow", allow)]))
        return self.render_error(405, request, target, "", [("allow", allow)])


def _answers(match: Match[Target], request: Request) -> bool:
    """Whether the route the other slash form matches would really answer it: a static
    mount is asked (it may miss, or redirect back), so no two redirects point at each
    other; any other target answers."""
    target = match.target
    if isinstance(target, StaticTarget) and target.mount is not None:
        return target.mount.answers(request, match.rest)
    return True


def listed(methods: tuple[str, ...]) -> str:
    """A route's methods as `gateway routes` shows them, the same for routes and mounts:
    what the router answers, so GET brings its HEAD."""
    if "GET" in methods and "HEAD" not in methods:
        methods = (*methods, "HEAD")
    return ",".join(methods)


def _below_min_size(response: Response, request: Request, policy: Any) -> bool:
    """A bytes body under the policy's min_size is never compressed and gets no Vary, and
    without If-None-Match no 304 can come of it: compress_for would hand it back as it is
    (the answer of most small APIs: a few us a request saved)."""
    body = response.body
    return (
        type(body) is bytes
        and len(body) < policy.min_size
        and "if-none-match" not in request.headers
    )


def _wants_json(accept: str | None, route_json: bool) -> bool:
    """problem+json for a route marked JSON, or an Accept that prefers JSON and does not
    name HTML (fetch/axios/API clients; a browser navigating asks for text/html)."""
    if route_json:
        return True
    return problem.prefers_json(accept) and not devpage.wants_page(accept)


class PoolCall(CallAnswers):
    """A handler call for the pool, as the server sees it: run() on a pool thread gives
    the finished Response whatever the handler did; the other methods give the answer
    when it cannot run (busy), gives nothing back, or takes too long."""

    __slots__ = ("app", "call")
    app: App
    call: Deferred

    def __init__(self, app: App, call: Deferred) -> None:
        self.app = app
        self.call = call

    def run(self) -> Response:
        call = self.call
        request = call.request
        target = call.target
        placement = target.placement
        started = placement.clock()  # the route's placement learns from each call
        try:
            response = call_handler(target.func, request)  # Deferred.run, inlined
        except HTTPError as exc:
            placement.pooled(placement.held(started), True)
            return self.app._raised(exc, request, target)
        placement.pooled(placement.held(started), plain_body(response))
        response = target.finish(request, response)
        live = self.app.live  # App.finish, inlined: this runs once per pooled request
        if live is not None:
            response = live.inject(request, response)
        policy = target.compress  # on this pool thread, never on the loop
        return response if policy is None else compress_for(request, response, policy)

    def submit(self, ctx: Any, done: Callable[[Response | None], None]) -> bool:
        """Queue run() on the handler pool (False when it is full: busy_response)."""
        return bool(ctx.pool.submit(self.run, done))

    def cancel(self) -> None:
        """A pool thread cannot be stopped: a late result is dropped by the connection."""


def build_app(
    config: GatewayConfig, modules: SiteModules | None = None, live: LiveReload | None = None
) -> App:
    """Compile `config`. Raises ConfigError with every problem found (bad CORS policies,
    handler imports, patterns, conflicting routes, unreadable error pages). `live` (from
    the reloader) serves the live-reload events and injects the client into HTML."""
    compiler = _Compiler(config, modules or SiteModules(config.server.root), live)
    return compiler.build()


def all_issues(exc: ConfigError, modules: SiteModules | None = None) -> list[ConfigIssue]:
    """Every mistake to report for a config that did not load: the load errors, plus what
    compiling the part that did load finds, so one run (`gateway check`, or a reload after
    a save) shows them all. `modules`: the SiteModules to import handlers with."""
    issues = list(exc.issues)
    partial = getattr(exc, "partial", None)
    if partial is not None:
        try:
            build_app(partial, modules).close()
        except ConfigError as more:
            issues += [issue for issue in more.issues if issue not in issues]
    return issues


class _Compiler:
    def __init__(
        self, config: GatewayConfig, modules: SiteModules, live: LiveReload | None
    ) -> None:
        self.config = config
        self.modules = modules
        self.live = live
        self.issues: list[ConfigIssue] = []
        self.policies: dict[str, CorsPolicy] = {}
        self.builder: RouterBuilder[Target] = RouterBuilder(
            redirect_slashes=config.server.trailing_slash == "redirect"
        )
        self.rows: list[RouteRow] = []
        self.variants: VariantCache | None = None
        self.variant_jobs: ThreadPoolExecutor | None = None
        self.mounts: list[StaticMount] = []
        self.proxies: list[ProxyTarget] = []

    def _variants(self) -> dict[str, Any]:
        """StaticMount's on-the-fly compression: [server] compress, one cache per app."""
        policy = policy_for(self.config.server.compress)
        if policy is None:
            return {}
        if self.variants is None or self.variant_jobs is None:
            self.variants = VariantCache()
            self.variant_jobs = ThreadPoolExecutor(1, thread_name_prefix="gateway-variants")
        return {"compress": policy, "variants": self.variants, "schedule": self.variant_jobs.submit}

    def build(self) -> App:
        for name, spec in self.config.cors.items():
            try:
                self.policies[name] = CorsPolicy.from_spec(spec)
            except ConfigError as exc:
                self.issues.extend(exc.issues)
        for route in self.config.routes:
            self._add_route(route)
        self.startup = self._hooks("startup", self.config.server.startup)
        self.shutdown = self._hooks("shutdown", self.config.server.shutdown)
        for mount in self.config.static:
            self._add_static(mount)
        if self.live is not None:
            self.builder.add(EVENTS_PATH, ("GET",), self.live.target)
        pages = self._error_pages()
        router: Router[Target] | None = None
        try:
            router = self.builder.build()
        except RouteConflicts as exc:
            self.issues.extend(conflict_issue(c) for c in exc.conflicts)
        if self.issues or router is None:
            raise ConfigError(sorted(self.issues, key=lambda i: (i.file, i.line or 0)))
        default = self.policies.get(self.config.server.cors or "")
        app = App(
            self.config, router, pages, default, self.rows, self.modules, self.mounts, self.live
        )
        app.upstream_specs = upstream_specs(self.proxies)
        app.startup, app.shutdown = self.startup, self.shutdown
        app.variants, app.variant_jobs = self.variants, self.variant_jobs
        return app

    def _cors(self, ref: Any) -> tuple[CorsPolicy | None, str | None]:
        if ref is False:
            return None, None
        name = ref if isinstance(ref, str) else self.config.server.cors
        if name is None:
            return None, None
        return self.policies.get(name), name

    def _add_route(self, spec: RouteSpec) -> None:
        cors, cors_name = self._cors(spec.cors)
        common: dict[str, Any] = {
            "cors": cors,
            "cors_name": cors_name,
            "headers": spec.headers,
            "json": spec.json,
        }
        if spec.redirect is None and spec.websocket is None:
            common["compress"] = policy_for(self.config.server.compress, spec.compress)
        target: Target
        if spec.handler is not None:
            func = self.modules.load(spec.handler, spec.where)
            if isinstance(func, ConfigIssue):
                once_per_module(self.issues, func)  # a module broken for 5 routes: 1 issue
                return
            kind = handler_kind(func)
            problem = signature_problem(func, spec.handler)
            if problem is not None:
                self.issues.append(spec.where.issue(problem, "handler"))
                return
            if kind != "sync":
                label = f"{spec.handler} ({kind})"
                target = AsyncTarget(label, func=func, kind=kind, **common)
            else:
                mode = "inline" if spec.inline else "pool" if spec.blocking else "auto"
                label = spec.handler + {"inline": " (inline)", "pool": " (blocking)"}.get(mode, "")
                placement = Placement(spec.handler, mode, self.config.server.inline_limit)
                target = HandlerTarget(label, func=func, placement=placement, **common)
        elif spec.proxy is not None:
            config = self.config
            compiled = compile_proxy(
                spec.proxy, config.upstreams, config.server.trusted_proxies, common
            )
            if isinstance(compiled, list):
                self.issues.extend(compiled)
                return
            target = compiled
            self.proxies.append(compiled)
        elif spec.websocket is not None:
            target = self._websocket(spec, common)  # type: ignore[assignment]
            if target is None:
                return
        elif spec.respond is not None:
            r = spec.respond
            label = f"respond {r.status}"
            common["headers"] = r.headers + spec.headers
            target = RespondTarget(
                label, status=r.status, body=r.body, content_type=r.content_type, **common
            )
        else:
            assert spec.redirect is not None
            d = spec.redirect
            label = f"redirect {d.status} {d.to}"
            target = RedirectTarget(
                label, to=d.to, status=d.status, keep_query=d.keep_query, **common
            )
        self._add(spec.path, spec.methods, target, spec.host, spec.where, "path")

    def _hooks(self, key: str, refs: tuple[str, ...]) -> list[Callable[[], Any]]:
        hooks: list[Callable[[], Any]] = []
        for i, ref in enumerate(refs):
            func = self.modules.load(ref, self.config.server.where, f"{key}[{i}]")
            if isinstance(func, ConfigIssue):
                self.issues.append(func)
                continue
            try:
                inspect.signature(func).bind()
            except TypeError:
                name = ref.rpartition(":")[2]
                message = f"hook {ref!r} must take no arguments: define it as `def {name}()`"
                self.issues.append(self.config.server.where.issue(message, f"{key}[{i}]"))
            except ValueError:
                pass  # a builtin without a signature: let it run
            hooks.append(func)  # type: ignore[arg-type]
        return hooks

    def _websocket(self, spec: RouteSpec, common: dict[str, Any]) -> Target | None:
        assert spec.websocket is not None
        func = self.modules.load(spec.websocket, spec.where, "websocket")
        if isinstance(func, ConfigIssue):
            self.issues.append(func)
            return None
        problem_text = signature_problem(func, spec.websocket)
        if problem_text is None and handler_kind(func) != "async":
            name = spec.websocket.rpartition(":")[2]
            problem_text = (
                f"websocket handler {spec.websocket!r} is not `async def`: "
                f"define it as `async def {name}(ws)`"
            )
        if problem_text is not None:
            self.issues.append(
                spec.where.issue(problem_text.replace("the request", "the websocket"), "websocket")
            )
            return None
        warn_missing_wsproto(spec.where.file, spec.path, log)  # once per process and route
        label = f"websocket {spec.websocket}"
        return WebSocketTarget.build(label, func, spec.websocket_options, **common)  # type: ignore[no-any-return]

    def _add_static(self, spec: StaticSpec) -> None:
        cors, cors_name = self._cors(spec.cors)
        try:
            mount = StaticMount.from_spec(
                spec,
                # development: no heuristic caching, so an edited file is seen on reload
                default_cache_control=(
                    "no-cache" if self.config.dev.reload or self.config.dev.live_reload else None
                ),
                **self._variants(),
            )
            self.mounts.append(mount)
        except ConfigError as exc:
            self.issues.extend(exc.issues)
            return
        label = f"static {display_name(spec.dir)}"
        target = StaticTarget(label, cors=cors, cors_name=cors_name, mount=mount)
        prefix = spec.prefix.rstrip("/")
        self._add(
            prefix + "/{__rest:path}", ("GET", "HEAD"), target, spec.host, spec.where, "prefix"
        )

    def _add(
        self,
        pattern: str,
        methods: tuple[str, ...],
        target: Target,
        host: str | None,
        where: Any,
        key: str,
    ) -> None:
        literal = pattern.removesuffix("/{__rest:path}")  # a mount's prefix
        if self.config.dev.live_reload and is_reserved(literal):
            self.issues.append(where.issue(reserved_message(literal), key))
            return
        if host is not None:
            try:
                parse_host(host)
            except ValueError as exc:
                self.issues.append(where.issue(str(exc), "host"))
                return
        try:
            self.builder.add(pattern, methods, target, host=host, where=where)
        except (PatternError, ValueError) as exc:  # a bad pattern, or a bad method
            self.issues.append(where.issue(str(exc), key))
            return
        shown = pattern.replace("/{__rest:path}", "/**") if key == "prefix" else pattern
        object.__setattr__(target, "route", (host or "") + (shown or "/"))  # frozen dataclass
        self.rows.append(
            RouteRow(
                host or "*", listed(methods), shown or "/", target.label, target.cors_name or "-"
            )
        )

    def _error_pages(self) -> dict[int, ErrorPage]:
        pages: dict[int, ErrorPage] = {}
        where = self.config.errors_where
        for status, path in self.config.errors.items():
            try:
                body = path.read_bytes()
            except OSError as exc:
                self.issues.append(
                    where.issue(f"cannot read {str(path)!r}: {exc.strerror}", str(status))
                )
                continue
            ctype = mimetypes.guess_type(path.name)[0] or "text/html"
            if ctype.startswith("text/"):
                ctype += "; charset=utf-8"
            pages[status] = ErrorPage(body, ctype)
        return pages
