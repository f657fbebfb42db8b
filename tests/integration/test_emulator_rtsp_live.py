"""--live-clock: frames encoded continuously with the wall-clock time in the picture."""

from __future__ import annotations

import av
import pytest

pytestmark = pytest.mark.timeout(120)


def test_live_clock_stream_is_readable(emulator_factory) -> None:
    camera = emulator_factory(width=320, height=180, extra_args=("--live-clock",))
    frames = []
    options = {"rtsp_transport": "tcp", "timeout": "10000000"}
    with av.open(camera.url(1, "main"), options=options, timeout=15) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="gray"))
            if len(frames) == 30:
                break
    assert frames[0].shape == (180, 320)
    assert (frames[0] != frames[-1]).any()  # a moving picture, not a frozen one
