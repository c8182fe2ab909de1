"""Where ACME state lives under `storage`: one folder per CA directory (so staging and
production never mix), holding the account key and URL, and one folder per certificate with
its full chain and key. Keys and folders are private (0600 / 0700)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gateway.tls.files import private_dir, read_private, write_atomic


@dataclass(frozen=True)
class AcmeStore:
    root: Path  # <storage>/<directory host and path>

    @classmethod
    def for_directory(cls, storage: Path, directory: str) -> AcmeStore:
        parts = urlsplit(directory)
        name = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{parts.netloc}{parts.path}").strip("-")
        return cls(storage / (name or "directory"))

    @property
    def account_key(self) -> Path:
        return self.root / "account.key"

    @property
    def account_json(self) -> Path:
        return self.root / "account.json"

    def cert_paths(self, domains: tuple[str, ...]) -> tuple[Path, Path]:
        folder = self.root / "certificates" / domains[0]
        return folder / "fullchain.pem", folder / "key.pem"

    def read_account(self) -> tuple[bytes | None, str | None]:
        """The account key PEM and URL, when stored."""
        key = read_private(self.account_key) if self.account_key.exists() else None
        uri = None
        if self.account_json.exists():
            uri = json.loads(self.account_json.read_text()).get("uri")
        return key, uri

    def write_account(self, key_pem: bytes | None, uri: str) -> None:
        private_dir(self.root)
        if key_pem is not None:
            write_atomic(self.account_key, key_pem)
        write_atomic(self.account_json, json.dumps({"uri": uri}).encode())

    def write_certificate(self, domains: tuple[str, ...], chain_pem: bytes, key_pem: bytes) -> None:
        cert, key = self.cert_paths(domains)
        private_dir(cert.parent)
        # The key first: a crash between the two leaves a new key with the old cert, which
        # fails the key check and is reissued, rather than a new cert with an old key.
        write_atomic(key, key_pem)
        write_atomic(cert, chain_pem, mode=0o644)
