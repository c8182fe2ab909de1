"""The trailing-slash answer to a method a static mount does not take: `POST /api/items/`
when only `POST /api/items` exists must not get the mount's 405 (its Allow names another
target's methods), but the route's other slash form (308 keeps the method) or a 404."""

from __future__ import annotations

from collections.abc import Callable

from gateway.request import Request
from gateway.response import Response
from gateway.router.paths import join_path
from gateway.router.trie import MethodNotAllowed, NoMatch, Router
from gateway.targets import StaticTarget, Target


def instead_of_405(
    router: Router[Target],
    request: Request,
    miss: MethodNotAllowed[Target],
    redirect: bool,
    not_found: Callable[[Request, Target], Response],
) -> Response | None:
    """A 308 to the other slash form when a route there takes the method (`not_found`'s
    404 when not `redirect`: trailing_slash = "strict"), or None when the mount's 405 is
    the truth: the mount serves a file here, or no route takes the method at the other form."""
    mount = miss.target
    segments = request.segments
    if not isinstance(mount, StaticTarget) or mount.mount is None or not segments:
        return None
    other = segments[:-1] if segments[-1] == "" else (*segments, "")
    if not other:
        return None
    try:
        match = router.match(request.host, request.method, other)
    except NoMatch:
        return None
    if match.target is mount:
        return None
    try:
        here = router.match(request.host, "GET", segments)
    except NoMatch:
        here = None
    if here is not None and here.target is mount and mount.mount.answers(request, here.rest):
        return None  # the mount has a file here: GET, HEAD is what this path takes
    if not redirect:  # trailing_slash = "strict"
        return not_found(request, mount)
    location = join_path(other) + (f"?{request.query_string}" if request.query_string else "")
    return mount.finish(request, Response(308, b"", [("location", location)]))
