"""The parts of a node that are built from its configuration alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from node.config import NodeConfig
from node.security import LoginThrottle
from recorder import CameraStatus, RecorderService, RetentionPolicy

SECONDS_PER_DAY = 86400


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
