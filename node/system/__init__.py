"""The system of servers: its replicated records as typed views and domain operations,
joining a system and detaching a server.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.config import MAX_CHANNELS
from node.system._auto_join import AutoJoiner
from node.system._cameras import CameraInputError, public_camera, split_rtsp_url, validate_host
from node.system._detach import LAST_SERVER_MESSAGE, DetachPlan, camera_deletions, plan_detach
from node.system._join import JoinError, JoinHost, accept_join, add_server
from node.system._records import Camera, Priority, Server, new_server_record
from node.system._state import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StateError,
    SystemState,
    utc_now_iso,
)

__all__ = [
    "LAST_SERVER_MESSAGE",
    "MAX_CHANNELS",
    "AutoJoiner",
    "Camera",
    "CameraInputError",
    "Conflict",
    "DetachPlan",
    "Forbidden",
    "Invalid",
    "JoinError",
    "JoinHost",
    "NotFound",
    "Priority",
    "Server",
    "StateError",
    "SystemState",
    "accept_join",
    "add_server",
    "camera_deletions",
    "new_server_record",
    "plan_detach",
    "public_camera",
    "split_rtsp_url",
    "utc_now_iso",
    "validate_host",
]
