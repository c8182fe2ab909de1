"""The config fuzzer's findings (tests/config/test_fuzz_config.py), each a small case that
failed before its fix: `gateway check` on these printed a traceback, not the errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.cli import main


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "gateway.toml").write_text(textwrap.dedent(text))
    capsys.readouterr()
    status = main(["check", "--config", str(tmp_path / "gateway.toml")])
    out, err = capsys.readouterr()
    return status, out + err


def test_a_route_to_a_broken_upstream_gets_the_upstreams_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The route was compiled against the upstreams that read cleanly: KeyError: 'api'."""
    status, shown = check(
        tmp_path,
        """\
        [upstream.api]
        servers = false

        [[route]]
        path = "/api/{rest:path}"
        proxy = { upstream = "api" }
        """,
        capsys,
    )
    assert status == 1
    assert "gateway.toml:2: upstream.api.servers: expected a list of server addresses" in shown
    assert "Traceback" not in shown and "KeyError" not in shown
    assert shown.rstrip().endswith("1 error")


LONG = "x" * 5000  # longer than any file name the system takes (ENAMETOOLONG)
PATH_KEYS = [
    ('[server]\nroot = "{}"\n', "server.root"),
    ('[server]\npid_file = "{}"\n', "server.pid_file"),
    ('[server]\naccess_log = {{ path = "{}" }}\n', "server.access_log"),
    ('[[static]]\nprefix = "/"\ndir = "{}"\n', "static[0].dir"),
    ('[[static]]\nprefix = "/"\ndir = "public"\nfallback = "{}"\n', "static[0].fallback"),
    ('[[static]]\nprefix = "/"\ndir = "public"\nindex = ["{}"]\n', "static[0].index[0]"),
    ('[errors]\n404 = "{}"\n', "errors.404"),
    ('include = ["{}"]\n', "include[0]"),
]


@pytest.mark.parametrize("name", ["a\\u0000b", LONG], ids=["nul", "too-long"])
@pytest.mark.parametrize("template, key", PATH_KEYS, ids=[key for _, key in PATH_KEYS])
def test_a_path_no_file_can_have_is_an_error_at_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, template: str, key: str
) -> None:
    """A NUL in a path made os.stat raise ValueError ("embedded null byte"), a name longer
    than the system takes OSError (ENAMETOOLONG): tracebacks from `gateway check`, or with
    check=False (pid_file) a config that loads and fails when the file is written."""
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("hi")
    status, shown = check(tmp_path, template.format(name), capsys)
    assert status == 1, shown
    assert f"gateway.toml:{template.count(chr(10))}: {key}: " in shown, shown
    assert "Traceback" not in shown and "Error:" not in shown
    shown_name = "'a\\x00b'" if "u0000" in name else "is too long"
    assert shown_name in shown, shown


@pytest.mark.parametrize("value", ["1e12", "'99999999999h'", "9223372036854775807"])
def test_a_duration_over_ten_years_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """timeouts = { handler = 1e12 } loaded, and each async handler's wait for its result
    raised OverflowError (threading's waits take at most threading.TIMEOUT_MAX, ~292 years;
    settimeout and select the same or less): a duration that large is a slip."""
    status, shown = check(tmp_path, f"[server]\ntimeouts = {{ handler = {value} }}\n", capsys)
    assert status == 1, shown
    assert "gateway.toml:2: server.timeouts.handler: " in shown, shown
    assert "is more than 10 years: durations go up to 315360000 seconds" in shown, shown


def test_the_longest_duration_is_one_every_wait_takes() -> None:
    import threading

    from gateway.config.units import MAX_DURATION, parse_duration

    assert parse_duration(MAX_DURATION) == MAX_DURATION == 10 * 365 * 86400
    assert MAX_DURATION < threading.TIMEOUT_MAX
    with pytest.raises(ValueError, match="is more than 10 years"):
        parse_duration(MAX_DURATION + 1)


@pytest.mark.parametrize(
    "value, message",
    [
        (
            "'logs/error.log'",
            "expected a table, got a string ('logs/error.log'): write error_log = { path = ",
        ),
        (
            "7",
            "expected a table, got an integer (7): write error_log = { path = 'logs/error.log' }",
        ),
        ("{}", "missing required key 'path': write error_log = { path = 'logs/error.log' }"),
        (
            "{ path = 'e.log', level = 1 }",
            "unknown key 'level' in error_log: write error_log = { path = 'logs/error.log' }",
        ),
    ],
)
def test_a_wrong_error_log_is_quoted_and_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    """Every mistake in error_log got the same "write error_log = { path = ... }", which
    neither quoted the value nor said what was wrong with it."""
    status, shown = check(tmp_path, f"[server]\nerror_log = {value}\n", capsys)
    assert status == 1
    assert f"gateway.toml:2: server.error_log: {message}" in shown, shown


@pytest.mark.parametrize("name", ["chat v1", "a\\u0000b", "caf\\u00e9", "", "x,y"])
def test_a_subprotocol_that_is_no_token_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Subprotocols are tokens (RFC 6455 4.1, Sec-WebSocket-Protocol); one that is not, such
    as 'chat v1', loaded and could never match what a client offers: the route silently
    never agreed on it."""
    (tmp_path / "api.py").write_text("async def echo(ws):\n    await ws.close()\n")
    text = f"""\
    [[route]]
    path = "/ws"
    websocket = "api:echo"
    websocket_options = {{ subprotocols = ["chat.v2", "{name}"] }}
    """
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert "gateway.toml:4: route[0].websocket_options.subprotocols[1]: " in shown, shown


# -- proxy.host, strip_prefix and health paths (gateway/proxy/config.py)


@pytest.mark.parametrize("host", ["a b", "caf\\u00e9", "api.example.com/x", "a,b"])
def test_a_proxy_host_that_is_no_host_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    """proxy.host is the Host header sent upstream; 'a b' or 'café' loaded (line_text only
    refuses what a header cannot carry) and every proxied request then named a host no
    server takes (RFC 9110 7.2: uri-host [":" port])."""
    text = f"""\
    [[route]]
    path = "/api/{{rest:path}}"
    proxy = {{ url = "http://127.0.0.1:9001", host = "{host}" }}
    """
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert "gateway.toml:3: route[0].proxy.host: " in shown and "is not a host" in shown, shown


def test_a_bad_strip_prefix_is_told_as_a_path_not_a_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """strip_prefix = "/a\\u0000b" said "contains a control character ..., which cannot go
    in a header": it is a path."""
    text = """\
    [[route]]
    path = "/api/{rest:path}"
    proxy = { url = "http://127.0.0.1:9001", strip_prefix = "/a\\u0000b" }
    """
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert "route[0].proxy.strip_prefix: '/a\\x00b' is not a path: write e.g." in shown, shown
    assert "header" not in shown


def test_a_utf8_bom_is_read_past(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Notepad and some Windows editors start UTF-8 files with a BOM: tomllib stopped at it
    with "invalid statement (at line 1, column 1)" under a line that looks right. It is read
    past, as Python's utf-8-sig and most TOML readers do, in included files too."""
    (tmp_path / "more.toml").write_bytes(b'\xef\xbb\xbf[[route]]\npath = "/b"\nrespond = {}\n')
    text = 'include = ["more.toml"]\n[[route]]\npath = "/a"\nrespond = {}\n'
    (tmp_path / "gateway.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    capsys.readouterr()
    status = main(["check", "--config", str(tmp_path / "gateway.toml")])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.endswith(": ok (2 routes)\n")


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            b'[server]\nroot = "caf\xe9"\n',
            "gateway.toml:2: is not UTF-8 text: byte b'\\xe9' at column 12 (invalid continuation"
            " byte): save the file as UTF-8",
        ),
        (
            '[server]\nroot = "x"\n'.encode("utf-16"),
            "gateway.toml:1: is not UTF-8 text: byte b'\\xff' at column 1 (invalid start"
            " byte): save the file as UTF-8 (it looks like UTF-16)",
        ),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_file_that_is_not_utf8_names_the_line_and_what_to_do(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raw: bytes,
    message: str,
) -> None:
    """It said only "gateway.toml: is not UTF-8 text: invalid start byte": no line, no way
    out."""
    (tmp_path / "gateway.toml").write_bytes(raw)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    status = main(["check", "--config", "gateway.toml"])
    _, err = capsys.readouterr()
    assert status == 1
    assert err.splitlines()[0] == message


@pytest.mark.parametrize("kind", ["json", "a\\r\\nb: c", "text/html; charset=utf-8", "*", ""])
def test_a_compress_type_that_can_never_match_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """compress.types took any string: 'json' (for application/json) loaded and matched no
    response, so nothing was compressed and nothing said why."""
    text = f'[server]\ncompress = {{ types = ["text/*", "{kind}"] }}\n'
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert "gateway.toml:2: server.compress.types[1]: " in shown, shown


def test_the_documented_compress_types_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.compress.policy import DEFAULT_TYPES

    listed = ", ".join(f'"{kind}"' for kind in DEFAULT_TYPES)
    status, shown = check(tmp_path, f"[server]\ncompress = {{ types = [{listed}] }}\n", capsys)
    assert status == 0, shown


def test_a_reference_inside_a_default_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """listen = "${HOST:-${FALLBACK}}" read the default up to the first '}' and left the
    value as the literal text '${FALLBACK}' (a shell would nest): silently not what was
    meant, and no error unless the key happened to check its value."""
    monkeypatch.delenv("FUZZ_A", raising=False)
    monkeypatch.setenv("FUZZ_B", "x")
    text = '[[route]]\npath = "/a"\nrespond = { body = "${FUZZ_A:-${FUZZ_B}}" }\n'
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert (
        "gateway.toml:3: route[0].respond.body: '${FUZZ_A:-${FUZZ_B}' holds a reference in its"
        " default, which is not read: write a plain default, as ${FUZZ_A:-value}"
    ) in shown, shown


def test_a_key_with_a_newline_is_shown_escaped_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """format_key quoted such a key but printed its newline as is: the error broke over two
    lines, the second of which looked like another error."""
    text = '[[route]]\npath = "/a"\nrespond = {}\nheaders = { "a\\nb\\u0000" = "v" }\n'
    status, shown = check(tmp_path, text, capsys)
    assert status == 1, shown
    assert shown.splitlines()[0].endswith(
        "/gateway.toml:4: route[0].headers.\"a\\nb\\u0000\": 'a\\nb\\x00' is not a header name:"
        " write e.g. 'content-type'"
    ), shown


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_an_infinite_duration_is_told_as_such(value: str) -> None:
    """inf got "durations are 0 or more seconds", which inf is."""
    from gateway.config.units import parse_duration

    with pytest.raises(ValueError) as caught:
        parse_duration(float(value))
    assert str(caught.value) == (
        f"{float(value)!r} is not a duration: use a finite number of seconds, 0 or more"
    )
