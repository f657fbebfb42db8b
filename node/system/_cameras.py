"""Camera records: validation of what a client sends, and the public view of a camera.

A camera record (kind "camera", key = camera id) holds:
  id, name, source ("onvif" | "rtsp"), stream_url (no credentials in it),
  sub_stream_url (the second profile, for live grids; may be absent),
  username, password (never returned by the API), onvif {host, port} (for ONVIF
  cameras), manufacturer, model, serial, home_server_id, priority,
  continuous_recording, created_at.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from node.system._records import Priority

MAX_URL_LEN = 2048
_HOST_RE = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class CameraInputError(ValueError):
    """A camera definition from a client is invalid; str() is the reason."""


def validate_host(host: str) -> str:
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOST_RE.match(host):
        raise CameraInputError(f"{host[:64]!r} is not an IP address or host name")
    return host.lower()


def split_rtsp_url(url: str) -> tuple[str, str | None, str | None]:
    """Validate an rtsp:// or rtsps:// URL; return (url without credentials, user, password)."""
    if len(url) > MAX_URL_LEN:
        raise CameraInputError(f"rtsp_url longer than {MAX_URL_LEN} characters")
    if any(ord(c) < 33 for c in url):
        raise CameraInputError("rtsp_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise CameraInputError(f"rtsp_url is not a valid URL: {error}") from None
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        raise CameraInputError("rtsp_url must start with rtsp:// or rtsps://")
    if not parts.hostname:
        raise CameraInputError("rtsp_url has no host")
    host = validate_host(parts.hostname)
    if port == 0:
        raise CameraInputError("rtsp_url port must be 1-65535")
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port is None else f"{shown_host}:{port}"
    clean = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, username, password


def public_camera(
    camera: dict[str, Any], status: dict[str, Any], recording_server_id: str | None
) -> dict[str, Any]:
    """What the API shows of a camera: never its credentials."""
    onvif = camera.get("onvif")
    return {
        "id": camera["id"],
        "name": camera["name"],
        "source": camera.get("source", "rtsp"),
        "stream_url": camera.get("stream_url"),
        "sub_stream_url": camera.get("sub_stream_url"),
        "onvif": None if not onvif else {"host": onvif["host"], "port": onvif["port"]},
        "manufacturer": camera.get("manufacturer"),
        "model": camera.get("model"),
        "serial": camera.get("serial"),
        "has_credentials": bool(camera.get("username")),
        "home_server_id": camera.get("home_server_id"),
        "recording_server_id": recording_server_id,
        "priority": Priority.of(camera.get("priority", Priority.MEDIUM.value)).value,
        "continuous_recording": bool(camera.get("continuous_recording", True)),
        "created_at": camera.get("created_at"),
        "status": status,
    }
