"""One ACME certificate order with the `acme` library (as certbot does): the account
(registered once, key stored 0600), a new order for the domains, HTTP-01 answered through
the ChallengeResponder, finalization with a CSR. Blocking network calls: run it off the loop."""

from __future__ import annotations

import datetime
import logging

from acme import challenges, client, errors, messages
from acme import crypto_util as acme_crypto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from gateway.tls import issue
from gateway.tls.acme.responder import ChallengeResponder
from gateway.tls.acme.storage import AcmeStore
from gateway.tls.spec import AcmeSpec

log = logging.getLogger("gateway.tls.acme")

USER_AGENT = "gateway-acme"
ORDER_TIMEOUT = datetime.timedelta(seconds=90)


class AcmeIssuer:
    """Gets certificates from the CA at `spec.directory` for `spec.domains`."""

    def __init__(self, spec: AcmeSpec, responder: ChallengeResponder, store: AcmeStore) -> None:
        self.spec = spec
        self.responder = responder
        self.store = store

    def issue(self) -> tuple[bytes, bytes]:
        """A new certificate: (full chain PEM, key PEM). Raises on any failure."""
        acme = self._client()
        key = issue.new_key(self.spec.key_type)
        key_pem = issue.key_pem(key)
        csr = acme_crypto.make_csr(key_pem, list(self.spec.domains))
        order = acme.new_order(csr)
        tokens = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue  # the CA remembers an earlier validation
                challenge = _http01(authz)
                response, validation = challenge.response_and_validation(acme.net.key)
                token = challenge.chall.encode("token")
                self.responder.put(token, validation)
                tokens.append(token)
                acme.answer_challenge(challenge, response)
            deadline = datetime.datetime.now() + ORDER_TIMEOUT
            order = acme.poll_and_finalize(order, deadline)
        finally:
            for token in tokens:
                self.responder.remove(token)
        if not order.fullchain_pem:
            raise errors.Error("the CA finalized the order without a certificate")
        return order.fullchain_pem.encode(), key_pem

    def _client(self) -> client.ClientV2:
        """A client with its account: the stored one, or a new registration."""
        key_pem, _uri = self.store.read_account()
        new_key = key_pem is None
        if key_pem is None:
            key_pem = issue.key_pem(ec.generate_private_key(ec.SECP256R1()))
        private = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        jwk = JWKEC(key=private)
        # requests takes a CA bundle path where acme's type says bool.
        verify: bool = str(self.spec.ca_file) if self.spec.ca_file else True  # type: ignore[assignment]
        net = client.ClientNetwork(jwk, alg=ES256, verify_ssl=verify, user_agent=USER_AGENT)
        directory = client.ClientV2.get_directory(self.spec.directory, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self.spec.email, terms_of_service_agreed=True
        )
        try:
            account = acme.new_account(registration)
            log.info("acme: registered account %s at %s", account.uri, self.spec.directory)
        except errors.ConflictError as existing:  # this key already has an account
            account = acme.query_registration(
                messages.RegistrationResource(uri=existing.location, body=messages.Registration())
            )
        self.store.write_account(key_pem if new_key else None, account.uri)
        return acme


def _http01(authz: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authz.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    name = authz.body.identifier.value
    raise errors.Error(f"the CA offers no http-01 challenge for {name!r}")
