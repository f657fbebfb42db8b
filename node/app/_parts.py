"""The parts of a node that are built from its configuration (and the few parts they
are handed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from node.app._cluster import Cluster
from node.app._internal_http import InternalHttp
from node.camerastate import DIGEST_KEY as STATE_DIGEST_KEY
from node.camerastate import CameraReport, CameraStates
from node.config import NodeConfig
from node.gapfill import GapFillHost, GapFillService
from node.live import LiveService, WebRtcSessions
from node.security import LoginThrottle
from recorder import CameraStatus, RecorderService, RetentionPolicy

SECONDS_PER_DAY = 86400
# Gap fill starts where a lost server may have stopped recording: its last fragment
# and the reader's batch (about 1 s) before it stopped answering, which was at most
# four probe rounds before it was suspected (dead_after_s before it was declared dead).
LOST_TAIL_S = 1.0
SUSPECT_AFTER_PROBES = 4


def build_login_throttle(config: NodeConfig) -> LoginThrottle:
    login = config.login
    return LoginThrottle(
        time.monotonic,
        free_failures=login.free_failures,
        base_delay_s=login.base_delay_s,
        max_delay_s=login.max_delay_s,
        reset_after_s=login.reset_after_s,
    )


def build_recorder(
    config: NodeConfig,
    recordings: Path,
    node_id: str,
    on_status: Callable[[CameraStatus], None],
    on_retention: Callable[[int, int], None] | None = None,
) -> RecorderService:
    retention = config.retention
    max_age_s = None if retention.max_age_days is None else retention.max_age_days * SECONDS_PER_DAY
    return RecorderService(
        recordings,
        recordings / "index.db",
        node_id,
        segment_seconds=config.segment_seconds,
        retention=RetentionPolicy(
            max_bytes=retention.max_bytes,
            min_free_bytes=retention.min_free_bytes,
            max_age_s=max_age_s,
        ),
        on_status=on_status,
        on_retention=on_retention,
    )


def build_camera_states(
    node_id: str,
    cluster: Cluster,
    internal: InternalHttp,
    own_reports: Callable[[], Mapping[str, CameraReport]],
    clock: Callable[[], float],
) -> CameraStates:
    """The camera state exchange, its digest riding on this node's gossip."""
    return CameraStates(
        node_id,
        own_reports=own_reports,
        peers=lambda: [
            (p.server_id, p.url, p.state, p.extra.get(STATE_DIGEST_KEY))
            for p in cluster.peer_views()
        ],
        post=internal.post,
        get=internal.get,
        set_digest=lambda value: cluster.set_load_extra(STATE_DIGEST_KEY, value),
        clock=clock,
    )


def build_webrtc(config: NodeConfig, live: LiveService) -> WebRtcSessions:
    return WebRtcSessions(
        live,
        config.listen_host,
        config.live.ice_servers,
        config.live.turn_username,
        config.live.turn_password,
    )


def build_gapfill(host: GapFillHost, config: NodeConfig) -> GapFillService:
    return GapFillService(
        host,
        config.gapfill,
        suspect_margin_s=SUSPECT_AFTER_PROBES * config.gossip.interval_s + LOST_TAIL_S,
        dead_margin_s=config.gossip.dead_after_s + LOST_TAIL_S,
    )
