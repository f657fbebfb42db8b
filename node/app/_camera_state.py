"""What a node shows as a camera's recording state: its own recorder's status when it
records the camera, otherwise why not (disabled, recorded elsewhere, connecting)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.system import Camera
from node.timefmt import utc_iso
from recorder import CameraStatus


def status_json(status: CameraStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "last_error": status.last_error,
        "bitrate_bps": round(status.bitrate_bps, 1),
        "fps": round(status.fps, 2),
        "last_frame_at": None if status.last_frame_at is None else utc_iso(status.last_frame_at),
    }


def camera_state(
    record: Mapping[str, Any],
    node_id: str,
    statuses: Mapping[str, CameraStatus],
    recorded_by: str | None,
) -> tuple[dict[str, Any], str | None]:
    """(status, recording server id) of a camera as this node sees it; `recorded_by` is
    the peer gossiped as recording it."""
    camera = Camera.from_record(record)
    status = statuses.get(camera.id)
    if status is not None and status.state != "stopped":
        return status_json(status), node_id
    if not camera.continuous_recording:
        state = "disabled"
    elif camera.home_server_id != node_id:
        state = "remote"
    else:
        state = "connecting"
    idle = {"state": state, "last_error": None, "bitrate_bps": 0.0, "fps": 0.0}
    return {**idle, "last_frame_at": None}, recorded_by
