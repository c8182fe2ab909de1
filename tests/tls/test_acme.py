"""ACME for real against Pebble on loopback: HTTP-01 answered by the responder over HTTP,
a certificate that chains to Pebble's root, stored 0600, renewed at two thirds of its
lifetime (driven by a fake clock), and failures retried while the old certificate serves."""

from __future__ import annotations

import datetime
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("acme", reason="the acme extra (acme, josepy) is not installed")

from cryptography import x509

from gateway.tls.acme.issuer import AcmeIssuer
from gateway.tls.acme.manager import RETRY_FIRST, AcmeManager
from gateway.tls.acme.responder import ChallengeResponder
from gateway.tls.acme.storage import AcmeStore
from gateway.tls.certificates import cert_names, check_pair
from gateway.tls.spec import AcmeSpec
from tests.tls import pebble as pebble_server

pytestmark = pytest.mark.skipif(
    not pebble_server.available(),
    reason="pebble is not installed (Debian: apt-get install pebble)",
)

DOMAIN = "www.gateway.test"


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pebble_server.Pebble]:
    with pebble_server.running_pebble(tmp_path_factory.mktemp("pebble")) as running:
        yield running


@pytest.fixture(scope="module")
def responder(pebble: pebble_server.Pebble) -> Iterator[ChallengeResponder]:
    """The responder served over plain HTTP on Pebble's httpPort (gateway's own plain
    listener does this once wired; a small http.server stands in here)."""
    answers = ChallengeResponder()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answers.answer_path(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", pebble.http_port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield answers
    server.shutdown()
    server.server_close()


def make_manager(
    spec: AcmeSpec, responder: ChallengeResponder, clock: list[float]
) -> tuple[AcmeManager, list[tuple[Path, Path]]]:
    installed: list[tuple[Path, Path]] = []

    def install(cert: Path, key: Path) -> None:
        installed.append((cert, key))
        # Back to real time once a certificate is in: a fake clock left past the old due
        # time could be past the new one too (Pebble's not_before has whole seconds).
        clock[0] = time.time()

    store = AcmeStore.for_directory(spec.storage, spec.directory)
    manager = AcmeManager(spec, AcmeIssuer(spec, responder, store), install, clock=lambda: clock[0])
    return manager, installed


def test_issue_store_renew(
    pebble: pebble_server.Pebble, responder: ChallengeResponder, tmp_path: Path
) -> None:
    spec = AcmeSpec(
        domains=(DOMAIN,),
        email="ops@gateway.test",
        directory=pebble.directory,
        storage=tmp_path / "acme",
        ca_file=pebble.ca_file,
    )
    clock = [time.time()]
    manager, installed = make_manager(spec, responder, clock)
    assert not manager.load_stored()
    assert manager.attempt(), manager.last_error
    assert installed == [(manager.cert_path, manager.key_path)]
    assert len(responder) == 0  # tokens are withdrawn after the order
    # The chain: leaf <- Pebble intermediate <- Pebble root (fetched from its management API).
    chain = x509.load_pem_x509_certificates(manager.cert_path.read_bytes())
    root = x509.load_pem_x509_certificate(pebble.root_pem())
    for cert, issuer in zip(chain, [*chain[1:], root], strict=True):
        cert.verify_directly_issued_by(issuer)
    assert cert_names(chain[0]) == (DOMAIN,)
    assert check_pair(manager.cert_path, manager.key_path, (DOMAIN,)).ok
    assert manager.key_path.stat().st_mode & 0o777 == 0o600
    assert manager.store.account_key.stat().st_mode & 0o777 == 0o600
    assert manager.cert_path.parent.stat().st_mode & 0o777 == 0o700
    first_serial = chain[0].serial_number

    # A restart serves the stored certificate without asking the CA.
    clock[0] = time.time()  # Pebble does not backdate not_before
    again, again_installed = make_manager(spec, responder, clock)
    assert again.load_stored() and again_installed == [(again.cert_path, again.key_path)]

    # Renewal: nothing before two thirds of the lifetime; past it, the thread renews.
    due = manager.renew_due()
    lifetime = chain[0].not_valid_after_utc - chain[0].not_valid_before_utc
    expected_due = chain[0].not_valid_before_utc + lifetime * 2 / 3
    assert abs(due - expected_due.timestamp()) < 1
    manager.start()
    try:
        assert manager.next_attempt() > clock[0] and manager.issued == 1
        clock[0] = due + 1
        manager.wake()
        deadline = time.monotonic() + 20
        while manager.issued < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        manager.stop()
    assert manager.issued == 2, manager.last_error
    renewed = x509.load_pem_x509_certificates(manager.cert_path.read_bytes())[0]
    assert renewed.serial_number != first_serial and len(installed) == 2
    assert manager.renew_due() > due


def test_failure_retries_with_backoff_and_keeps_old(
    pebble: pebble_server.Pebble,
    responder: ChallengeResponder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = f"https://127.0.0.1:{pebble_server.free_port()}/dir"  # nothing listens there
    spec = AcmeSpec(domains=(DOMAIN,), directory=down, storage=tmp_path, ca_file=pebble.ca_file)
    clock = [1_000_000.0]
    manager, installed = make_manager(spec, responder, clock)
    old_chain, old_key = b"old chain", b"old key"
    manager.store.write_certificate(spec.domains, old_chain, old_key)
    assert not manager.attempt()
    assert manager.failures == 1 and manager.retry_at == clock[0] + RETRY_FIRST
    assert not manager.attempt()
    assert manager.retry_at == clock[0] + 2 * RETRY_FIRST
    assert installed == [] and manager.cert_path.read_bytes() == old_chain
    message = caplog.records[-1].getMessage()
    assert f"acme: could not get a certificate for {DOMAIN} from {down}: ConnectionError" in message
    assert "retry 2 in 120s (the current certificate keeps serving)" in message


def test_refused_challenge_is_a_failure(pebble: pebble_server.Pebble, tmp_path: Path) -> None:
    """With nobody answering the challenge (an empty responder not served), the order
    fails and nothing is installed."""
    spec = AcmeSpec(
        domains=("nobody.gateway.test",),
        directory=pebble.directory,
        storage=tmp_path,
        ca_file=pebble.ca_file,
    )
    clock = [datetime.datetime.now().timestamp()]
    unserved = ChallengeResponder()

    class Refusing(ChallengeResponder):
        def put(self, token: str, key_authorization: str) -> None:
            unserved.put(token, "wrong")  # the served responder never learns the token

    manager, installed = make_manager(spec, Refusing(), clock)
    assert not manager.attempt()
    assert installed == [] and manager.failures == 1
    assert manager.last_error is not None
