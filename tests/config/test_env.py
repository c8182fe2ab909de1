"""Values from the environment: ${VAR} and ${VAR:-default} in string values (never keys),
$${ as a literal, errors with file:line and key, PORT and GATEWAY_CONFIG, and the
--show-env listing with secrets masked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config.env import default_config_path, port_override, render_env
from gateway.config.load import ConfigLoadError, load_config, parse_config
from gateway.config.schema import GatewayConfig

SITE = """\
[server]
listen = ["${HOST:-127.0.0.1}:8000"]
root = "${SITE_ROOT}"

[[route]]
path = "/api/${API_PREFIX:-v1}/x"
respond = { body = "token=${API_TOKEN}" }
headers = { "x-api-key" = "${UPSTREAM_KEY}", "x-plain" = "a $${literal} and $5" }

[[route]]
path = "/${PAGE}"
respond = { json = { "${kept}" = "${IN_JSON}" } }
"""


@pytest.fixture(autouse=True)
def _in_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so files are named as a user in the site sees them


def load(tmp_path: Path, text: str, env: dict[str, str]) -> GatewayConfig:
    (tmp_path / "site").mkdir(exist_ok=True)
    return parse_config(textwrap.dedent(text), tmp_path / "gateway.toml", env)


ENV = {
    "SITE_ROOT": "site",
    "API_TOKEN": "s3cr3t",
    "UPSTREAM_KEY": "k-123",
    "PAGE": "plain",
    "IN_JSON": "yes",
    "API_PREFIX": "",  # empty takes the default, as in the shell's :-
}


def test_references_are_replaced_in_values_and_never_in_keys(tmp_path: Path) -> None:
    config = load(tmp_path, SITE, ENV)
    assert config.server.listen == ("127.0.0.1:8000",)
    assert config.server.root == (tmp_path / "site").resolve()
    first, second = config.routes
    assert first.path == "/api/v1/x"
    assert first.respond is not None and first.respond.body == b"token=s3cr3t"
    assert first.headers == (("x-api-key", "k-123"), ("x-plain", "a ${literal} and $5"))
    assert second.path == "/plain"
    assert second.respond is not None and second.respond.body == b'{"${kept}":"yes"}'


def test_an_unset_variable_is_an_error_at_its_line_and_key(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k not in ("API_TOKEN", "SITE_ROOT")}
    with pytest.raises(ConfigLoadError) as caught:
        load(tmp_path, SITE, env)
    assert [str(issue) for issue in caught.value.issues] == [
        "gateway.toml:3: server.root: environment variable 'SITE_ROOT' is not set: "
        "set it, or give a default as ${SITE_ROOT:-default}",
        "gateway.toml:7: route[0].respond.body: environment variable 'API_TOKEN' is not set: "
        "set it, or give a default as ${API_TOKEN:-default}",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${1BAD}", "'${1BAD}' is not a variable reference: write ${NAME} or ${NAME:-default}"),
        ("${}", "'${}' is not a variable reference: write ${NAME} or ${NAME:-default}"),
        ("${OPEN", "'${' is not closed: write ${NAME} (or $${ for a literal '${')"),
    ],
)
def test_a_malformed_reference_says_what_to_write(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigLoadError) as caught:
        load(tmp_path, f'[[route]]\npath = "/"\nrespond = {{ body = "{value}" }}\n', {})
    assert [str(i) for i in caught.value.issues] == [
        f"gateway.toml:3: route[0].respond.body: {message}"
    ]


def test_show_env_lists_where_each_value_came_from_with_secrets_masked(tmp_path: Path) -> None:
    config = load(tmp_path, SITE, {**ENV, "PORT": "9000"})
    listing = render_env(config.env)
    assert listing.splitlines() == [
        "gateway.toml:2: server.listen = ['127.0.0.1:9000']  <- ${HOST:-127.0.0.1} (default), $PORT",
        "gateway.toml:3: server.root = 'site'  <- ${SITE_ROOT}",
        "gateway.toml:6: route[0].path = '/api/v1/x'  <- ${API_PREFIX:-v1} (default)",
        "gateway.toml:7: route[0].respond.body = ****  <- ${API_TOKEN}",
        "gateway.toml:8: route[0].headers.x-api-key = ****  <- ${UPSTREAM_KEY}",
        "gateway.toml:11: route[1].path = '/plain'  <- ${PAGE}",
        "gateway.toml:12: route[1].respond.json.\"${kept}\" = 'yes'  <- ${IN_JSON}",
    ]
    assert "s3cr3t" not in listing and "k-123" not in listing
    assert render_env(()) == "no config value comes from the environment"


def test_port_overrides_every_listen_port(tmp_path: Path) -> None:
    text = '[server]\nlisten = ["127.0.0.1:8000", "[::1]:8001"]\n'
    config = load(tmp_path, text, {"PORT": "9100"})
    assert config.server.listen == ("127.0.0.1:9100", "[::1]:9100")
    assert load(tmp_path, text, {"PORT": ""}).server.listen == ("127.0.0.1:8000", "[::1]:8001")
    assert port_override(("h:1",), {}) == (("h:1",), None)


def test_a_port_that_is_not_a_port_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigLoadError) as caught:
        load(tmp_path, '[server]\nlisten = ["127.0.0.1:8000"]\n', {"PORT": "80a"})
    assert [str(i) for i in caught.value.issues] == [
        "gateway.toml:2: server.listen: environment variable PORT is '80a', which is not a port: "
        "set it to a number from 0 to 65535, or unset it"
    ]


def test_gateway_config_names_the_default_config() -> None:
    assert default_config_path({}) == "gateway.toml"
    assert default_config_path({"GATEWAY_CONFIG": ""}) == "gateway.toml"
    assert default_config_path({"GATEWAY_CONFIG": "/etc/gw.toml"}) == "/etc/gw.toml"


def test_load_config_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_BODY", "from env")
    monkeypatch.setenv("PORT", "8123")
    path = tmp_path / "gateway.toml"
    path.write_text('[[route]]\npath = "/"\nrespond = { body = "${GW_TEST_BODY}" }\n')
    config = load_config(path)
    assert config.routes[0].respond is not None
    assert config.routes[0].respond.body == b"from env"
    assert config.server.listen == ("127.0.0.1:8123",)
