"""HTTP-01 challenge answers: the issuer puts a token's key authorization here while the CA
validates, and the plain-HTTP side of the gateway answers /.well-known/acme-challenge/TOKEN
from it. No acme import here: the app consults it whether or not the extra is installed."""

from __future__ import annotations

import re
import threading

PREFIX = "/.well-known/acme-challenge/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # base64url, RFC 8555 section 8.3


class ChallengeResponder:
    """Tokens to key authorizations, shared between the issuer thread and the loop."""

    def __init__(self) -> None:
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()  # dict ops are atomic, but put/remove come in pairs

    def put(self, token: str, key_authorization: str) -> None:
        with self._lock:
            self._answers[token] = key_authorization.encode("ascii")

    def remove(self, token: str) -> None:
        with self._lock:
            self._answers.pop(token, None)

    def answer(self, token: str) -> bytes | None:
        """The body for `token` (to send as 200 text/plain), or None (404)."""
        if not _TOKEN.fullmatch(token):
            return None
        return self._answers.get(token)

    def answer_path(self, path: str) -> bytes | None:
        """Like answer, for a request path; None for paths outside the challenge folder."""
        if not path.startswith(PREFIX):
            return None
        return self.answer(path[len(PREFIX) :])

    def __len__(self) -> int:
        return len(self._answers)
