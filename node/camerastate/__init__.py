"""Every camera's recording state as the whole system knows it: each node's own table
travels to the others on change (digest in gossip, deltas over node-to-node HTTP),
and any node shows any camera's real state, stale with its age when its source has
gone quiet.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.camerastate._service import DIGEST_KEY, PUSH_PATH, CameraStates
from node.camerastate._table import (
    STALE_AFTER_S,
    CameraReport,
    OwnTable,
    RemoteReport,
    RemoteTables,
    StateError,
    best_remote,
    freshness,
    material_change,
)

__all__ = [
    "DIGEST_KEY",
    "PUSH_PATH",
    "STALE_AFTER_S",
    "CameraReport",
    "CameraStates",
    "OwnTable",
    "RemoteReport",
    "RemoteTables",
    "StateError",
    "best_remote",
    "freshness",
    "material_change",
]
