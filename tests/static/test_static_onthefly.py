"""On-the-fly compressed variants on a mount: the first request for a file version schedules
one build and goes identity, later ones get the variant as a FileBody (sendfile) with its own
ETag and length; Vary everywhere it matters; an edit, replace, truncate or delete never lets
an old variant out; ranges, tiny files, other types and no-transform stay identity."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.compress import Policy, VariantCache, decompress_body
from gateway.config.schema import CacheRuleSpec, StaticSpec
from gateway.response import FileBody, Response
from gateway.static.fdcache import FdBudget
from gateway.static.files import StaticMount

HTML = b"".join(b"<p>paragraph %d of the page, with some words</p>\n" % i for i in range(400))
GZ = {"accept-encoding": "gzip"}


class Jobs:
    """A fake pool: `submit` keeps the job; run() runs them all here, as a pool thread would."""

    def __init__(self, refuse: bool = False) -> None:
        self.pending: list[Callable[[], None]] = []
        self.refuse = refuse
        self.submitted = 0

    def submit(self, job: Callable[[], None]) -> bool:
        if self.refuse:
            return False
        self.submitted += 1
        self.pending.append(job)
        return True

    def run(self) -> int:
        jobs, self.pending = self.pending, []
        for job in jobs:
            job()
        return len(jobs)


@pytest.fixture
def variants() -> Iterator[VariantCache]:
    cache = VariantCache()
    yield cache
    cache.close()


@pytest.fixture
def site(tmp_path: Path, client: Any) -> Path:
    root = tmp_path / "public"
    client.write(root / "page.html", HTML)
    client.write(root / "tiny.html", b"<p>hi</p>")
    client.write(root / "photo.png", HTML)  # compressible bytes, but not a compressible type
    client.write(root / "raw.txt", HTML)
    return root


def make(
    client: Any, root: Path, variants: VariantCache, jobs: Jobs | None, **options: Any
) -> StaticMount:
    kw: dict[str, Any] = {
        key: options.pop(key) for key in ("default_cache_control", "fd_budget") if key in options
    }
    policy = options.pop("policy", Policy(codings=("gzip",)))
    mount = StaticMount.from_spec(
        StaticSpec(prefix="/", dir=root, **options),
        compress=policy,
        variants=variants,
        schedule=None if jobs is None else jobs.submit,
        **kw,
    )
    client.mounts.append(mount)
    return mount


def header(response: Response, name: str) -> str | None:
    return response.get_header(name)


def fd_path(body: FileBody) -> str:
    return os.readlink(f"/proc/self/fd/{body.fd}")


def identity_etag(root: Path, name: str) -> str:
    st = os.stat(root / name)
    return f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'


def test_first_request_identity_then_the_variant_by_sendfile(
    client: Any, site: Path, variants: VariantCache
) -> None:
    jobs = Jobs()
    mount = make(client, site, variants, jobs)
    first = client.ok(mount, "/page.html", GZ)
    assert first.status == 200 and header(first, "content-encoding") is None
    assert header(first, "vary") == "accept-encoding"
    assert header(first, "etag") == identity_etag(site, "page.html")
    assert client.body(first) == HTML
    assert client.ok(mount, "/page.html", GZ).get_header("content-encoding") is None
    assert jobs.submitted == 1  # scheduled once per version, not once per request
    assert jobs.run() == 1

    second = client.ok(mount, "/page.html", GZ)
    assert second.status == 200
    assert header(second, "content-encoding") == "gzip"
    assert header(second, "vary") == "accept-encoding"
    assert header(second, "etag") == identity_etag(site, "page.html")[:-1] + '-gzip"'
    assert header(second, "accept-ranges") is None
    body = second.body
    assert isinstance(body, FileBody)  # sent with sendfile, like a precompressed file
    assert os.path.dirname(fd_path(body)) == os.path.realpath(variants.directory)
    assert body.offset == 0 and body.length == os.fstat(body.fd).st_size < len(HTML) // 5
    assert decompress_body("gzip", client.body(second)) == HTML
    assert variants.builds == 1


def test_not_modified_with_the_coded_etag_keeps_vary(
    client: Any, site: Path, variants: VariantCache
) -> None:
    mount = make(client, site, variants, None)  # no pool: built in the serving thread
    coded = client.ok(mount, "/page.html", GZ)
    etag = header(coded, "etag")
    assert header(coded, "content-encoding") == "gzip" and etag is not None
    again = client.ok(mount, "/page.html", {**GZ, "if-none-match": etag})
    assert again.status == 304 and again.body == b""
    assert header(again, "etag") == etag and header(again, "vary") == "accept-encoding"
    # The coded tag does not match the identity representation a client without gzip gets.
    plain = client.ok(mount, "/page.html", {"if-none-match": etag})
    assert plain.status == 200 and header(plain, "content-encoding") is None
    assert header(plain, "vary") == "accept-encoding"
    plain_etag = header(plain, "etag")
    assert plain_etag is not None
    assert client.ok(mount, "/page.html", {**GZ, "if-none-match": plain_etag}).status == 200


def test_head_gets_the_variant_headers(client: Any, site: Path, variants: VariantCache) -> None:
    mount = make(client, site, variants, None)
    get = client.ok(mount, "/page.html", GZ)
    head = client.ok(mount, "/page.html", GZ, method="HEAD")
    assert header(head, "content-encoding") == "gzip"
    assert header(head, "etag") == header(get, "etag")
    assert isinstance(head.body, FileBody) and head.body.length == get.body.length


def test_a_ranged_request_gets_identity_with_vary(
    client: Any, site: Path, variants: VariantCache
) -> None:
    mount = make(client, site, variants, None)
    client.ok(mount, "/page.html", GZ)
    ranged = client.ok(mount, "/page.html", {**GZ, "range": "bytes=0-99"})
    assert ranged.status == 206 and header(ranged, "content-encoding") is None
    assert header(ranged, "vary") == "accept-encoding"
    assert client.body(ranged) == HTML[:100]


@pytest.mark.parametrize(
    ("path", "headers", "why"),
    [
        ("/tiny.html", GZ, "under min_size"),
        ("/photo.png", GZ, "not a compressible type"),
        ("/page.html", {}, "no accept-encoding"),
        ("/page.html", {"accept-encoding": "gzip;q=0, br"}, "gzip refused, br not offered"),
    ],
)
def test_identity_when_not_wanted_or_not_worth_it(
    client: Any, site: Path, variants: VariantCache, path: str, headers: Any, why: str
) -> None:
    mount = make(client, site, variants, None)
    for _ in range(2):
        response = client.ok(mount, path, headers)
        assert header(response, "content-encoding") is None, why
        assert client.body(response) == (site / path[1:]).read_bytes()
    assert variants.builds == 0
    eligible = path == "/page.html"
    assert (header(response, "vary") == "accept-encoding") is eligible, why


def test_no_transform_in_the_cache_rule_means_no_compression(
    client: Any, site: Path, variants: VariantCache
) -> None:
    rules = (CacheRuleSpec(match="*.html", control="public, no-transform"),)
    mount = make(client, site, variants, None, cache=rules)
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") is None and header(response, "vary") is None
    assert variants.builds == 0


def test_an_accepted_precompressed_sibling_wins(
    client: Any, site: Path, variants: VariantCache
) -> None:
    client.write(site / "page.html.br", b"made by the build")
    policy = Policy(codings=("gzip",))
    mount = make(client, site, variants, None, precompressed=("br",), policy=policy)
    sibling = client.ok(mount, "/page.html", {"accept-encoding": "br, gzip"})
    assert header(sibling, "content-encoding") == "br"
    assert client.body(sibling) == b"made by the build"
    made = client.ok(mount, "/page.html", GZ)  # the sibling is not accepted: made on the fly
    assert header(made, "content-encoding") == "gzip"
    assert decompress_body("gzip", client.body(made)) == HTML
    assert header(made, "etag") != header(sibling, "etag")
    assert header(made, "vary") == header(sibling, "vary") == "accept-encoding"


def _changed(site: Path, client: Any, how: str) -> bytes | None:
    path = site / "page.html"
    if how == "edited":  # same size, new bytes and mtime, same inode
        new = HTML.replace(b"paragraph 1 ", b"PARAGRAPH 1 ")
        with open(path, "r+b") as f:
            f.write(new)
        os.utime(path, (client.MTIME + 60, client.MTIME + 60))
        return new
    if how == "replaced":  # a deploy: a new file renamed over, same size and mtime
        new = HTML.replace(b"paragraph 2 ", b"PARAGRAPH 2 ")
        client.write(site / "next.html", new)
        os.replace(site / "next.html", path)
        return new
    if how == "truncated":
        new = HTML[: len(HTML) // 2]
        os.truncate(path, len(new))
        return new
    path.unlink()
    return None


@pytest.mark.parametrize("how", ["edited", "replaced", "truncated", "deleted"])
def test_a_changed_file_never_gets_its_old_variant(
    client: Any, site: Path, variants: VariantCache, how: str
) -> None:
    jobs = Jobs()
    mount = make(client, site, variants, jobs)
    client.ok(mount, "/page.html", GZ)
    jobs.run()
    old = client.ok(mount, "/page.html", GZ)
    assert header(old, "content-encoding") == "gzip"
    new = _changed(site, client, how)
    after = client.get(mount, "/page.html", GZ)
    if new is None:
        assert after is None  # a miss: the app answers 404
        return
    assert after is not None
    assert header(after, "content-encoding") is None  # the new version is not made yet
    assert client.body(after) == new and header(after, "etag") != header(old, "etag")
    assert jobs.run() == 1
    made = client.ok(mount, "/page.html", GZ)
    assert header(made, "content-encoding") == "gzip"
    assert decompress_body("gzip", client.body(made)) == new
    assert header(made, "etag") == identity_etag(site, "page.html")[:-1] + '-gzip"'
    # The response already holding the old variant still decodes to the old bytes.
    assert decompress_body("gzip", client.body(old)) == HTML


def test_dev_mode_sees_an_edit_and_revalidates_with_the_coded_tag(
    client: Any, site: Path, variants: VariantCache
) -> None:
    mount = make(client, site, variants, None, default_cache_control="no-cache")
    first = client.ok(mount, "/page.html", GZ)
    assert header(first, "content-encoding") == "gzip"
    assert header(first, "cache-control") == "no-cache"
    tag = header(first, "etag")
    assert client.ok(mount, "/page.html", {**GZ, "if-none-match": tag}).status == 304
    new = _changed(site, client, "edited")
    edited = client.ok(mount, "/page.html", {**GZ, "if-none-match": tag})
    assert edited.status == 200 and header(edited, "content-encoding") == "gzip"
    assert decompress_body("gzip", client.body(edited)) == new


def test_a_refused_build_is_scheduled_again(
    client: Any, site: Path, variants: VariantCache
) -> None:
    jobs = Jobs(refuse=True)
    mount = make(client, site, variants, jobs)
    assert client.ok(mount, "/page.html", GZ).get_header("content-encoding") is None
    jobs.refuse = False
    assert client.ok(mount, "/page.html", GZ).get_header("content-encoding") is None
    assert jobs.run() == 1
    assert client.ok(mount, "/page.html", GZ).get_header("content-encoding") == "gzip"


def test_a_variant_removed_from_disk_is_made_again(
    client: Any, site: Path, variants: VariantCache
) -> None:
    jobs = Jobs()
    mount = make(client, site, variants, jobs)
    client.ok(mount, "/page.html", GZ)
    jobs.run()
    for name in os.listdir(variants.directory):  # another worker sharing the folder evicted it
        os.unlink(os.path.join(variants.directory, name))
    lost = client.ok(mount, "/page.html", GZ)
    assert header(lost, "content-encoding") is None and client.body(lost) == HTML
    client.ok(mount, "/page.html", GZ)
    assert jobs.run() == 1
    again = client.ok(mount, "/page.html", GZ)
    assert decompress_body("gzip", client.body(again)) == HTML


def test_variant_fds_count_against_the_budget(
    client: Any, site: Path, variants: VariantCache
) -> None:
    budget = FdBudget(8)
    mount = make(client, site, variants, None, fd_budget=budget)
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") == "gzip"
    assert budget.held == 2  # page.html and its variant, both cached
    client.close()
    mount.close()
    assert budget.held == 0


@pytest.mark.parametrize(("coding", "module"), [("br", "brotli"), ("zstd", "zstandard")])
def test_br_and_zstd(
    client: Any, site: Path, variants: VariantCache, coding: str, module: str
) -> None:
    pytest.importorskip(module, reason=f"{coding} needs the {module} package")
    mount = make(client, site, variants, None, policy=Policy(codings=(coding, "gzip")))
    response = client.ok(mount, "/page.html", {"accept-encoding": f"gzip, {coding}"})
    assert header(response, "content-encoding") == coding
    assert header(response, "etag").endswith(f'-{coding}"')  # type: ignore[union-attr]
    assert isinstance(response.body, FileBody)
    assert decompress_body(coding, client.body(response)) == HTML
    gz = client.ok(mount, "/page.html", {"accept-encoding": "gzip"})
    assert header(gz, "content-encoding") == "gzip"


def test_off_without_a_policy_or_a_cache(client: Any, site: Path) -> None:
    mount = StaticMount.from_spec(StaticSpec(prefix="/", dir=site), compress=Policy())
    client.mounts.append(mount)
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") is None and header(response, "vary") is None


def test_built_on_a_real_thread_pool(client: Any, site: Path, variants: VariantCache) -> None:
    """What the app wires: a one-thread executor's submit as `schedule`."""
    from concurrent.futures import ThreadPoolExecutor

    builder = ThreadPoolExecutor(1, thread_name_prefix="gateway-variants")
    mount = StaticMount.from_spec(
        StaticSpec(prefix="/", dir=site),
        compress=Policy(codings=("gzip",)),
        variants=variants,
        schedule=builder.submit,
    )
    client.mounts.append(mount)
    assert client.ok(mount, "/page.html", GZ).get_header("content-encoding") is None
    builder.shutdown(wait=True)  # the build has finished
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") == "gzip"
    assert decompress_body("gzip", client.body(response)) == HTML


def test_an_incompressible_file_is_tried_once(
    client: Any, site: Path, variants: VariantCache
) -> None:
    noise = os.urandom(64 * 1024)  # text by its name, random by its bytes
    client.write(site / "noise.txt", noise)
    jobs = Jobs()
    mount = make(client, site, variants, jobs)
    client.ok(mount, "/noise.txt", GZ)
    assert jobs.run() == 1 and variants.builds == 1
    for _ in range(2):
        response = client.ok(mount, "/noise.txt", GZ)
        assert header(response, "content-encoding") is None
        assert header(response, "vary") == "accept-encoding"  # stays as it was announced
        assert client.body(response) == noise
    assert jobs.submitted == 1


def test_a_shut_down_builder_leaves_the_file_as_stored(
    client: Any, site: Path, variants: VariantCache
) -> None:
    """A request on an app being replaced, whose executor is already shut down."""
    from concurrent.futures import ThreadPoolExecutor

    builder = ThreadPoolExecutor(1)
    builder.shutdown()
    jobs = Jobs()
    schedule = builder.submit
    mount = make(client, site, variants, None)
    assert mount._onthefly is not None
    mount._onthefly.schedule = schedule
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") is None and client.body(response) == HTML
    mount._onthefly.schedule = jobs.submit  # not stuck as "scheduled": the next one tries
    client.ok(mount, "/page.html", GZ)
    assert jobs.run() == 1


def test_a_tag_from_before_a_restart_still_gets_304(client: Any, site: Path) -> None:
    before = VariantCache()
    try:
        tag = client.ok(make(client, site, before, None), "/page.html", GZ).get_header("etag")
    finally:
        before.close()
    after = VariantCache()  # a new process: nothing made yet
    try:
        jobs = Jobs()
        mount = make(client, site, after, jobs)
        held = client.ok(mount, "/page.html", {**GZ, "if-none-match": tag})
        assert held.status == 304 and header(held, "etag") == tag
        assert header(held, "vary") == "accept-encoding"
        # Without the tag, or for another coding, the file goes as stored meanwhile.
        fresh = client.ok(mount, "/page.html", GZ)
        assert fresh.status == 200 and header(fresh, "content-encoding") is None
        assert header(fresh, "etag") == identity_etag(site, "page.html")
        stale = client.ok(mount, "/page.html", {**GZ, "if-none-match": '"other-gzip"'})
        assert stale.status == 200 and client.body(stale) == HTML
        # An edit makes the held tag stale: the new version is sent.
        new = _changed(site, client, "edited")
        edited = client.ok(mount, "/page.html", {**GZ, "if-none-match": tag})
        assert edited.status == 200 and client.body(edited) == new
    finally:
        after.close()


def test_no_304_under_a_coded_tag_for_a_file_that_does_not_compress(
    client: Any, site: Path, variants: VariantCache
) -> None:
    noise = os.urandom(64 * 1024)
    client.write(site / "noise.txt", noise)
    mount = make(client, site, variants, None)
    client.ok(mount, "/noise.txt", GZ)  # built: not worth it
    coded = identity_etag(site, "noise.txt")[:-1] + '-gzip"'
    response = client.ok(mount, "/noise.txt", {**GZ, "if-none-match": coded})
    assert response.status == 200 and client.body(response) == noise


def test_a_removed_variants_folder_is_made_again(
    client: Any, site: Path, variants: VariantCache
) -> None:
    import shutil

    shutil.rmtree(variants.directory)  # a tmp cleaner, or a worker sharing it that exited
    mount = make(client, site, variants, None)
    response = client.ok(mount, "/page.html", GZ)
    assert header(response, "content-encoding") == "gzip"
    assert decompress_body("gzip", client.body(response)) == HTML


def test_a_forked_worker_closing_its_copy_leaves_the_shared_folder(
    client: Any, site: Path, variants: VariantCache
) -> None:
    mount = make(client, site, variants, None)
    response = client.ok(mount, "/page.html", GZ)
    assert isinstance(response.body, FileBody)
    made = os.listdir(variants.directory)
    pid = os.fork()
    if pid == 0:  # the worker: its app is replaced, so it closes what it inherited
        variants.close()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert os.listdir(variants.directory) == made
