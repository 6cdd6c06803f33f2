"""fetch() against a real server: conditional GET, redirects, retries, timeouts, caps, gzip."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from newsflow.tasks.feeds.fetch import (
    FetchSettings,
    HostGate,
    backoff_delay,
    fetch,
    make_client,
    parse_retry_after,
)
from newsflow.tasks.feeds.inflate import Inflater, gunzip_capped
from tests.http_server import Reply, ScriptedServer, conditional, redirect

FAST = FetchSettings(
    connect_timeout=2.0,
    read_timeout=2.0,
    deadline=5.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_max=0.05,
    retry_after_cap=5.0,
    max_bytes=1_000_000,
    allow_private=True,
)
XML = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
LAST_MODIFIED = "Mon, 01 Jan 2024 10:00:00 GMT"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(FAST) as running:
        yield running


class Sleeps:
    """Records the waits fetch() asks for, and waits a tiny bit so the test stays fast."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(0.001)


def test_conditional_get_sends_validators_and_a_304_has_no_body(server, client):
    server.route("/feed", conditional(XML, etag='"v1"', last_modified=LAST_MODIFIED))
    first = fetch(client, server.url("/feed"), settings=FAST)
    assert first.ok and first.status == 200 and first.body == XML.encode()
    assert (first.etag, first.last_modified) == ('"v1"', LAST_MODIFIED)

    second = fetch(
        client,
        server.url("/feed"),
        etag=first.etag,
        last_modified=first.last_modified,
        settings=FAST,
    )
    sent = server.requests_to("/feed")[-1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == LAST_MODIFIED
    assert second.not_modified and not second.ok and second.body == b""
    assert second.etag == '"v1"' and second.etag_sent == '"v1"'
    assert second.modified_sent == LAST_MODIFIED


def test_last_modified_alone_is_enough_for_a_304(server, client):
    server.route("/feed", conditional(XML, last_modified=LAST_MODIFIED))
    first = fetch(client, server.url("/feed"), settings=FAST)
    second = fetch(client, server.url("/feed"), last_modified=first.last_modified, settings=FAST)
    assert first.status == 200 and first.etag is None
    assert second.status == 304 and second.last_modified == LAST_MODIFIED


def test_descriptive_user_agent_and_only_gzip_deflate_are_offered(server, client):
    server.route("/feed", Reply(200, body=XML))
    fetch(client, server.url("/feed"), settings=FAST)
    headers = server.requests_to("/feed")[0].headers
    assert headers["user-agent"].startswith("newsflow/")
    assert headers["accept-encoding"] == "gzip, deflate"
    assert "application/rss+xml" in headers["accept"]


def test_a_chain_of_301_302_308_is_followed_and_the_final_url_recorded(server, client):
    server.route("/a", redirect(301, "/b"))
    server.route("/b", redirect(302, server.url("/c")))  # absolute
    server.route("/c", redirect(308, "d"))  # relative to /c
    server.route("/d", Reply(200, body=XML))
    result = fetch(client, server.url("/a"), settings=FAST)
    assert result.ok and result.body == XML.encode()
    assert result.final_url == server.url("/d")
    assert [status for status, _ in result.redirects] == [301, 302, 308]
    assert not result.permanent_redirect  # the 302 makes the move temporary


def test_permanent_redirects_are_flagged(server, client):
    server.route("/old", redirect(301, "/new"))
    server.route("/new", redirect(308, "/newer"))
    server.route("/newer", Reply(200, body=XML))
    result = fetch(client, server.url("/old"), settings=FAST)
    assert result.ok and result.permanent_redirect and result.final_url == server.url("/newer")


def test_a_redirect_loop_stops_at_the_bound(server, client):
    server.route("/loop", redirect(302, "/loop"))
    result = fetch(client, server.url("/loop"), settings=FAST)
    assert result.error_kind == "redirects" and "more than 5 redirects" in result.error
    assert server.hits("/loop") == FAST.max_redirects + 1
    assert result.attempts == 1  # not retried


def test_429_with_retry_after_waits_that_long_then_succeeds(server, client):
    server.route("/feed", Reply(429, headers={"Retry-After": "1"}), Reply(200, body=XML))
    sleeps = Sleeps()
    result = fetch(client, server.url("/feed"), settings=FAST, sleep=sleeps)
    assert result.ok and result.attempts == 2
    assert sleeps.waits == [1.0]  # Retry-After outweighs the 0.01 s backoff


def test_a_retry_after_over_the_cap_ends_the_fetch_and_is_reported(server, client):
    server.route("/feed", Reply(503, headers={"Retry-After": "3600"}), Reply(200, body=XML))
    sleeps = Sleeps()
    result = fetch(client, server.url("/feed"), settings=FAST, sleep=sleeps)
    assert result.status == 503 and result.error_kind == "http" and result.retry_after == 3600
    assert "over the 5 s cap" in result.error
    assert sleeps.waits == [] and server.hits("/feed") == 1


def test_500_then_success(server, client):
    server.route("/feed", Reply(500), Reply(200, body=XML))
    result = fetch(client, server.url("/feed"), settings=FAST, sleep=Sleeps())
    assert result.ok and result.attempts == 2 and result.error is None


def test_503_twice_then_200_backs_off_exponentially(server, client):
    server.route("/feed", Reply(503), Reply(503), Reply(200, body=XML))
    sleeps = Sleeps()
    result = fetch(client, server.url("/feed"), settings=FAST, sleep=sleeps)
    assert result.ok and result.attempts == 3 and server.hits("/feed") == 3
    assert len(sleeps.waits) == 2
    assert 0.005 <= sleeps.waits[0] <= 0.01 and 0.01 <= sleeps.waits[1] <= 0.02


def test_always_500_is_tried_a_bounded_number_of_times(server, client):
    server.route("/feed", Reply(500, body="boom"))
    result = fetch(client, server.url("/feed"), settings=FAST, sleep=Sleeps())
    assert result.status == 500 and result.error == "HTTP 500" and result.error_kind == "http"
    assert result.attempts == FAST.max_attempts == server.hits("/feed")


def test_404_is_not_retried(server, client):
    result = fetch(client, server.url("/missing"), settings=FAST, sleep=Sleeps())
    assert result.status == 404 and result.error == "HTTP 404"
    assert result.attempts == 1 and server.hits("/missing") == 1


def test_a_slow_server_times_out_quickly_and_boundedly(server):
    settings = FetchSettings(
        read_timeout=0.3, deadline=1.0, max_attempts=2, backoff_base=0.01, allow_private=True
    )
    server.route("/slow", Reply(200, body=XML, delay=30))
    started = time.monotonic()
    with make_client(settings) as client:
        result = fetch(client, server.url("/slow"), settings=settings)
    assert result.error_kind == "timeout" and result.attempts == 2
    assert time.monotonic() - started < 3


def test_a_dripping_body_is_cut_at_the_deadline(server):
    settings = FetchSettings(
        read_timeout=1.0, deadline=0.5, max_attempts=1, allow_private=True
    )  # each chunk arrives within the read timeout, but the whole body does not
    server.route("/drip", Reply(200, body=b"x" * 2000, chunk_size=100, chunk_delay=0.1))
    with make_client(settings) as client:
        result = fetch(client, server.url("/drip"), settings=settings)
    assert result.error_kind == "timeout" and "deadline" in result.error


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(server, client, encoding):
    server.route("/feed", Reply(200, body=XML * 50, encoding=encoding))
    result = fetch(client, server.url("/feed"), settings=FAST)
    assert result.ok and result.body == (XML * 50).encode()


@pytest.mark.parametrize("content_length", [True, False])
def test_an_oversized_body_is_refused(server, client, content_length):
    server.route(
        "/big", Reply(200, body=b"<rss>" + b"x" * 3_000_000, content_length=content_length)
    )
    result = fetch(client, server.url("/big"), settings=FAST, sleep=Sleeps())
    assert result.error_kind == "too_large" and result.body == b"" and result.attempts == 1


def test_a_gzip_bomb_is_stopped_on_its_decompressed_size(server, client):
    bomb = b"\0" * 50_000_000  # 50 MB of zeros compress to about 50 kB
    server.route("/bomb", Reply(200, body=bomb, encoding="gzip"))
    result = fetch(client, server.url("/bomb"), settings=FAST)
    assert result.error_kind == "too_large" and "1000000 byte cap" in result.error


def test_a_redirect_to_cloud_metadata_is_refused_before_any_request(server, client):
    server.route("/feed", redirect(302, "http://169.254.169.254/latest/meta-data/"))
    result = fetch(client, server.url("/feed"), settings=FAST)
    assert result.error_kind == "refused" and "cloud metadata" in result.error
    assert result.final_url == server.url("/feed") and result.attempts == 1


def test_a_redirect_to_a_link_local_host_is_refused(server, client):
    server.route("/feed", redirect(301, "http://[fe80::1]/feed"))
    result = fetch(client, server.url("/feed"), settings=FAST)
    assert result.error_kind == "refused" and "link-local" in result.error


def test_loopback_is_refused_unless_private_hosts_are_allowed(server):
    server.route("/feed", Reply(200, body=XML))
    strict = FetchSettings(allow_private=False)
    with make_client(strict) as client:
        result = fetch(client, server.url("/feed"), settings=strict)
    assert result.error_kind == "refused" and "loopback or private" in result.error
    assert server.hits("/feed") == 0


def test_a_closed_port_is_a_connect_error_after_bounded_attempts(client):
    with ScriptedServer() as gone:
        url = gone.url("/feed")
    result = fetch(client, url, settings=FAST, sleep=Sleeps())
    assert result.error_kind == "connect" and result.attempts == FAST.max_attempts


def test_non_http_schemes_are_refused(client):
    result = fetch(client, "file:///etc/passwd", settings=FAST)
    assert result.error_kind == "refused" and result.attempts == 1


def test_retry_after_as_an_http_date():
    now = datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 10:00:30 GMT", now=now) == 30
    assert parse_retry_after("Mon, 01 Jan 2024 09:00:00 GMT", now=now) == 0
    assert parse_retry_after("120") == 120 and parse_retry_after("soon") is None


def test_backoff_grows_exponentially_within_its_cap_and_jitter():
    settings = FetchSettings(backoff_base=1.0, backoff_max=8.0)
    assert [backoff_delay(n, settings, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert [backoff_delay(n, settings, 1.0) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]


def test_inflater_handles_raw_deflate_multi_member_gzip_and_the_cap():
    text = b"news " * 1000
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(text) + raw.flush()
    inflater = Inflater("deflate", 1_000_000)
    assert (
        inflater.feed(raw_deflate[:100]) + inflater.feed(raw_deflate[100:]) + inflater.flush()
        == text
    )
    assert gunzip_capped(gzip.compress(b"a") + gzip.compress(b"b"), 10) == b"ab"
    with pytest.raises(ValueError, match="cap"):
        gunzip_capped(gzip.compress(text), 100)
    with pytest.raises(ValueError, match="not supported"):
        Inflater("br", 100)


def test_the_host_gate_serialises_requests_per_host_and_spaces_them():
    gate = HostGate(interval=0.1)
    spans: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}

    def hit(host: str) -> None:
        with gate.slot(f"http://{host}.example/x"):
            start = time.monotonic()
            time.sleep(0.02)
            spans[host].append((start, time.monotonic()))

    threads = [threading.Thread(target=hit, args=(h,)) for h in "aaabbb"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for host in "ab":
        ordered = sorted(spans[host])
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(ordered)]
        assert len(ordered) == 3 and all(gap >= 0.09 for gap in gaps)  # one at a time, spaced
    # Different hosts do not wait for each other.
    assert min(s for s, _ in spans["b"]) < max(e for _, e in spans["a"])
