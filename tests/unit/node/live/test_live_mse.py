"""The live WebSocket's messages: nothing before a keyframe, then the stream's
description and init segment, then one fragment per frame; a new stream (reconnect,
failover) describes itself again and continues the timeline where the last ended."""

from __future__ import annotations

import pytest

import node.live._mse as mse
from node.live import MseMuxer
from recorder import LiveFrame, StreamInfo

SPS = b"\x00\x00\x00\x01\x67\x64\x00\x1f\x00\x00\x00\x01\x68\xee"
INFO = StreamInfo("h264", SPS, 320, 180)


def frame(pts: int, key: bool = False) -> LiveFrame:
    return LiveFrame((SPS if key else b"") + b"\x00\x00\x00\x01\x41\x9a", key, pts, pts)


def tfdt(fragment: bytes) -> int:
    at = fragment.find(b"tfdt")
    return int.from_bytes(fragment[at + 8 : at + 16], "big")


@pytest.fixture(autouse=True)
def no_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mse, "init_segment", lambda info, key: b"INIT")


def test_messages_of_a_stream_and_of_the_next() -> None:
    muxer = MseMuxer()
    assert muxer.on_frame(frame(0, True)) == []  # no stream described yet
    muxer.on_info(INFO)
    assert muxer.on_frame(frame(3600)) == []  # waits for a keyframe
    header, init, first = muxer.on_frame(frame(7200, True))
    assert header["type"] == "stream" and header["mime"] == 'video/mp4; codecs="avc1.64001f"'
    assert init == b"INIT" and tfdt(first) == 0
    (second,) = muxer.on_frame(frame(10800))
    assert tfdt(second) == 3600
    # the camera moved: a new stream whose clock starts elsewhere
    muxer.on_info(INFO)
    header, init, third = muxer.on_frame(frame(90_000_000, True))
    assert header["type"] == "stream" and tfdt(third) == 7200  # right after the last
