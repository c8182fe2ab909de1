"""Test certificates: a throwaway CA and leaves written as PEM files (key 0600)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.tls import issue


@dataclass
class Pair:
    cert: Path
    key: Path
    ca: Path


class ScratchCA:
    def __init__(self, folder: Path, name: str = "test CA") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = issue.new_key()
        self.cert = issue.make_ca(name, self.key)
        self.path = folder / f"{name.replace(' ', '-')}.pem"
        self.path.write_bytes(issue.cert_pem(self.cert))

    def leaf(
        self,
        stem: str,
        names: list[str],
        *,
        days: float = 90,
        start: datetime.datetime | None = None,
        with_ca: bool = False,
    ) -> Pair:
        now = datetime.datetime.now(datetime.UTC)
        key = issue.new_key()
        start = start or now - datetime.timedelta(hours=1)
        leaf = issue.issue_leaf(
            names, key, self.cert, self.key, start, now + datetime.timedelta(days=days)
        )
        cert_path = self.folder / f"{stem}.pem"
        key_path = self.folder / f"{stem}.key"
        chain = (leaf, self.cert) if with_ca else (leaf,)
        cert_path.write_bytes(issue.cert_pem(*chain))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(issue.key_pem(key))
        return Pair(cert_path, key_path, self.path)
