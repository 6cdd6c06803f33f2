"""Polite, bounded HTTP GETs with httpx: one client factory, one `fetch()` that never raises.

What `fetch()` guarantees, per call:

- every hop (the first URL and each redirect target) passes `netguard.check_url`, and the address
  the connection reached passes `netguard.check_peer`;
- redirects are followed by hand, at most `max_redirects` hops, and the final URL is recorded;
- connect and read timeouts on every socket operation, and a deadline per attempt that bounds
  every socket operation too (connect, headers, body), so a server that trickles a byte at a time
  is cut at the deadline, not after the read timeout times the bytes it sends;
- the body is decompressed here (gzip, deflate) and capped on the decompressed size, so a small
  compressed bomb cannot exhaust memory;
- conditional GET: `If-None-Match` / `If-Modified-Since` sent when given, the response's
  validators returned (a 304 included);
- retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx,
  honouring `Retry-After` up to a cap; other 4xx and refused destinations are not retried.

Failures come back as a `FetchResult` with `error` and `error_kind` set:

    refused      netguard said no (scheme, link-local, metadata, private)
    timeout      connect/read timeout or the per-attempt deadline
    connect      could not connect (refused, unreachable, DNS)
    network      the connection broke mid-exchange
    http         a status that is not 2xx/304 (after retries when retryable)
    redirects    too many hops, or a redirect with no usable Location
    too_large    the decompressed body passed `max_bytes`
    encoding     an unsupported or corrupt Content-Encoding
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import urljoin, urlsplit

import httpx

from newsflow.tasks.feeds import netguard
from newsflow.tasks.feeds.deadline import deadline_transport, request_deadline
from newsflow.tasks.feeds.inflate import BodyTooLarge, Inflater

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
GZIP_MAGIC = b"\x1f\x8b"


def _user_agent() -> str:
    try:
        version = metadata.version("newsflow")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"newsflow/{version} (news feed reader; python-httpx/{httpx.__version__})"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class FetchSettings:
    """Limits and politeness for one `fetch()`; tests shrink the times."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # seconds per attempt: all hops, headers and body
    max_redirects: int = 5
    max_bytes: int = 10 * 1024 * 1024  # decompressed
    max_attempts: int = 3
    backoff_base: float = 1.0  # first retry waits about this long, then doubling
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0  # a longer Retry-After ends the fetch (the feed is backed off)
    max_connections: int = 8
    user_agent: str = USER_AGENT
    allow_private: bool | None = None  # None: read NEWSFLOW_ALLOW_PRIVATE_HOSTS

    @classmethod
    def from_env(cls, prefix: str = "NEWSFLOW_FETCH_", **overrides: object) -> FetchSettings:
        """Defaults, then `NEWSFLOW_FETCH_<FIELD>` variables (READ_TIMEOUT=5, …), then overrides."""
        values: dict[str, object] = {}
        for name, kind in ((f.name, type(getattr(cls(), f.name))) for f in fields(cls)):
            raw = os.environ.get(prefix + name.upper())
            if raw is not None and kind in (int, float):
                values[name] = kind(raw)
        return cls(**(values | overrides))  # type: ignore[arg-type]


DEFAULT_SETTINGS = FetchSettings()


class HostGate:
    """Politeness: one request at a time per host, and at least `interval` seconds between them."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[threading.Lock, list[float]]] = {}

    @contextlib.contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold the host of `url` for one request, waiting for its turn first."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            lock, last = self._hosts.setdefault(host, (threading.Lock(), [float("-inf")]))
        with lock:
            wait = last[0] + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                last[0] = time.monotonic()


@dataclass
class FetchResult:
    """What one logical GET (all its attempts and hops) produced."""

    url: str
    final_url: str | None = None
    status: int | None = None
    body: bytes = b""
    size: int = 0  # decompressed body bytes (kept when a caller drops `body`)
    headers: dict[str, str] = field(default_factory=dict)
    etag_sent: str | None = None
    modified_sent: str | None = None
    elapsed_ms: int = 0
    attempts: int = 0
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, target)
    error: str | None = None
    error_kind: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait, uncapped

    @property
    def ok(self) -> bool:
        """A usable 2xx body."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        """The server answered 304 to our conditional request."""
        return self.error is None and self.status == 304

    @property
    def etag(self) -> str | None:
        """The ETag the server sent (a 304 may carry one)."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified the server sent."""
        return self.headers.get("last-modified")

    @property
    def permanent_redirect(self) -> bool:
        """Every hop was permanent (301/308): the final URL can replace the stored one."""
        return bool(self.redirects) and all(s in (301, 308) for s, _ in self.redirects)


class _Failure(Exception):
    """An attempt that failed; `retry` says whether another attempt may help."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry = retry
        self.status = status
        self.retry_after = retry_after


def make_client(
    settings: FetchSettings = DEFAULT_SETTINGS, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one httpx client: explicit timeouts, no automatic redirects, our User-Agent."""
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        follow_redirects=False,  # followed by hand, so each hop is checked and counted
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        limits=limits,
        # No proxies or .netrc credentials from the environment: destinations are checked here.
        trust_env=False,
        transport=transport or deadline_transport(limits),
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = FEED_ACCEPT,
    settings: FetchSettings = DEFAULT_SETTINGS,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> FetchResult:
    """GET `url` with retries, redirects, caps and conditional headers; never raises for I/O."""
    result = FetchResult(url=url, etag_sent=etag, modified_sent=last_modified)
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    for attempt in range(1, settings.max_attempts + 1):
        result.attempts = attempt
        result.redirects = []
        try:
            _attempt(client, url, headers, settings, result)
            result.error = result.error_kind = None
            break
        except _Failure as failure:
            result.error, result.error_kind = str(failure), failure.kind
            result.status = failure.status
            result.retry_after = failure.retry_after
            if not failure.retry or attempt == settings.max_attempts:
                break
            wait = backoff_delay(attempt, settings, jitter())
            if failure.retry_after is not None:
                if failure.retry_after > settings.retry_after_cap:
                    result.error += (
                        f" (Retry-After {failure.retry_after:.0f} s is over the"
                        f" {settings.retry_after_cap:.0f} s cap; not retried now)"
                    )
                    break
                wait = max(wait, failure.retry_after)
            log.info("retrying %s in %.2f s after %s", url, wait, failure)
            sleep(wait)
    result.elapsed_ms = round((time.monotonic() - started) * 1000)
    return result


def backoff_delay(attempt: int, settings: FetchSettings, jitter: float) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped."""
    delay = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
    return delay / 2 + delay / 2 * jitter


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _attempt(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: FetchSettings,
    result: FetchResult,
) -> None:
    """One attempt: follow hops by hand, then read the body under the caps into `result`."""
    deadline = time.monotonic() + settings.deadline
    request_deadline.at, request_deadline.seconds = deadline, settings.deadline
    try:
        _hops(client, url, headers, settings, result, deadline)
    finally:
        request_deadline.at = None


def _hops(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: FetchSettings,
    result: FetchResult,
    deadline: float,
) -> None:
    current = url
    for hop in range(settings.max_redirects + 1):
        try:
            netguard.check_url(current, allow_private=settings.allow_private)
        except netguard.UnsafeURL as error:
            raise _Failure("refused", str(error), retry=False) from None
        result.final_url = current
        response = _send(client, current, headers, settings, deadline)
        try:
            _check_peer(response, current, settings)
            status = response.status_code
            if status in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise _Failure(
                        "redirects", f"HTTP {status} without a Location", retry=False, status=status
                    )
                target = urljoin(current, location.strip())
                result.redirects.append((status, target))
                if hop == settings.max_redirects:
                    raise _Failure(
                        "redirects",
                        f"more than {settings.max_redirects} redirects",
                        retry=False,
                        status=status,
                    )
                current = target
                continue
            result.status = status
            result.headers = {k.lower(): v for k, v in response.headers.items()}
            if status == 304:
                return
            if status == 429 or status >= 500:
                raise _Failure(
                    "http",
                    f"HTTP {status}",
                    retry=True,
                    status=status,
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
            if not 200 <= status < 300:
                raise _Failure("http", f"HTTP {status}", retry=False, status=status)
            result.body = _read_body(response, settings, deadline)
            result.size = len(result.body)
            return
        finally:
            response.close()
    raise AssertionError("unreachable")  # the loop returns or raises


def _send(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: FetchSettings,
    deadline: float,
) -> httpx.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Failure("timeout", f"deadline of {settings.deadline:g} s passed", retry=True)
    # Each socket operation may take at most what is left of the attempt's deadline.
    timeout = httpx.Timeout(
        connect=min(settings.connect_timeout, remaining),
        read=min(settings.read_timeout, remaining),
        write=min(settings.read_timeout, remaining),
        pool=min(settings.connect_timeout, remaining),
    )
    try:
        request = client.build_request("GET", url, headers=headers, timeout=timeout)
        return client.send(request, stream=True)
    except httpx.TimeoutException as error:
        raise _Failure("timeout", _timeout_message(error, settings, deadline), retry=True) from None
    except httpx.ConnectError as error:
        raise _Failure("connect", f"cannot connect: {error}", retry=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise _Failure("refused", str(error), retry=False) from None
    except httpx.TransportError as error:
        raise _Failure("network", f"{type(error).__name__}: {error}", retry=True) from None


def _timeout_message(
    error: httpx.TimeoutException, settings: FetchSettings, deadline: float, where: str = ""
) -> str:
    reason = str(error) or "timed out"
    if time.monotonic() >= deadline and "deadline" not in reason:
        reason = f"deadline of {settings.deadline:g} s passed"
    return f"{type(error).__name__}{where}: {reason}"


def _check_peer(response: httpx.Response, url: str, settings: FetchSettings) -> None:
    stream = response.extensions.get("network_stream")
    if stream is None:  # a test transport has no socket
        return
    peer = stream.get_extra_info("server_addr")
    if not peer:
        return
    try:
        netguard.check_peer(str(peer[0]), url=url, allow_private=settings.allow_private)
    except netguard.UnsafeURL as error:
        raise _Failure("refused", str(error), retry=False) from None


def _read_body(response: httpx.Response, settings: FetchSettings, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    # A compressed length over the cap means a decompressed one over it too.
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise _Failure(
            "too_large",
            f"Content-Length {declared} is over the {settings.max_bytes} byte cap",
            retry=False,
            status=response.status_code,
        )
    try:
        inflater = Inflater(response.headers.get("content-encoding", ""), settings.max_bytes)
        chunks = []
        for raw in response.iter_raw():
            chunks.append(inflater.feed(raw))
            if time.monotonic() > deadline:
                raise _Failure(
                    "timeout",
                    f"body not received within the {settings.deadline:g} s deadline",
                    retry=True,
                    status=response.status_code,
                )
        chunks.append(inflater.flush())
    except BodyTooLarge as error:
        raise _Failure("too_large", str(error), retry=False, status=response.status_code) from None
    except (ValueError, zlib.error) as error:
        raise _Failure(
            "encoding", f"cannot decode the body: {error}", retry=False, status=response.status_code
        ) from None
    except httpx.TimeoutException as error:
        raise _Failure(
            "timeout",
            _timeout_message(error, settings, deadline, " while reading the body"),
            retry=True,
            status=response.status_code,
        ) from None
    except httpx.TransportError as error:
        raise _Failure(
            "network",
            f"{type(error).__name__} while reading the body: {error}",
            retry=True,
            status=response.status_code,
        ) from None
    return b"".join(chunks)
