"""What a node shows as a camera's recording state: its own recorder's status when it
records the camera, else the status the recording server reported (node.camerastate:
stale, with its age, once that server has gone quiet), else why nobody records it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from node.camerastate import CameraReport, RemoteReport, best_remote, freshness
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


def report_of(status: CameraStatus) -> CameraReport:
    """A recorder status as this node tells its peers."""
    data = status_json(status)
    return CameraReport(
        status.state, status.last_error, status.fps, status.bitrate_bps, data["last_frame_at"]
    )


def camera_state(
    record: Mapping[str, Any],
    node_id: str,
    statuses: Mapping[str, CameraStatus],
    remote: Iterable[RemoteReport],
    alive: frozenset[str],
    now: float,
    unplaced_reason: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """(status, recording server id) of a camera as this node sees it."""
    camera = Camera.from_record(record)
    status = statuses.get(camera.id)
    if status is not None and status.state != "stopped":
        fresh = {"stale": False, "age_s": 0.0, "updated_at": utc_iso(now), "reason": None}
        return {**status_json(status), **fresh, "server_id": node_id}, node_id
    best = best_remote(remote, alive)
    if best is not None:
        stale, age = freshness(best.confirmed_at, best.server_id in alive, now)
        return {
            **best.report.to_json(),
            "stale": stale,
            "age_s": age,
            "updated_at": utc_iso(best.confirmed_at),
            "server_id": best.server_id,
            "reason": None,
        }, best.server_id if best.report.state != "stopped" else None
    if not camera.continuous_recording:
        state, reason = "disabled", "continuous recording is off"
    elif camera.home_server_id == node_id:
        state, reason = "connecting", None
    else:
        state, reason = "not_recorded", unplaced_reason
    idle = {"state": state, "last_error": None, "bitrate_bps": 0.0, "fps": 0.0}
    return {
        **idle,
        "last_frame_at": None,
        "stale": False,
        "age_s": None,
        "updated_at": None,
        "server_id": None,
        "reason": reason,
    }, None


def published_states(
    cameras: Iterable[Mapping[str, Any]],
    node_id: str,
    alive: frozenset[str],
    camera_status: Callable[[Any], tuple[dict[str, Any], str | None]],
) -> dict[str, dict[str, Any]]:
    """The camera state documents a node publishes (MQTT): the cameras it records, and
    those nobody records when it is the alive node with the lowest id (one reporter)."""
    report_unrecorded = min(alive) == node_id
    out = {}
    for camera in cameras:
        status, server_id = camera_status(camera)
        if server_id == node_id or (server_id is None and report_unrecorded):
            document = {"camera_id": camera["id"], "name": camera.get("name"), **status}
            document.pop("age_s", None)  # changes every second: not news
            document.pop("updated_at", None)
            out[camera["id"]] = document
    return out
