"""The one check of host names and URLs that come from outside."""

from __future__ import annotations

import pytest

from node.urls import checked_host, checked_url, http_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Camera-1.Example.com", "camera-1.example.com"),
        ("192.168.1.20", "192.168.1.20"),
        ("[fe80::1]", "fe80::1"),
        ("FE80::1", "fe80::1"),
    ],
)
def test_hosts_are_normalised(given: str, expected: str) -> None:
    assert checked_host(given) == expected


@pytest.mark.parametrize("host", ["", "-a", "a..b", "a b", "[::1", "x" * 254, "a_b"])
def test_bad_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="not an IP address or host name"):
        checked_host(host)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://Example.com:8080/hook?x=1#frag", "http://example.com:8080/hook?x=1"),
        ("HTTPS://[FE80::1]:443/", "https://[fe80::1]:443/"),
        ("http://10.0.0.1", "http://10.0.0.1"),
    ],
)
def test_http_urls_are_normalised(given: str, expected: str) -> None:
    assert http_url(given) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # what urlsplit itself cannot split: once stored, it broke every later reader
        ("http://[0]/", "not a valid URL|not an IP address"),
        ("http://[::1/x", "not a valid URL"),
        ("http://host:99999/", "not a valid URL"),
        ("http://host:0/", "port must be 1-65535"),
        ("ftp://host/", r"must start with http:// or https://"),
        ("http:///path", "has no host"),
        ("http://a b/", "spaces or control characters"),
        ("http://host/\x7f", "spaces or control characters"),
        ("http://user:pw@host/", "must not hold a user name or password"),
        ("http://" + "a" * 3000, "longer than 2048"),
    ],
)
def test_bad_http_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        http_url(url, what="url")


def test_credentials_are_split_from_an_rtsp_url() -> None:
    checked = checked_url("rtsp://ad%40min:p%3Ass@Cam:554/live", ("rtsp", "rtsps"))
    assert (checked.url, checked.username, checked.password) == (
        "rtsp://cam:554/live",
        "ad@min",
        "p:ss",
    )
