"""Destination checks: metadata and link-local always refused, private only when allowed."""

from __future__ import annotations

import pytest

from newsflow.tasks.feeds.netguard import (
    ALLOW_PRIVATE_ENV,
    UnsafeURL,
    check_peer,
    check_url,
    private_allowed,
)


def resolving_to(*addresses: str):
    """A resolver that answers every name with `addresses` (no DNS needed)."""
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/latest/",
        "http://169.254.10.1/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
        "http://2852039166/",  # 169.254.169.254 as one decimal number
        "http://0xa9fea9fe/",  # … and in hex
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_link_local_metadata_and_non_unicast_are_refused_even_when_private_is_allowed(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/feed",
        "http://[::1]/",
        "http://10.0.0.5/",
        "http://192.168.1.20/",
        "http://172.16.3.4/",
        "http://100.64.0.1/",
        "http://localhost/",
    ],
)
def test_loopback_and_private_depend_on_the_switch(url):
    check_url(url, allow_private=True)
    with pytest.raises(UnsafeURL, match=ALLOW_PRIVATE_ENV):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed",
        "file:///etc/passwd",
        "gopher://x/",
        "javascript:alert(1)",
        "example.org/feed",
        "http:///nohost",
    ],
)
def test_only_http_and_https_with_a_host(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=True)


def test_a_public_name_is_judged_by_what_it_resolves_to():
    check_url("https://news.example/feed", resolver=resolving_to("93.184.216.34"))
    with pytest.raises(UnsafeURL, match="cloud metadata"):
        check_url("https://evil.example/", resolver=resolving_to("169.254.169.254"))
    # One bad address among good ones is enough to refuse: the client may connect to any of them.
    with pytest.raises(UnsafeURL, match="link-local"):
        check_url(
            "https://mixed.example/",
            allow_private=True,
            resolver=resolving_to("93.184.216.34", "fe80::1"),
        )
    with pytest.raises(UnsafeURL, match="loopback or private"):
        check_url("https://rebind.example/", allow_private=False, resolver=resolving_to("10.1.1.1"))


def test_an_unresolvable_name_is_refused_with_the_reason():
    def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeURL, match="cannot resolve"):
        check_url("https://no-such-host.example/", resolver=failing)


def test_the_peer_address_is_checked_too():
    check_peer("93.184.216.34", url="https://x.example/", allow_private=False)
    with pytest.raises(UnsafeURL, match="cloud metadata"):
        check_peer("169.254.169.254", url="https://x.example/", allow_private=True)


def test_the_switch_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    assert private_allowed()
    check_url("http://127.0.0.1/")
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "0")
    assert not private_allowed()
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.1/")
    monkeypatch.delenv(ALLOW_PRIVATE_ENV)
    assert not private_allowed()
