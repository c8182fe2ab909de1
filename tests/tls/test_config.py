"""The [tls] table: defaults, the three sources, and every mistake reported at its line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the tls extra (cryptography) is not installed")

from gateway.config.fields import Issues, Section
from gateway.config.locate import locate
from gateway.tls.config import read_tls
from gateway.tls.spec import LETS_ENCRYPT, TlsSpec


def parse(
    tmp_path: Path, text: str, plain: tuple[str, ...] = ()
) -> tuple[TlsSpec | None, list[str]]:
    issues = Issues("gateway.toml", locate(text))
    top = Section(issues, (), tomllib.loads(text))
    spec = read_tls(top.table("tls"), tmp_path, plain)
    return spec, [str(issue) for issue in issues.sorted()]


def test_files_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "site.pem").write_text("x")
    (tmp_path / "site.key").write_text("x")
    spec, problems = parse(
        tmp_path, '[tls]\ncertificates = [{ cert = "site.pem", key = "site.key" }]\n'
    )
    assert problems == []
    assert spec is not None and spec.mode == "files"
    assert spec.certificates[0].cert == tmp_path / "site.pem"
    assert spec.listen == ("0.0.0.0:443",)
    assert (spec.redirect_http, spec.hsts, spec.handshake_timeout) == (True, None, 10.0)
    assert spec.https_port is None
    assert (spec.min_version, spec.session_tickets) == ("1.2", True)


def test_acme_and_hsts(tmp_path: Path) -> None:
    text = (
        "[tls]\nlisten = '127.0.0.1:8443'\nhsts = '1y'\n"
        "acme = { email = 'ops@example.com', domains = ['Example.com', 'www.example.com'], storage = 'acme' }\n"
    )
    spec, problems = parse(tmp_path, text)
    assert problems == []
    assert spec is not None and spec.acme is not None
    assert spec.acme.domains == ("example.com", "www.example.com")
    assert spec.acme.directory == LETS_ENCRYPT
    assert spec.acme.storage == tmp_path / "acme"
    assert spec.hsts is not None and spec.hsts.header() == (
        "strict-transport-security",
        "max-age=31536000",
    )
    assert spec.listen == ("127.0.0.1:8443",)


def test_local_true_and_table(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, "[tls]\nlocal = true\n")
    assert problems == [] and spec is not None and spec.local is not None
    assert spec.listen == ("127.0.0.1:8443",)
    spec, problems = parse(tmp_path, "[tls]\nlocal = { names = ['app.test', '*.app.test'] }\n")
    assert problems == [] and spec is not None and spec.local is not None
    assert spec.local.names == ("app.test", "*.app.test")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[tls]\nhsts = '1y'\n",
            "gateway.toml:1: tls: needs exactly one of certificates, acme or local (got none)",
        ),
        (
            "[tls]\nlocal = true\nacme = { domains = ['a.com'] }\n",
            "gateway.toml:1: tls: needs exactly one of certificates, acme or local (got acme and local)",
        ),
    ],
)
def test_exactly_one_source(tmp_path: Path, text: str, message: str) -> None:
    spec, problems = parse(tmp_path, text)
    assert spec is None and problems == [message]


def test_every_mistake_at_once(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "[tls]",
            "local = true",
            "redirect_https = true",
            "hsts = { max_age = '1y', preload = true }",
            "handshake_timeout = 0",
            "min_version = '1.1'",
            "listen = 'nowhere'",
            "https_port = 0",
        ]
    )
    spec, problems = parse(tmp_path, text + "\n")
    assert spec is None
    assert problems == [
        "gateway.toml:3: tls.redirect_https: unknown key 'redirect_https' (did you mean 'redirect_http'?)",
        "gateway.toml:4: tls.hsts: preload needs max_age of at least '1y' and include_subdomains = true",
        "gateway.toml:5: tls.handshake_timeout: must be more than 0 seconds, got 0",
        "gateway.toml:6: tls.min_version: '1.1' is not one of '1.2', '1.3' (did you mean '1.3'?)",
        "gateway.toml:7: tls.listen: 'nowhere' is not host:port: write e.g. '127.0.0.1:8000' or '[::1]:8000'",
        "gateway.toml:8: tls.https_port: must be from 1 to 65535, got 0",
    ]


def test_bad_certificates_and_acme(tmp_path: Path) -> None:
    spec, problems = parse(
        tmp_path, "[tls]\ncertificates = [{ cert = 'missing.pem', kye = 'x' }]\n"
    )
    assert spec is None
    assert problems == [
        "gateway.toml:2: tls.certificates[0].kye: unknown key 'kye' (did you mean 'key'?)",
        f"gateway.toml:2: tls.certificates[0].cert: file {str(tmp_path / 'missing.pem')!r} does not exist",
        "gateway.toml:2: tls.certificates[0]: missing required key 'key'",
    ]
    spec, problems = parse(
        tmp_path,
        "[tls]\n[tls.acme]\ndomains = ['*.example.com', '127.0.0.1']\nemail = 'nobody'\ndirectory = 'http://ca'\n",
    )
    assert spec is None
    assert problems == [
        "gateway.toml:3: tls.acme.domains[0]: '*.example.com' is not a host name: write one like 'example.com'",
        "gateway.toml:4: tls.acme.email: 'nobody' is not an email address: write e.g. 'ops@example.com'",
        "gateway.toml:5: tls.acme.directory: 'http://ca' is not an https:// URL: write e.g. 'https://acme-v02.api.letsencrypt.org/directory'",
    ]


def test_listen_apart_from_plain_listeners(tmp_path: Path) -> None:
    spec, problems = parse(
        tmp_path, "[tls]\nlocal = true\nlisten = ['127.0.0.1:8000']\n", ("127.0.0.1:8000",)
    )
    assert spec is None
    assert problems == [
        "gateway.toml:3: tls.listen: '127.0.0.1:8000' is also in [server] listen: an address speaks"
        " either http or https; give tls another port, like '0.0.0.0:443' beside '0.0.0.0:80'"
    ]


def test_hsts_forms(tmp_path: Path) -> None:
    spec, _ = parse(
        tmp_path,
        "[tls]\nlocal = true\nhsts = { max_age = '2y', include_subdomains = true, preload = true }\n",
    )
    assert spec is not None and spec.hsts is not None
    assert spec.hsts.header()[1] == "max-age=63072000; includeSubDomains; preload"
    spec, problems = parse(tmp_path, "[tls]\nlocal = true\nhsts = { maxage = 1 }\n")
    assert problems == [
        "gateway.toml:3: tls.hsts.maxage: unknown key 'maxage' (did you mean 'max_age'?)"
    ]
    spec, problems = parse(tmp_path, "[tls]\nlocal = true\nhsts = true\n")
    assert problems == [
        "gateway.toml:3: tls.hsts: expected false, a max-age like '1y', or a table { max_age = '1y' }, got a boolean (true)"
    ]
