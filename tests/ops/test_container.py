"""The Dockerfile built and run with podman: the image serves the demo site and its health
path, runs as uid 10001 with its HEALTHCHECK kept, and stops on SIGTERM with status 0.
Skipped, saying why, without podman or without a base image (the official slim image cannot
be pulled without a registry: deploy/docker/make-base.sh makes one from the Debian mirror;
GATEWAY_TEST_BASE names another)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import wait_for

REPO = Path(__file__).resolve().parents[2]
LOCAL_BASE = "localhost/gateway-base:bookworm"
OFFICIAL_BASE = "python:3.11-slim"
IMAGE = "localhost/gateway-test:latest"
# Lowering the limits is always allowed; the defaults podman asks for may be above ours.
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


def base_image() -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install podman)")
    wanted = [os.environ.get("GATEWAY_TEST_BASE", ""), OFFICIAL_BASE, LOCAL_BASE]
    for image in filter(None, wanted):
        if podman("image", "exists", image).returncode == 0:
            return image
    pytest.skip(
        f"no base image: {OFFICIAL_BASE} is not pulled (no registry reachable?) and "
        f"{LOCAL_BASE} was not made: run deploy/docker/make-base.sh"
    )


def build(base: str) -> None:
    # The host's pip settings and CA bundle, when it has them, so pip reaches the index
    # the way the host does; --isolation chroot needs no OCI runtime to build.
    mounts = [
        arg
        for path in ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt")
        if os.path.exists(path)
        for arg in ("-v", f"{path}:{path}:ro")
    ]
    result = podman(
        "build", "--isolation", "chroot", "--format", "docker", "--network", "host",
        *mounts, "--build-arg", f"BASE={base}", "--build-arg", "EXTRAS=",
        "-t", IMAGE, str(REPO), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def start(name: str) -> list[str]:
    """Run the image detached; the podman arguments that work here (crun cannot run on a
    hybrid cgroup host: runc can)."""
    tried = []
    for runtime in ([], ["--runtime", "runc"]):
        run = [*runtime, "run", "-d", "--name", name, *LIMITS, "-p", "127.0.0.1::8000", IMAGE]
        result = podman(*run)
        if result.returncode == 0:
            return runtime
        podman("rm", "-f", name)
        tried.append(result.stderr.strip())
    pytest.skip(f"podman cannot run a container here: {' / '.join(tried)}")


def test_the_image_serves_the_demo_and_stops_on_sigterm():
    base = base_image()
    build(base)
    name = f"gateway-test-{os.getpid()}"
    runtime = start(name)
    try:
        port = podman(*runtime, "port", name, "8000").stdout.strip().rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url + "/__gateway/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=30)
        status = httpx.get(url + "/api/status").json()
        assert status["pid"] == 1  # gateway is the container's init: signals reach it
        assert "<html" in httpx.get(url + "/").text.lower()
        inspect = podman(*runtime, "inspect", "--format", "{{.Config.User}}|{{.Config.Healthcheck.Test}}", name)  # fmt: skip
        user, health = inspect.stdout.strip().split("|", 1)
        assert user == "10001:10001"
        assert "/__gateway/health" in health
        assert podman(*runtime, "stop", "-t", "15", name).returncode == 0
        code = podman(*runtime, "inspect", "--format", "{{.State.ExitCode}}", name)
        assert code.stdout.strip() == "0"  # drained on SIGTERM, not killed
        assert "gateway stopped" in podman(*runtime, "logs", name).stderr
    finally:
        podman(*runtime, "rm", "-f", name)
