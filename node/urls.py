"""Host names and URLs from outside (API bodies, config files, a peer's join request),
checked once before anything stores or dials them.

A URL that `urllib.parse.urlsplit` cannot split (an unclosed "[", a bad port) must
be refused at the door: stored, it would break every later reader of the record
(the HTTP client, the web client, a tool that follows links in our answers).

At the bottom of node: imports nothing of node, so every subpackage may use it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

MAX_URL_LEN = 2048
_HOST_RE = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def checked_host(host: str) -> str:
    """An IP address (IPv6 with or without brackets) or a DNS host name, normalised
    (lower case, brackets removed); ValueError if it is neither."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOST_RE.match(host):
        raise ValueError(f"{host[:64]!r} is not an IP address or host name")
    return host.lower()


@dataclass(frozen=True)
class CheckedUrl:
    """A URL split and checked; `url` is it again without credentials or fragment."""

    url: str
    scheme: str
    host: str
    port: int | None
    username: str | None
    password: str | None


def checked_url(url: str, schemes: tuple[str, ...], *, what: str = "url") -> CheckedUrl:
    """Split `url`, whose scheme must be one of `schemes`; ValueError naming `what`
    and the reason if it is not a usable URL."""
    if len(url) > MAX_URL_LEN:
        raise ValueError(f"{what} longer than {MAX_URL_LEN} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValueError(f"{what} must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{what} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise ValueError(f"{what} must start with " + " or ".join(f"{s}://" for s in schemes))
    if not parts.hostname:
        raise ValueError(f"{what} has no host")
    try:
        host = checked_host(parts.hostname)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    if port == 0:
        raise ValueError(f"{what} port must be 1-65535")
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port is None else f"{shown_host}:{port}"
    return CheckedUrl(
        url=urlunsplit((scheme, netloc, parts.path, parts.query, "")),
        scheme=scheme,
        host=host,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def http_url(url: str, *, what: str = "url") -> str:
    """An http:// or https:// URL without credentials, normalised; ValueError if not."""
    checked = checked_url(url, ("http", "https"), what=what)
    if checked.username is not None or checked.password is not None:
        raise ValueError(f"{what} must not hold a user name or password")
    return checked.url
