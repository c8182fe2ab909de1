"""The deployment files are checked, not just shipped: the Kubernetes manifests parse and
agree with each other and with the gateway.toml in their ConfigMap; the Dockerfile runs
as non-root with a health check; the systemd units pass systemd-analyze."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.config.load import parse_config
from gateway.config.units import parse_duration
from gateway.metrics import HEALTH, Endpoints

yaml = pytest.importorskip("yaml", reason="PyYAML reads the manifests")

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
OPS_KEYS = ("health", "ready", "metrics", "metrics_allow")


def manifests() -> dict[str, dict]:
    found = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["apiVersion"] and doc["metadata"]["name"], path
            assert doc["kind"] not in found, f"two {doc['kind']} manifests"
            found[doc["kind"]] = doc
    return found


@pytest.fixture(scope="module")
def kube():
    return manifests()


@pytest.fixture(scope="module")
def config(kube):
    return tomllib.loads(kube["ConfigMap"]["data"]["gateway.toml"])


def container(kube):
    (only,) = kube["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_every_kind_is_there(kube):
    assert set(kube) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }


def test_selectors_match_the_pods(kube):
    deployment = kube["Deployment"]["spec"]
    pod_labels = deployment["template"]["metadata"]["labels"]
    for selector in (
        deployment["selector"]["matchLabels"],
        kube["Service"]["spec"]["selector"],
        kube["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    assert deployment["replicas"] >= 2
    assert kube["PodDisruptionBudget"]["spec"]["minAvailable"] < deployment["replicas"]


def test_service_and_probes_use_the_port_gateway_listens_on(kube, config):
    ports = {p["name"]: p["containerPort"] for p in container(kube)["ports"]}
    listen_ports = {int(a.rpartition(":")[2]) for a in config["server"]["listen"]}
    assert set(ports.values()) == listen_ports
    assert all(
        a.startswith("0.0.0.0:") or a.startswith("[::]:") for a in config["server"]["listen"]
    )
    assert kube["Service"]["spec"]["ports"][0]["targetPort"] in ports
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(kube)[probe]["httpGet"]["port"] in ports


def test_probes_point_at_the_configured_paths(kube, config):
    server = config["server"]
    c = container(kube)
    assert c["readinessProbe"]["httpGet"]["path"] == server["ready"]
    assert c["livenessProbe"]["httpGet"]["path"] == server["health"]
    annotations = kube["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == server["metrics"]
    ops = Endpoints(server["metrics"], server["metrics_allow"], server["health"], server["ready"])
    assert ops.allow("10.1.2.3"), "the pod network must be allowed to scrape"


def test_grace_period_covers_the_pre_stop_sleep_and_the_drain(kube, config):
    spec = kube["Deployment"]["spec"]["template"]["spec"]
    pre_stop = container(kube)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    shutdown = parse_duration(config["server"]["timeouts"]["shutdown"])
    assert spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + shutdown


def test_the_config_is_mounted_as_a_directory_so_updates_arrive(kube):
    c = container(kube)
    args = c["args"]
    config_path = Path(args[args.index("--config") + 1])
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "config"]
    assert "subPath" not in mount, "subPath mounts never see ConfigMap updates"
    assert Path(mount["mountPath"]) == config_path.parent
    (volume,) = [
        v
        for v in kube["Deployment"]["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "config"
    ]
    assert volume["configMap"]["name"] == kube["ConfigMap"]["metadata"]["name"]
    assert config_path.name in kube["ConfigMap"]["data"]


def test_the_autoscaler_scales_the_deployment_on_requested_cpu(kube):
    hpa = kube["HorizontalPodAutoscaler"]["spec"]
    target = hpa["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        kube["Deployment"]["metadata"]["name"],
    )
    assert hpa["minReplicas"] <= kube["Deployment"]["spec"]["replicas"] <= hpa["maxReplicas"]
    assert container(kube)["resources"]["requests"]["cpu"]


def test_the_configmap_config_builds(kube, config, tmp_path):
    """Built with the demo site as its root (the image's /srv/site). The operations keys
    are set aside until the config loader knows them."""
    text = kube["ConfigMap"]["data"]["gateway.toml"]
    text = text.replace('root = "/srv/site"', f'root = "{REPO / "sites" / "demo"}"')
    text = "\n".join(
        line for line in text.splitlines() if line.split("=")[0].strip() not in OPS_KEYS
    )
    build_app(parse_config(text, tmp_path / "gateway.toml")).close()


# -- Dockerfile -----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_runs_non_root_with_sigterm_and_a_health_check():
    steps = dockerfile()
    froms = [args for op, args in steps if op == "FROM"]
    assert all(f.startswith("${BASE}") for f in froms)  # the official slim image by default
    assert ("ARG", "BASE=python:3.11-slim") in steps[: steps.index(("FROM", froms[0]))]
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("STOPSIGNAL", "SIGTERM") in final
    (health,) = [args for op, args in final if op == "HEALTHCHECK"]
    assert "curl" not in health and '"python3"' in health
    image_config = tomllib.loads((REPO / "deploy" / "docker" / "gateway.toml").read_text())
    path = image_config["server"].get("health", HEALTH)
    port = image_config["server"]["listen"][0].rpartition(":")[2]
    assert f"http://127.0.0.1:{port}{path}" in health
    assert ("EXPOSE", port) in final
    entry = [args for op, args in final if op == "ENTRYPOINT"]
    assert entry == ['["gateway", "serve"]']
    timeout = parse_duration(image_config["server"]["timeouts"]["shutdown"])
    assert timeout < 10, "docker stop sends SIGKILL after 10 s"


def test_the_image_installs_extras_that_exist():
    (arg,) = [args for op, args in dockerfile() if op == "ARG" and args.startswith("EXTRAS=")]
    extras = arg.partition("=")[2].strip('"').split(",")
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(extras) <= set(declared["optional-dependencies"])


def test_dockerignore_keeps_the_venv_and_git_out():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests"} <= ignored
    for op, args in dockerfile():
        if op == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert source not in ignored and (REPO / source).exists(), source


def test_the_image_config_builds():
    build_app(
        parse_config(
            (REPO / "deploy/docker/gateway.toml")
            .read_text()
            .replace('root = "."', f'root = "{REPO / "sites" / "demo"}"'),
            REPO / "deploy/docker/gateway.toml",
        )
    ).close()


# -- systemd --------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (REPO / "deploy" / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_units_activate_by_socket_and_outwait_the_drain():
    socket_unit, service = unit("gateway.socket"), unit("gateway.service")
    assert socket_unit["ListenStream"]
    assert service["Requires"] == ["gateway.socket"]
    assert "gateway serve" in service["ExecStart"][0]
    assert service["KillMode"] == ["mixed"]
    # `systemctl reload` is SIGHUP, which re-reads the config (tests/ops/test_signals.py).
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert parse_duration(service["TimeoutStopSec"][0] + "s") > 10  # timeouts.shutdown default


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path):
    gateway_bin = shutil.which("gateway") or str(
        Path(__import__("sys").executable).parent / "gateway"
    )
    for name in ("gateway.socket", "gateway.service"):
        text = (REPO / "deploy" / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/srv/site/.venv/bin/gateway", gateway_bin))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "gateway.socket", "gateway.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
