"""Error bodies people and programs can read: RFC 9457 `application/problem+json` when the
request prefers JSON (its Accept, or a route marked JSON), plain text otherwise. One
render() that the app's single error renderer calls for every error gateway answers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.http.writer import REASONS

PROBLEM_JSON = "application/problem+json"
PLAIN_TEXT = "text/plain; charset=utf-8"

# The media ranges that ask for JSON, and the ones that ask for text, most specific first:
# the first one Accept names decides that side's weight (RFC 9110 §12.5.1 precedence).
_JSON_RANGES = (PROBLEM_JSON, "application/json", "application/*")
_TEXT_RANGES = ("text/plain", "text/html", "text/*")

# Members RFC 9457 defines: extension members must not overwrite them.
_RESERVED = frozenset({"type", "title", "status", "detail", "instance"})


def reason(status: int) -> str:
    """The reason phrase of `status` ("Not Found"), or "Error" for an unknown one."""
    return REASONS.get(status, "Error")


def _accept_weights(accept: str) -> dict[str, float]:
    """'application/json, text/*;q=0.5' -> {"application/json": 1.0, "text/*": 0.5}.
    Media-type parameters other than q are ignored; malformed elements are skipped."""
    weights: dict[str, float] = {}
    for element in accept.split(","):
        media, *params = element.split(";")
        media = media.strip().lower()
        if "/" not in media:
            continue
        weight = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(raw.strip())
                except ValueError:
                    weight = -1.0
        if math.isfinite(weight) and 0.0 <= weight <= 1.0:
            weights.setdefault(media, weight)
    return weights


def _weight(weights: Mapping[str, float], ranges: tuple[str, ...]) -> float:
    for media in ranges:
        if media in weights:
            return weights[media]
    return -1.0  # not named: "*/*" alone says nothing about a preference


def prefers_json(accept: str | None, route_json: bool = False) -> bool:
    """Whether the error should be problem+json: the route is marked JSON, or Accept names
    a JSON type (application/json, problem+json, application/*) with q > 0 at least as
    high as any text type it names. A bare "*/*" (fetch's default, curl's) gets text."""
    if route_json:
        return True
    if not accept:
        return False
    weights = _accept_weights(accept)
    json_q = _weight(weights, _JSON_RANGES)
    return json_q > 0.0 and json_q >= _weight(weights, _TEXT_RANGES)


def problem(
    status: int,
    detail: str = "",
    *,
    request_id: str = "",
    type: str = "about:blank",
    title: str | None = None,
    instance: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem details object. With the default type "about:blank" the title is the
    status's reason phrase, as RFC 9457 §4.2.1 asks; `request_id` is an extension member
    so a user can quote it in a bug report and an operator can find the log line."""
    body: dict[str, Any] = {
        "type": type,
        "title": title if title is not None else reason(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    for key, value in (extensions or {}).items():
        if key not in _RESERVED:
            body.setdefault(key, value)
    return body


def render(
    status: int,
    detail: str = "",
    *,
    request_id: str = "",
    prefer_json: bool = False,
    instance: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> tuple[bytes, str]:
    """(body, content type) for an error. `detail` defaults to the reason phrase in plain
    text; a 5xx names the request id in both forms (the traceback is only in the log)."""
    if prefer_json:
        obj = problem(
            status, detail, request_id=request_id, instance=instance, extensions=extensions
        )
        return json.dumps(obj, ensure_ascii=False, default=str).encode(), PROBLEM_JSON
    text = detail or reason(status).lower()
    if status >= 500 and request_id and request_id not in text:
        text = f"{text} (request id {request_id})"
    return (text + "\n").encode(), PLAIN_TEXT


def error_response(
    status: int,
    detail: str = "",
    *,
    request: Any = None,
    route_json: bool = False,
    headers: Iterable[tuple[str, str]] = (),
) -> Any:
    """A gateway Response for an error: render() with the preference read from `request`'s
    Accept (and its id), plus `headers` (an HTTPError's, such as Allow or Retry-After)."""
    from gateway.response import Response

    accept = request.headers.get("accept") if request is not None else None
    body, content_type = render(
        status,
        detail,
        request_id=getattr(request, "id", "") or "",
        prefer_json=prefers_json(accept, route_json),
    )
    return Response(status, body, list(headers), content_type=content_type)
