"""Pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv (its fake DNS, answering
127.0.0.1 for every name) started on loopback ports for one test module, with an HTTPS
certificate from a scratch CA the test trusts. Stopped by pid when the module ends."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.tls.certs import ScratchCA


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Pebble:
    directory: str
    ca_file: Path  # trust this for the directory's HTTPS
    management: str
    http_port: int  # where Pebble's VA connects for HTTP-01

    def root_pem(self) -> bytes:
        """The root that issued certificates chain to (fresh at every Pebble start)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(f"{self.management}/roots/0", context=context) as reply:
            return bytes(reply.read())


def available() -> bool:
    return bool(shutil.which("pebble") and shutil.which("pebble-challtestsrv"))


@contextmanager
def running_pebble(folder: Path, cert_validity: int | None = None) -> Iterator[Pebble]:
    ca = ScratchCA(folder, "pebble https CA")
    pair = ca.leaf("pebble-https", ["localhost", "127.0.0.1"])
    ports = {name: free_port() for name in ("acme", "mgmt", "http", "tls", "dns", "dnsmgmt")}
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{ports['acme']}",
            "managementListenAddress": f"127.0.0.1:{ports['mgmt']}",
            "certificate": str(pair.cert),
            "privateKey": str(pair.key),
            "httpPort": ports["http"],
            "tlsPort": ports["tls"],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    if cert_validity is not None:
        config["pebble"]["certificateValidityPeriod"] = cert_validity
    (folder / "pebble.json").write_text(json.dumps(config))
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{ports['dns']}", "-http01", "",
         "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{ports['dnsmgmt']}",
         "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with open(folder / "pebble.log", "wb") as log:  # Popen keeps its own copy of the fd
        pebble = subprocess.Popen(
            ["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{ports['dns']}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        running = Pebble(
            f"https://127.0.0.1:{ports['acme']}/dir",
            ca.path,
            f"https://127.0.0.1:{ports['mgmt']}",
            ports["http"],
        )
        wait_for(running.directory, ca.path, pebble)
        yield running
    finally:
        for process in (pebble, dns):
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(url: str, ca_file: Path, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pebble exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pebble did not answer at {url} within 10s")
