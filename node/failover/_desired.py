"""Which cameras this node records: the one place that decides it.

For now (issue 3): every camera whose home is this node and whose continuous
recording is on. Issue 5's failover planner replaces this function's body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recorder import CameraSource


def camera_source(camera: dict[str, Any]) -> CameraSource:
    """What the recorder needs to record one camera (a camera row as a dict)."""
    return CameraSource(
        camera_id=camera["id"],
        url=camera["stream_url"],
        username=camera.get("username"),
        password=camera.get("password"),
    )


def desired_sources(cameras: Iterable[dict[str, Any]], server_id: str) -> dict[str, CameraSource]:
    """camera id -> what the recorder must record on server `server_id`."""
    sources: dict[str, CameraSource] = {}
    for camera in cameras:
        if camera.get("home_server_id") != server_id:
            continue
        if not camera.get("continuous_recording", True):
            continue
        sources[camera["id"]] = camera_source(camera)
    return sources
