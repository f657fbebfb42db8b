"""Camera URLs: credentials go into the URL only inside the ingest, and are scrubbed
from anything that could be logged or shown."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

_USERINFO = re.compile(r"(?i)(rtsps?://)[^/@\s]*@")


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def scrub(text: str, *secrets: str | None) -> str:
    """Remove user:password@ parts of URLs and any of `secrets` from `text`."""
    text = _USERINFO.sub(r"\1", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text
