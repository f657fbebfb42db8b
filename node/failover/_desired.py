"""The recorder set before the first failover plan: a node records its own cameras.

Until the failover loop has decided once (just after start-up), a node records every
camera whose home it is and whose continuous recording is on; from then on the plan
decides (`FailoverService.desired_sources`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from node.system import Camera
from recorder import CameraSource


def camera_source(record: Mapping[str, Any]) -> CameraSource:
    """What the recorder needs to record one camera (a camera record)."""
    camera = Camera.from_record(record)
    return CameraSource(
        camera_id=camera.id,
        url=camera.stream_url or "",
        username=camera.username,
        password=camera.password,
    )


def desired_sources(
    cameras: Iterable[Mapping[str, Any]], server_id: str
) -> dict[str, CameraSource]:
    """camera id -> what the recorder must record on server `server_id`."""
    sources: dict[str, CameraSource] = {}
    for record in cameras:
        camera = Camera.from_record(record)
        if camera.home_server_id == server_id and camera.continuous_recording:
            sources[camera.id] = camera_source(record)
    return sources
