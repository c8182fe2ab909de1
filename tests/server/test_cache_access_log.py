"""With a common or combined access log the response cache stays on, and each answer it
sends is logged with the line the long way writes (AccessLog.hit); a json log, whose lines
carry each request's id, keeps the cache off."""

from __future__ import annotations

import re

from tests.server.test_response_cache import COUNT, HEAD, SITE
from tests.support import ResponseReader, connect, wait_for


def _serve(site, tmp_path, fmt: str):
    log = tmp_path / "access.log"
    config = SITE.replace(
        'access_log = "off"', f'access_log = {{ format = "{fmt}", path = "{log}" }}'
    )
    return site(config, {"public/a.txt": "x", "count.py": COUNT}), log


def _ask(running, path: bytes, times: int) -> None:
    with connect(running.port) as sock:
        reader = ResponseReader(sock)
        for _ in range(times):
            sock.sendall(HEAD.replace(b"%s", path))
            assert reader.read().status == 200


def test_a_combined_log_keeps_the_cache_and_logs_every_hit(site, tmp_path):
    running, log = _serve(site, tmp_path, "combined")
    _ask(running, b"/a.txt", 4)
    _ask(running, b"/fixed", 2)
    assert running.server.ctx.responses.hits >= 2
    line = r'127\.0\.0\.1 - - \[[^]]+\] "GET %s HTTP/1\.1" 200 %d "-" "t"'
    wait_for(lambda: len(log.read_text().splitlines()) == 6, timeout=5)
    lines = log.read_text().splitlines()
    assert all(re.fullmatch(line % ("/a.txt", 1), text) for text in lines[:4]), lines
    assert all(re.fullmatch(line % ("/fixed", 13), text) for text in lines[4:]), lines


def test_a_json_log_keeps_the_cache_off(site, tmp_path):
    running, log = _serve(site, tmp_path, "json")
    _ask(running, b"/a.txt", 3)
    assert running.server.ctx.responses.hits == 0
    wait_for(lambda: len(log.read_text().splitlines()) == 3, timeout=5)
