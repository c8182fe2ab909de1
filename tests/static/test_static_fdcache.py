"""OpenFiles and FdBudget: least-recently-used eviction before the budget is spent, fds of
evicted entries still being sent closed when their response ends, shedding idle fds after
EMFILE, and the mount's answers when open() runs out of fds (retry, else 503; never 404)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from gateway.config.schema import StaticSpec
from gateway.errors import HTTPError
from gateway.static import opener
from gateway.static.fdcache import FdBudget, OpenFiles, budget_for, shared_budget
from gateway.static.files import StaticMount


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def opened(path: Path) -> tuple[int, os.stat_result]:
    fd = os.open(path, os.O_RDONLY)
    return fd, os.fstat(fd)


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    made = []
    for i in range(6):
        path = tmp_path / f"f{i}.txt"
        path.write_text(f"file {i}")
        made.append(path)
    return made


def test_the_budget_is_a_share_of_the_fd_limit() -> None:
    assert budget_for(64) == 16
    assert budget_for(1024) == 256
    assert budget_for(16) == 4
    assert budget_for(4) == 4  # a floor, so a cache still does something
    assert budget_for(1 << 20) == 4096


def test_least_recently_used_is_evicted_before_the_budget_is_passed(paths) -> None:
    budget = FdBudget(3)
    cache = OpenFiles(budget)
    entries = {}
    for path in paths[:3]:
        entry = cache.put(str(path), *opened(path))
        assert entry is not None
        entries[path] = entry
    assert cache.get(str(paths[0])) is entries[paths[0]]  # f0 is now the most recent
    fourth = cache.put(str(paths[3]), *opened(paths[3]))
    assert fourth is not None
    assert budget.held == 3 and len(cache) == 3
    assert cache.get(str(paths[1])) is None  # the least recently used went
    assert not is_open(entries[paths[1]].fd)
    assert cache.get(str(paths[0])) is entries[paths[0]]
    assert cache.get(str(paths[2])) is entries[paths[2]]
    cache.close()
    assert budget.held == 0


def test_an_evicted_file_still_being_sent_closes_when_its_response_ends(paths) -> None:
    budget = FdBudget(1)
    cache = OpenFiles(budget)
    first = cache.put(str(paths[0]), *opened(paths[0]))
    assert first is not None
    release = first.acquire()  # a FileBody in flight
    second = cache.put(str(paths[1]), *opened(paths[1]))
    # The busy entry left the cache but keeps its fd, and counts, until its body is done:
    # so the budget is still spent and the new fd stays the caller's.
    assert second is None
    assert is_open(first.fd) and budget.held == 1
    release()
    assert not is_open(first.fd) and budget.held == 0
    third = cache.put(str(paths[2]), *opened(paths[2]))
    assert third is not None and budget.held == 1
    cache.close()


def test_a_budget_spent_by_another_mount_leaves_the_fd_with_the_caller(paths) -> None:
    budget = FdBudget(2)
    one, two = OpenFiles(budget), OpenFiles(budget)
    assert one.put(str(paths[0]), *opened(paths[0])) is not None
    assert one.put(str(paths[1]), *opened(paths[1])) is not None
    fd, st = opened(paths[2])
    assert two.put(str(paths[2]), fd, st) is None
    assert is_open(fd)
    os.close(fd)
    assert budget.held == 2
    one.close()
    two.close()


def test_shedding_closes_idle_fds_of_every_cache_and_keeps_busy_ones(paths) -> None:
    budget = FdBudget(10)
    one, two = OpenFiles(budget), OpenFiles(budget)
    idle = [one.put(str(paths[0]), *opened(paths[0])), two.put(str(paths[1]), *opened(paths[1]))]
    busy = two.put(str(paths[2]), *opened(paths[2]))
    assert busy is not None and all(idle)
    release = busy.acquire()
    assert budget.shed() == 2
    assert not any(is_open(entry.fd) for entry in idle if entry)
    assert is_open(busy.fd) and budget.held == 1
    assert two.get(str(paths[2])) is busy  # still cached, still served
    release()
    one.close()
    two.close()
    assert budget.held == 0


def test_a_changed_file_is_reopened(paths) -> None:
    cache = OpenFiles(FdBudget(4))
    entry = cache.put(str(paths[0]), *opened(paths[0]))
    assert entry is not None
    paths[0].write_text("changed, and longer")
    assert cache.get(str(paths[0])) is None
    assert not is_open(entry.fd)
    cache.close()


# -- the mount when open() runs out of fds ---------------------------------------------------


class FlakyOpen:
    """os.open that fails with `error` the first `failures` times."""

    def __init__(self, failures: int, error: int = errno.EMFILE) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.real = os.open

    def __call__(self, path: str, flags: int, *args: int) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError(self.error, os.strerror(self.error), path)
        return self.real(path, flags, *args)


@pytest.fixture
def warm(tree: Path, client):
    """A mount whose cache holds about.txt (idle), with its own budget."""
    mount = client.mount(tree)
    mount._opener.files = OpenFiles(FdBudget(8))
    assert client.body(client.ok(mount, "/about.txt")) == b"about us"
    client.close()
    client.responses.clear()
    return mount


@pytest.mark.parametrize("error", [errno.EMFILE, errno.ENFILE])
def test_out_of_fds_sheds_the_cache_and_retries(warm, client, monkeypatch, error) -> None:
    flaky = FlakyOpen(1, error)
    monkeypatch.setattr(opener.os, "open", flaky)
    response = client.ok(warm, "/app.js")
    assert response.status == 200 and client.body(response) == client.JS
    assert flaky.calls == 2
    assert warm._opener.files.budget.held == 1  # about.txt was shed; app.js is cached


def test_out_of_fds_with_nothing_to_shed_is_503_not_404(tree, client, monkeypatch, caplog) -> None:
    mount = client.mount(tree)
    mount._opener.files = OpenFiles(FdBudget(8))
    monkeypatch.setattr(opener.os, "open", FlakyOpen(3))
    for _ in range(3):
        with pytest.raises(HTTPError) as caught:
            client.get(mount, "/about.txt")
        assert caught.value.status == 503
        assert ("retry-after", "1") in caught.value.headers
    assert client.body(client.ok(mount, "/about.txt")) == b"about us"
    # One warning when it starts and one when it ends, not one per request.
    messages = [r.getMessage() for r in caplog.records if r.name == "gateway.static"]
    assert len(messages) == 2, messages
    assert messages[0].startswith("out of file descriptors opening static files: answering 503")
    assert messages[1] == "static files open again after running out of file descriptors"


def test_out_of_fds_again_after_shedding_is_503(warm, client, monkeypatch) -> None:
    monkeypatch.setattr(opener.os, "open", FlakyOpen(2))
    with pytest.raises(HTTPError) as caught:
        client.get(warm, "/app.js")
    assert caught.value.status == 503


def test_out_of_fds_is_503_for_a_folder_too(tree, client, monkeypatch) -> None:
    mount = client.mount(tree)
    mount._opener.files = OpenFiles(FdBudget(8))
    monkeypatch.setattr(opener.os, "open", FlakyOpen(99))
    for path in ("/docs", "/docs/", "/nodir/"):
        with pytest.raises(HTTPError):
            client.get(mount, path)


def test_other_open_errors_are_still_misses(tree, client, monkeypatch) -> None:
    mount = client.mount(tree)
    monkeypatch.setattr(opener.os, "open", FlakyOpen(1, errno.EACCES))
    assert client.get(mount, "/about.txt") is None


def test_the_shared_budget_comes_from_the_fd_limit() -> None:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert shared_budget().limit == budget_for(soft if soft != resource.RLIM_INFINITY else 1 << 20)


def test_a_mount_serves_any_number_of_files_within_its_budget(tmp_path: Path, client) -> None:
    budget = FdBudget(5)
    for i in range(50):
        client.write(tmp_path / "many" / f"f{i}.txt", f"file {i}")
    mount = StaticMount.from_spec(StaticSpec(dir=tmp_path / "many", prefix="/"), fd_budget=budget)
    for round_ in range(2):
        for i in range(50):
            response = client.ok(mount, f"/f{i}.txt")
            assert client.body(response) == f"file {i}".encode(), (round_, i)
            assert budget.held <= 5
            client.close()
    mount.close()
    assert budget.held == 0
