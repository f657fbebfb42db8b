"""Camera records: validation of what a client sends, and the public view of a camera.

A camera record (kind "camera", key = camera id) holds:
  id, name, source ("onvif" | "rtsp"), stream_url (no credentials in it),
  sub_stream_url (the second profile, for live grids; may be absent),
  username, password (never returned by the API), onvif {host, port} (for ONVIF
  cameras), manufacturer, model, serial, home_server_id, priority,
  continuous_recording, created_at.
"""

from __future__ import annotations

from typing import Any

from node.system._records import Priority
from node.urls import checked_host, checked_url


class CameraInputError(ValueError):
    """A camera definition from a client is invalid; str() is the reason."""


def validate_host(host: str) -> str:
    try:
        return checked_host(host)
    except ValueError as error:
        raise CameraInputError(str(error)) from None


def split_rtsp_url(url: str) -> tuple[str, str | None, str | None]:
    """Validate an rtsp:// or rtsps:// URL; return (url without credentials, user, password)."""
    try:
        checked = checked_url(url, ("rtsp", "rtsps"), what="rtsp_url")
    except ValueError as error:
        raise CameraInputError(str(error)) from None
    return checked.url, checked.username, checked.password


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
