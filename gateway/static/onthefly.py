"""Compressed variants made on the fly for one mount: which files qualify (a compressible
type, no `no-transform`, a size between the policy's minimum and the cache's maximum), which
coding a request gets, and the variant to send, built once per file version off the loop."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gateway.compress.policy import Policy, negotiate
from gateway.compress.variants import Variant, VariantCache, version_key
from gateway.http.headers import Headers
from gateway.request import Request
from gateway.response import FileBody
from gateway.static.opener import Opener

# Takes a job, runs it later on another thread; False when it refuses (a full pool).
Schedule = Callable[[Callable[[], None]], Any]

_MAX_MEMO = 4096
_RANGE = frozenset(("range",))


class OnTheFly:
    """A mount's on-the-fly compression: `policy` decides, `variants` keeps what was made,
    `schedule` runs the builds (None: build in the serving thread, for tests and tools)."""

    __slots__ = ("_chosen", "_offered", "_types", "policy", "schedule", "variants")

    def __init__(self, policy: Policy, variants: VariantCache, schedule: Schedule | None) -> None:
        self.policy = policy
        self.variants = variants
        self.schedule = schedule
        self._types: dict[str, bool] = {}
        self._offered = policy.offered  # the installed codings, asked once
        # Accept-Encoding value -> coding: browsers send a handful of distinct values.
        self._chosen: dict[str | None, str | None] = {}

    def eligible(self, rel: str, size: int, describe: Callable[[str], tuple[str, str]]) -> bool:
        """Whether file `rel` of `size` bytes depends on Accept-Encoding (and so carries Vary
        on every response, whichever coding it gets). `describe(rel)` gives the Content-Type
        and Cache-Control it is served with; both are fixed per mount, so kept per name."""
        if not self.policy.min_size <= size <= self.variants.max_file_bytes:
            return False
        known = self._types.get(rel)
        if known is None:
            content_type, control = describe(rel)
            known = self.policy.compressible(content_type) and not _no_transform(control)
            if len(self._types) >= _MAX_MEMO:
                self._types.clear()  # bounded: clients choose these names
            self._types[rel] = known
        return known

    def choose(self, request_headers: Headers, method: str) -> str | None:
        """The coding this request gets, or None: identity for a ranged GET (ranges are
        served over the identity bytes) or when the client accepts none we offer."""
        if method == "GET" and request_headers.has_any(_RANGE):
            return None
        values = request_headers.get_all("accept-encoding")
        accept = ", ".join(values) if values else None
        chosen = self._chosen.get(accept, "")
        if chosen == "":
            chosen = negotiate(accept, self._offered) if self._offered else None
            if len(self._chosen) >= _MAX_MEMO:
                self._chosen.clear()  # bounded: clients choose these values
            self._chosen[accept] = chosen
        return chosen

    def variant(self, path: str, st: os.stat_result, coding: str) -> Variant | None:
        """The variant of `path` at the version `st` describes, if made; else schedule its
        build (at most once per version) and answer None so this request goes identity."""
        key = version_key(path, st)
        if self.schedule is None:
            try:
                return self.variants.lookup(key, coding) or self.variants.build(path, key, coding)
            except OSError:  # the cache's disk is full or gone: this file goes as stored
                return None
        return self.variants.get_or_schedule(path, key, coding, self._submit)

    def _submit(self, job: Callable[[], None]) -> Any:
        assert self.schedule is not None
        try:
            return self.schedule(job)
        except RuntimeError:  # an executor already shut down (the app is being replaced)
            return False

    def open(
        self,
        request: Request,
        path: str,
        rel: str,
        st: os.stat_result,
        opener: Opener,
        describe: Callable[[str], tuple[str, str]],
    ) -> tuple[FileBody | None, str, bool]:
        """For the file at `path` (`rel` under the dir, fstat `st`): the open variant this
        request gets (None: serve the file as stored), its coding, and whether the file
        qualifies at all (then every response for it carries Vary). No variant but a coding
        means one is owed and not made yet (a client may hold it from before a restart)."""
        if not self.eligible(rel, st.st_size, describe):
            return None, "", False
        coding = self.choose(request.headers, request.method)
        if coding is None:
            return None, "", True
        variant = self.variant(path, st, coding)
        if variant is None:
            undecided = not self.variants.known(version_key(path, st), coding)
            return None, coding if undecided else "", True
        opened = opener.open_made(variant.path, variant.size)
        if opened is None:
            self.lost(path, st, variant)
            return None, coding, True
        return opened[0], variant.coding, True

    def lost(self, path: str, st: os.stat_result, variant: Variant) -> None:
        """The variant's file could not be opened: forget it if it is gone, so it is made
        again (another worker sharing the directory may have evicted it)."""
        if not os.path.exists(variant.path):
            self.variants.discard(version_key(path, st), variant.coding)


def _no_transform(control: str) -> bool:
    # RFC 9111 §5.2.2.6: the sender asked that no one change the representation.
    return any(token.strip().lower() == "no-transform" for token in control.split(","))
