"""Schemathesis hooks for runs against a camkeep node (loaded by the `schemathesis`
process through SCHEMATHESIS_HOOKS).

- Detaching the node under test from its system would end the run's meaning: every
  later request would only meet "this server is undefined". So a detach of that node
  (its id in PROTECTED_SERVER_ID) that would go through is sent as a dry run instead:
  the route, its validation and its answer are still tested, and the node stays a
  member.
- The OpenAPI examples name a camera at EXAMPLE_CAMERA_HOST, a LAN address; requests
  built from them are sent to the emulated camera on loopback instead
  (EMULATOR_RTSP_URL, EMULATOR_ONVIF_PORT), so cameras added by the run are real and
  no request leaves the machine.

Every other request is sent as generated.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import schemathesis

DETACH_PATH = "/api/v1/servers/{server_id}/detach"
CAMERAS_PATH = "/api/v1/cameras"
EXAMPLE_CAMERA_HOST = "192.168.1.64"
LOOPBACK = "127.0.0.1"


def keep_member(case: Any, protected_id: str) -> None:
    """Turn a detach of `protected_id` that would go through into a dry run (in place)."""
    if case.operation.path != DETACH_PATH or case.method.upper() != "POST":
        return
    if (case.path_parameters or {}).get("server_id") != protected_id:
        return
    # only a body that asks for the real thing (dry_run false or left out) is changed;
    # any other value is invalid and stays so
    if isinstance(case.body, dict) and case.body.get("dry_run", False) is False:
        case.body = {**case.body, "dry_run": True}


def _example_host(url: Any) -> bool:
    try:
        return isinstance(url, str) and urlsplit(url).hostname == EXAMPLE_CAMERA_HOST
    except ValueError:
        return False


def to_emulator(case: Any, rtsp_url: str, onvif_port: int) -> None:
    """Point a camera added from the documented example at the emulator (in place)."""
    if case.operation.path != CAMERAS_PATH or case.method.upper() != "POST":
        return
    body = case.body
    if not isinstance(body, dict):
        return
    if _example_host(body.get("rtsp_url")):
        case.body = {**body, "rtsp_url": rtsp_url}
    onvif = body.get("onvif")
    if isinstance(onvif, dict) and onvif.get("host") == EXAMPLE_CAMERA_HOST:
        case.body = {**body, "onvif": {**onvif, "host": LOOPBACK, "port": onvif_port}}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    protected_id = os.environ.get("PROTECTED_SERVER_ID")
    if protected_id:
        keep_member(case, protected_id)
    rtsp_url, onvif_port = (
        os.environ.get("EMULATOR_RTSP_URL"),
        os.environ.get("EMULATOR_ONVIF_PORT"),
    )
    if rtsp_url and onvif_port:
        to_emulator(case, rtsp_url, int(onvif_port))
