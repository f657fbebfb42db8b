"""The node's figures at one instant, for `GET /metrics` (node.metrics renders them)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from node.events import EventType
from node.metrics import CameraFigures, Snapshot

if TYPE_CHECKING:
    from node.app._runtime import NodeRuntime


def build_snapshot(node: NodeRuntime) -> Snapshot:
    recorder = node.recorder
    names = {c.get("id"): str(c.get("name", "")) for c in node.state.cameras()}
    log = node.event_log
    cameras = tuple(
        CameraFigures(
            camera_id=camera_id,
            name=names.get(camera_id, ""),
            state=status.state,
            fps=status.fps,
            bitrate_bps=status.bitrate_bps,
            written_bytes=recorder.bytes_written.get(camera_id, 0),
            gap_seconds=log.gap_seconds.get(camera_id, 0.0),
            reconnects=recorder.reconnects.get(camera_id, 0),
        )
        for camera_id, status in sorted(recorder.statuses().items())
        if status.state != "stopped"
    )
    members = Counter(
        view.state for server_id, view in node.members().items() if server_id != node.node_id
    )
    if node.state.is_member():
        members["alive"] += 1  # this node
    gossip = node.cluster.stats()["gossip"]
    states = node.camera_states
    return Snapshot(
        server_id=node.node_id,
        server_name=node.config.name,
        cameras=cameras,
        takeovers=log.written.get(EventType.CAMERA_TAKEN_OVER.value, 0),
        returns=log.written.get(EventType.CAMERA_RETURNED_HOME.value, 0),
        members=dict(members),
        gossip={
            k: int(gossip.get(k, 0)) for k in ("sent", "received", "sent_bytes", "received_bytes")
        },
        disk_free_bytes=log.disk_free_bytes,
        disk_total_bytes=log.disk_total_bytes,
        recordings_bytes=log.recordings_bytes,
        events_written=dict(log.written),
        events_held=log.store.count(),
        notifications=dict(log.delivery.counts),
        state_exchange_bytes={"sent": states.bytes_sent, "received": states.bytes_received},
        peer_clock_offsets={
            server_id: peer.offset_s
            for server_id, peer in node.clock_report().peers.items()
            if peer.offset_s is not None
        },
    )
