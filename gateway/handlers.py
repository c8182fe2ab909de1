"""Handler modules and what handlers return. SiteModules imports "module:function" refs
from a site root under a package name private to that root (two sites never share
modules), and drops them all when any of their files changed, so a rebuild runs new code.
to_response turns every documented return type into a Response."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import logging
import os
import re
import sys
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from gateway.aio.kinds import signature_problem
from gateway.config.schema import Where
from gateway.errors import ConfigIssue, HandlerFailed, HTTPError
from gateway.http.writer import REASONS
from gateway.response import FileBody, PushBody, Response, Switch

log = logging.getLogger("gateway.handlers")

Handler = Callable[[Any], Any]


class SiteModules:
    """The handler modules of one site root, imported as `<private package>.<module>`.
    The root is also put on sys.path so handler code may import its siblings absolutely."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
        self.package = f"_gateway_site_{digest}"
        self._stamps: dict[str, tuple[int, int]] = {}

    def _ensure_package(self) -> None:
        if self.package not in sys.modules:
            package = types.ModuleType(self.package)
            package.__path__ = [str(self.root)]
            sys.modules[self.package] = package
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))

    def refresh(self) -> bool:
        """Forget every module of this site if any of its files changed since import.
        True when something was forgotten."""
        changed = any(_stamp(path) != stamp for path, stamp in self._stamps.items())
        if changed:
            for name, module in list(sys.modules.items()):
                file = getattr(module, "__file__", None)
                if file and _is_under(file, self.root):
                    del sys.modules[name]
            self._stamps.clear()
            importlib.invalidate_caches()
        return changed

    def load(self, ref: str, where: Where, key: str = "handler") -> Handler | ConfigIssue:
        """The function `ref` names ("api.users:get_user"), or a ConfigIssue saying why not."""
        self._ensure_package()
        module_name, _, func_name = ref.partition(":")
        try:
            module = importlib.import_module(f"{self.package}.{module_name}")
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").removeprefix(self.package + ".")
            if missing and module_name.startswith(missing):
                file = self.root / (module_name.replace(".", "/") + ".py")
                return where.issue(f"module {module_name!r} not found (looked for {file})", key)
            return where.issue(_import_failure(module_name, exc, self.root), key)
        except Exception as exc:
            return where.issue(_import_failure(module_name, exc, self.root), key)
        finally:
            self._record_stamps()
        func = getattr(module, func_name, None)
        if func is not None and not callable(func):  # a value can only fail per request
            at = _defined_at(module, func_name, self.root)
            kind = type(func).__name__
            article = "an" if kind[:1] in "aeiou" else "a"
            return where.issue(
                f"{at}{ref!r} is {article} {kind}, not a function: define it with def", key
            )
        if callable(func) and key == "handler":  # hooks take no argument; websockets a socket
            problem = signature_problem(func, ref)
            if problem is not None:
                return where.issue(f"{_defined_at(module, func_name, self.root)}{problem}", key)
        if not callable(func):
            names = [
                n
                for n, v in vars(module).items()
                if callable(v)
                and not n.startswith("_")
                and getattr(v, "__module__", None) == module.__name__
            ]
            return where.issue(_missing_function(module_name, func_name, names), key)
        handler: Handler = func
        return handler

    def _record_stamps(self) -> None:
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if file and _is_under(file, self.root) and file not in self._stamps:
                self._stamps[file] = _stamp(file)

    @property
    def files(self) -> list[str]:
        """Every module file of this site imported so far (what the reloader watches)."""
        return sorted(self._stamps)


def once_per_module(issues: list[ConfigIssue], issue: ConfigIssue) -> None:
    """Add `issue` to `issues`, unless the same broken module or function was reported for
    an earlier route: that issue then names this route too, so each failure shows once."""
    for i, seen in enumerate(issues):
        if seen.message.split(" (also used by ")[0] == issue.message and seen.key:
            place = f"{issue.key} at {issue.file}:{issue.line}" if issue.line else issue.key
            also = "," if " (also used by " in seen.message else " (also used by"
            message = seen.message.removesuffix(")") if also == "," else seen.message
            issues[i] = dataclasses.replace(seen, message=f"{message}{also} {place})")
            return
    issues.append(issue)


def _defined_at(module: types.ModuleType, name: str, root: Path) -> str:
    """'api/users.py:12: ' where `name` is defined in `module` (its def, or the line that
    assigns it), or '' when that cannot be told."""
    file = getattr(module, "__file__", None)
    if not file:
        return ""
    func = inspect.unwrap(getattr(module, name, None))  # type: ignore[arg-type]
    code = getattr(func, "__code__", None)
    line = code.co_firstlineno if code is not None else 0
    if not line:
        try:
            text = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        pattern = re.compile(rf"^{re.escape(name)}\s*[:=]", re.MULTILINE)
        found = pattern.search(text)
        if found is None:
            return f"{_display(file, root)}: "
        line = text.count("\n", 0, found.start()) + 1
    return f"{_display(file, root)}:{line}: "


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _is_under(file: str, root: Path) -> bool:
    # Site modules are found through the resolved root (the package __path__ and the
    # sys.path entry), so their files start with it: a string test first spares a
    # realpath of every module in sys.modules on each handler load.
    text = str(root)
    if not file.startswith(text):
        return False
    try:
        return os.path.commonpath([os.path.realpath(file), text]) == text
    except ValueError:
        return False


def _import_failure(module_name: str, exc: BaseException, root: Path) -> str:
    """'importing 'api.users' failed: api/users.py:12: NameError: ...' with the deepest
    frame inside the site, so the message points at the user's line."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_display(exc.filename, root)}:{exc.lineno}: "
        return f"importing {module_name!r} failed: {where}SyntaxError: {exc.msg}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if _is_under(frame.filename, root):
            where = f"{_display(frame.filename, root)}:{frame.lineno}: "
            break
    return f"importing {module_name!r} failed: {where}{type(exc).__name__}: {exc}"


def _display(file: str, root: Path) -> str:
    try:
        return os.path.relpath(file, root)
    except ValueError:
        return file


def _missing_function(module_name: str, func_name: str, names: list[str]) -> str:
    import difflib

    message = f"module {module_name!r} has no function {func_name!r}"
    close = difflib.get_close_matches(func_name, names, n=1)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    if names:
        return f"{message}; it has {', '.join(repr(n) for n in sorted(names))}"
    return message


def to_response(result: Any) -> Response:
    """What a handler returned, as a Response (see docs/handlers.md for the table)."""
    kind = type(result)
    if kind is dict or kind is list:  # the common case first: a JSON API's answer
        return Response.json(result)
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(204)
    if isinstance(result, (dict, list)):
        return Response.json(result)
    if isinstance(result, str):
        return Response(200, result.encode(), content_type="text/plain; charset=utf-8")
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Response(200, bytes(result), content_type="application/octet-stream")
    if isinstance(result, tuple) and 2 <= len(result) <= 3 and isinstance(result[0], int):
        response = to_response(result[1])
        response.status = result[0]
        if len(result) == 3:
            response.set_headers(result[2])  # the handler's content type replaces the default
        return response
    if isinstance(result, (Iterator, Iterable)) and not isinstance(result, (set, frozenset)):
        return Response(200, _encode_chunks(iter(result)), content_type="application/octet-stream")
    raise TypeError(
        f"handler returned {type(result).__name__!r}: return a Response, dict, list, str, "
        "bytes, (status, body[, headers]), an iterator of bytes, or None"
    )


def _encode_chunks(chunks: Iterator[Any]) -> Iterator[bytes]:
    try:
        for item in chunks:
            if isinstance(item, str):
                yield item.encode()
            elif isinstance(item, (bytes, bytearray, memoryview)):
                yield bytes(item)
            else:  # bytes(3) would quietly send three NULs
                raise TypeError(
                    f"a streamed body yielded {type(item).__name__!r}: yield bytes or str"
                )
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def call_handler(func: Handler, request: Any) -> Response:
    """Run a handler and convert its result. HTTPError passes through; any other error is
    logged here, with the traceback and the handler's name, and raised as HandlerFailed
    (a 500 that names the request id) for the App to render like every other error."""
    try:
        result = func(request)
        if type(result) is dict:  # a JSON API's answer: what to_response makes, checked
            return Response.json(result)
        return _checked(to_response(result))
    except HTTPError:
        raise
    except BaseException as exc:  # SystemExit in a handler must not stop the server either
        log.error(
            "request %s: handler %s raised\n%s", request.id, _name(func), traceback.format_exc()
        )
        failed = HandlerFailed(request.id)
        failed.original = exc  # for the dev page ([dev] reload): the traceback to show
        raise failed from None


def _checked(response: Response) -> Response:
    """A Response the server can write: a final status (an int from 200 to 999) and a body
    it knows how to send. Anything else is the handler's bug: TypeError -> 500."""
    status = response.status
    if type(status) is int and 200 <= status <= 999 and type(response.body) is bytes:
        return response  # the common case, decided at once
    if type(response) is Switch:
        return response  # 101: the connection goes to the protocol it names
    if type(status) is not int or not 200 <= status <= 999:
        raise TypeError(f"status {status!r} is not a final status: use an int from 200 to 599")
    body = response.body
    sendable = isinstance(body, (bytes, FileBody, PushBody)) or (
        hasattr(body, "__iter__") and not isinstance(body, str)
    )
    if not sendable:
        raise TypeError(
            f"response body {type(body).__name__!r}: use bytes, str or an iterator of bytes"
        )
    return response


def reason(status: int) -> str:
    """The status's reason phrase in lowercase (error text style), or "error"."""
    return REASONS.get(status, "error").lower()


def _name(func: Handler) -> str:
    module = inspect.getmodule(func)
    return f"{module.__name__ if module else '?'}:{getattr(func, '__qualname__', func)}"
