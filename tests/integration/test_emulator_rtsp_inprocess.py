"""start_emulator() in-process with ports chosen by the system, as tests of other
packages use it; PyAV reads a stream, close() frees every port."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import av
import pytest

from emulator import EmulatorConfig, start_emulator

pytestmark = pytest.mark.timeout(120)


def _read(url: str) -> tuple[int, int]:
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=15) as container:
        for frame in container.decode(video=0):
            return frame.width, frame.height
    raise AssertionError("no frame")


async def test_start_emulator_in_process(tmp_path: Path) -> None:
    config = EmulatorConfig(
        rtsp_port=0, onvif_port=0, control_port=0, wsd=False, cameras=2,
        width=320, height=180, sub_width=160, sub_height=96, bitrate=300_000,
        sub_bitrate=100_000, gop_seconds=1.0, cache_dir=tmp_path,
    )  # fmt: skip
    running = await start_emulator(config)
    try:
        assert running.rtsp_port > 0 and running.control_port
        assert [c.rtsp_url("sub") for c in running.cameras] == [
            f"rtsp://127.0.0.1:{running.rtsp_port}/cam{i}/sub" for i in (1, 2)
        ]
        size = await asyncio.to_thread(_read, running.cameras[1].rtsp_url("sub"))
        assert size == (160, 96)
    finally:
        await running.close()
    with socket.socket() as probe:  # the RTSP port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", running.rtsp_port))
