"""One case per kind of mistake in [[route]], [[static]] and [errors], each with its exact
`file:line: key: message` text."""

from __future__ import annotations

import pytest

from tests.config.conftest import Check

CASES = {
    "route without a target": (
        "[[route]]\npath = '/x'\n",
        [
            "gateway.toml:1: route[0]: nothing to serve: "
            "set one of 'handler', 'respond' or 'redirect'"
        ],
    ),
    "route with two targets": (
        "[[route]]\npath = '/x'\nhandler = 'api.x:y'\nredirect = { to = '/' }\n",
        [
            "gateway.toml:4: route[0]: sets both 'handler' and 'redirect': "
            "a route has exactly one of handler, respond or redirect"
        ],
    ),
    "route with three targets": (
        "[[route]]\npath = '/x'\nhandler = 'a:b'\nrespond = {}\nredirect = { to = '/' }\n",
        [
            "gateway.toml:5: route[0]: sets 'handler', 'respond' and 'redirect': "
            "a route has exactly one of handler, respond or redirect"
        ],
    ),
    "route without a path": (
        "[[route]]\nhandler = 'api.x:y'\n",
        ["gateway.toml:1: route[0]: missing required key 'path'"],
    ),
    "route path without a slash": (
        "[[route]]\npath = 'api/x'\nhandler = 'api.x:y'\n",
        ["gateway.toml:2: route[0].path: 'api/x' does not start with '/': write e.g. '/api/x'"],
    ),
    "handler reference": (
        "[[route]]\npath = '/x'\nhandler = 'api.users.get_user'\n",
        [
            "gateway.toml:3: route[0].handler: 'api.users.get_user' is not module:function: "
            "write e.g. 'api.users:get_user'"
        ],
    ),
    "methods": (
        "[[route]]\npath = '/x'\nhandler = 'a:b'\nmethods = ['get', 'GE T', 5]\n",
        [
            "gateway.toml:4: route[0].methods[1]: 'GE T' is not an HTTP method: "
            "write e.g. 'GET' or 'POST'",
            "gateway.toml:4: route[0].methods[2]: expected a string, got an integer (5)",
        ],
    ),
    "no methods": (
        "[[route]]\npath = '/x'\nhandler = 'a:b'\nmethods = []\n",
        ["gateway.toml:4: route[0].methods: needs at least one method, e.g. ['GET']"],
    ),
    "inline without a handler": (
        "[[route]]\npath = '/x'\nrespond = { body = 'hi' }\ninline = true\n",
        ["gateway.toml:4: route[0].inline: only a handler route can run inline"],
    ),
    "headers with CR or LF and bad names": (
        "[[route]]\npath = '/x'\nhandler = 'a:b'\n"
        "[route.headers]\nx-ok = 'fine'\nx-bad = \"a\\r\\nb\"\n'x y' = 'z'\n",
        [
            "gateway.toml:6: route[0].headers.x-bad: 'a\\r\\nb' contains CR or LF, "
            "which cannot go in a header",
            "gateway.toml:7: route[0].headers.\"x y\": 'x y' is not a header name: "
            "write e.g. 'content-type'",
        ],
    ),
    "respond status, body and json": (
        "[[route]]\npath = '/x'\nrespond = { status = 700, body = 'a', json = [1] }\n",
        [
            "gateway.toml:3: route[0].respond.status: must be from 100 to 599, got 700",
            "gateway.toml:3: route[0].respond.json: sets both 'body' and 'json': keep one",
        ],
    ),
    "respond with a body on a status that has none": (
        "[[route]]\npath = '/x'\nrespond = { status = 204, body = 'a' }\n",
        [
            "gateway.toml:3: route[0].respond.status: a 204 response has no body: "
            "drop 'body' or change it"
        ],
    ),
    "respond unknown key": (
        "[[route]]\npath = '/x'\nrespond = { stauts = 200 }\n",
        ["gateway.toml:3: route[0].respond.stauts: unknown key 'stauts' (did you mean 'status'?)"],
    ),
    "redirect status and keys": (
        "[[route]]\npath = '/x'\nredirect = { status = 200, keep_query = 'no' }\n",
        [
            "gateway.toml:3: route[0].redirect: missing required key 'to'",
            "gateway.toml:3: route[0].redirect.status: 200 is not a redirect status: "
            "use one of 301, 302, 303, 307, 308",
            "gateway.toml:3: route[0].redirect.keep_query: expected true or false, "
            "got a string ('no')",
        ],
    ),
    "redirect parameters": (
        "[[route]]\npath = '/old/:id/{rest:path}'\n"
        "redirect = { to = '/new/{id}/{rst}' }\n"
        "[[route]]\npath = '/plain'\nredirect = { to = '/new/{rest}' }\n",
        [
            "gateway.toml:3: route[0].redirect.to: '{rst}' is not a parameter of path "
            "'/old/:id/{rest:path}' (did you mean '{rest}'?)",
            "gateway.toml:6: route[1].redirect.to: '{rest}' is not a parameter of path "
            "'/plain', which has none",
        ],
    ),
    "static dir missing": (
        "[[static]]\nprefix = '/'\ndir = 'nope'\n",
        ["gateway.toml:3: static[0].dir: directory '{root}/nope' does not exist"],
    ),
    "static dir typo gets the sibling folder": (
        "[[static]]\nprefix = '/'\ndir = 'pubilc'\n",
        [
            "gateway.toml:3: static[0].dir: directory '{root}/pubilc' does not exist "
            "(did you mean 'public'?)"
        ],
    ),
    "static dir typo below a folder keeps the path as written": (
        "[[static]]\nprefix = '/'\ndir = './public/../Public/'\n",
        [
            "gateway.toml:3: static[0].dir: directory '{root}/Public' does not exist "
            "(did you mean './public/../public'?)"
        ],
    ),
    "static dir is a file": (
        "[[static]]\nprefix = '/'\ndir = 'public/index.html'\n",
        ["gateway.toml:3: static[0].dir: '{root}/public/index.html' is not a directory"],
    ),
    "static prefix, index and fallback": (
        """\
        [[static]]
        prefix = 'assets'
        dir = 'public'
        index = ['a/b.html']
        fallback = '../x.html'
        """,
        [
            "gateway.toml:2: static[0].prefix: 'assets' does not start with '/': "
            "write e.g. '/assets'",
            "gateway.toml:4: static[0].index[0]: 'a/b.html' is not a file name: "
            "write e.g. 'index.html'",
            "gateway.toml:5: static[0].fallback: '../x.html' is not a path inside the "
            "mount's dir: write e.g. 'index.html'",
        ],
    ),
    "static fallback missing": (
        "[[static]]\nprefix = '/'\ndir = 'public'\nfallback = 'app.html'\n",
        ["gateway.toml:4: static[0].fallback: file '{root}/public/app.html' does not exist"],
    ),
    "static precompressed, dotfiles and symlinks": (
        """\
        [[static]]
        prefix = '/'
        dir = 'public'
        precompressed = ['br', 'deflate']
        dotfiles = 'hide'
        symlinks = 'folow'
        """,
        [
            "gateway.toml:4: static[0].precompressed[1]: 'deflate' is not one of "
            "'br', 'gzip', 'zstd'",
            "gateway.toml:5: static[0].dotfiles: 'hide' is not one of 'deny', 'allow', 'ignore'",
            "gateway.toml:6: static[0].symlinks: 'folow' is not one of 'inside', 'follow', "
            "'deny' (did you mean 'follow'?)",
        ],
    ),
    "static cache entries": (
        """\
        [[static]]
        prefix = '/'
        dir = 'public'
        cache = [
          { match = '*.html', contrl = 'no-cache' },
          'assets/**',
        ]
        """,
        [
            "gateway.toml:5: static[0].cache[0].contrl: unknown key 'contrl' "
            "(did you mean 'control'?)",
            "gateway.toml:5: static[0].cache[0]: missing required key 'control'",
            "gateway.toml:6: static[0].cache[1]: expected a table, got a string ('assets/**')",
        ],
    ),
    "static mime": (
        "[[static]]\nprefix = '/'\ndir = 'public'\nmime = { md = 'text/markdown', '.x' = 'x' }\n",
        [
            "gateway.toml:4: static[0].mime.md: 'md' is not an extension: write e.g. '.md'",
            "gateway.toml:4: static[0].mime.\".x\": 'x' is not a media type: "
            "write e.g. 'text/markdown'",
        ],
    ),
    "static cors false or a name": (
        "[[static]]\nprefix = '/'\ndir = 'public'\ncors = true\n",
        [
            "gateway.toml:4: static[0].cors: expected a cors policy name or false, "
            "got a boolean (true)"
        ],
    ),
    "errors keys and files": (
        "[errors]\n404 = 'public/404.html'\n403 = 'public/403.html'\n200 = 'public/index.html'\n",
        [
            "gateway.toml:3: errors.403: file '{root}/public/403.html' does not exist",
            "gateway.toml:4: errors.200: '200' is not an error status: use a code from 400 to 599",
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_mistake(check: Check, text: str, expected: list[str]) -> None:
    assert check(text) == expected
