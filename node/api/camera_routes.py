"""Cameras: list, add (ONVIF or RTSP URL), change, delete, status, discovery."""

from __future__ import annotations

import importlib
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import psutil
from fastapi import APIRouter, Response

from discovery.onvif_client import CameraAddError, fetch_stream_uri
from node.api.errors import ApiError, error_responses
from node.api.models import CameraIn, CameraOut, CameraPatch, DiscoveredCameraOut, PriorityIn
from node.api.security import Admin, Node, Viewer
from node.app import NodeRuntime
from node.system import CameraInputError, public_camera, split_rtsp_url, validate_host

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["cameras"])

ONVIF_TIMEOUT_S = 10.0
# how a failed ONVIF query is answered: the camera's fault is a bad gateway, a bad
# answer or wrong credentials are the request's fault
_ONVIF_STATUS = {
    "unreachable": 502,
    "timeout": 504,
    "unauthorized": 422,
    "not_onvif": 422,
    "no_stream": 422,
}


def camera_out(
    node: NodeRuntime,
    camera: dict[str, Any],
    known: tuple[dict[str, Any], str | None] | None = None,
) -> CameraOut:
    """The camera as the API shows it; `known`: its status, when already worked out."""
    status, recording_server = known or node.camera_status(camera)
    return CameraOut.model_validate(public_camera(camera, status, recording_server))


def _camera_or_404(node: NodeRuntime, camera_id: str) -> dict[str, Any]:
    camera = node.state.camera(camera_id)
    if camera is None:
        raise ApiError(404, f"no camera {camera_id!r}")
    return camera


@router.get("/cameras", response_model=list[CameraOut])
async def list_cameras(node: Node, _caller: Viewer) -> list[CameraOut]:
    cameras = node.state.cameras()
    statuses = node.camera_statuses(cameras)
    return [camera_out(node, c, statuses[c["id"]]) for c in cameras]


def discovery_interfaces(node: NodeRuntime) -> list[str]:
    """IPv4 addresses to probe from: configured, else the listen address, else all."""
    if node.config.discovery.interfaces:
        return list(node.config.discovery.interfaces)
    host = node.config.listen_host
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is not None and not address.is_unspecified:
        return [host]
    return [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and not ipaddress.IPv4Address(a.address).is_loopback
    ]


def discovered_json(camera: Any, known: set[tuple[str, int]]) -> dict[str, Any]:
    xaddr = camera.xaddrs[0] if camera.xaddrs else None
    parts = urlsplit(xaddr) if xaddr else None
    host = parts.hostname if parts else None
    port = (parts.port or 80) if parts else None
    return {
        "endpoint": camera.endpoint,
        "name": camera.name,
        "hardware": camera.hardware,
        "location": camera.location,
        "xaddrs": list(camera.xaddrs),
        "host": host,
        "port": port,
        "already_added": (host, port) in known,
    }


@router.get(
    "/cameras/discovered",
    response_model=list[DiscoveredCameraOut],
    responses=error_responses(503),
)
async def discovered_cameras(node: Node, _caller: Admin) -> list[dict[str, Any]]:
    """ONVIF cameras answering a WS-Discovery probe on this node's interfaces."""
    try:
        wsd = importlib.import_module("discovery.wsdiscovery_client")
    except ImportError:  # WS-Discovery client not available: nothing found
        return []
    settings = node.config.discovery
    try:
        found = await wsd.probe(
            discovery_interfaces(node),
            settings.ws_discovery_timeout_s,
            settings.ws_discovery_port,
        )
    except wsd.WSDiscoveryError as error:
        raise ApiError(503, f"WS-Discovery: {error}") from None
    known = {
        (c["onvif"]["host"], int(c["onvif"]["port"]))
        for c in node.state.cameras()
        if c.get("onvif")
    }
    return [discovered_json(camera, known) for camera in found]


@router.post(
    "/cameras", status_code=201, response_model=CameraOut, responses=error_responses(502, 504)
)
async def add_camera(body: CameraIn, node: Node, _caller: Admin) -> CameraOut:
    camera: dict[str, Any] = {
        "name": body.name,
        "home_server_id": body.home_server_id or node.node_id,
        "priority": body.priority.value,
        "continuous_recording": body.continuous_recording,
    }
    if node.state.server(camera["home_server_id"]) is None:
        raise ApiError(
            422, f"home_server_id: no server {camera['home_server_id']!r} in this system"
        )
    if any(c["name"] == body.name for c in node.state.cameras()):
        raise ApiError(409, f"a camera named {body.name!r} exists")
    try:
        if body.rtsp_url is not None:
            url, username, password = split_rtsp_url(body.rtsp_url)
            camera.update(source="rtsp", stream_url=url, username=username, password=password)
            if body.sub_rtsp_url is not None:
                # the sub-stream is opened with the main stream's credentials
                camera["sub_stream_url"] = split_rtsp_url(body.sub_rtsp_url)[0]
        else:
            assert body.onvif is not None
            host = validate_host(body.onvif.host)
            info = await fetch_stream_uri(
                host, body.onvif.port, body.onvif.username, body.onvif.password, ONVIF_TIMEOUT_S
            )
            camera.update(
                source="onvif",
                stream_url=split_rtsp_url(info.stream_uri)[0],
                sub_stream_url=(
                    split_rtsp_url(info.sub_stream_uri)[0] if info.sub_stream_uri else None
                ),
                username=body.onvif.username or None,
                password=body.onvif.password or None,
                onvif={"host": host, "port": body.onvif.port, "profile_token": info.profile_token},
                manufacturer=info.manufacturer,
                model=info.model,
                serial=info.serial,
            )
    except CameraInputError as error:
        raise ApiError(422, str(error)) from None
    except CameraAddError as error:
        raise ApiError(_ONVIF_STATUS.get(error.kind, 422), f"ONVIF: {error.reason}") from None
    stored = await node.write(node.state.add_camera, camera)
    return camera_out(node, stored)


@router.put("/cameras/priority", response_model=list[CameraOut], responses=error_responses(404))
async def set_priority(body: PriorityIn, node: Node, _caller: Admin) -> list[CameraOut]:
    cameras = await node.write(node.state.set_priority, body.camera_ids, body.priority)
    return [camera_out(node, c) for c in cameras]


@router.get("/cameras/{camera_id}", response_model=CameraOut)
async def get_camera(camera_id: str, node: Node, _caller: Viewer) -> CameraOut:
    return camera_out(node, _camera_or_404(node, camera_id))


@router.patch("/cameras/{camera_id}", response_model=CameraOut)
async def update_camera(camera_id: str, body: CameraPatch, node: Node, _caller: Admin) -> CameraOut:
    changes = body.model_dump(exclude_none=True, mode="json")
    camera = await node.write(node.state.update_camera, camera_id, changes)
    return camera_out(node, camera)


@router.delete("/cameras/{camera_id}", status_code=204)
async def delete_camera(camera_id: str, node: Node, _caller: Admin) -> Response:
    await node.write(node.state.delete_camera, camera_id)
    return Response(status_code=204)
