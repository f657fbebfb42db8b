"""The fast ingest's input on RTP built from real H.264 (no camera): access units come
out as packets with their keyframes and times; B-frames hand the camera to FFmpeg."""

from __future__ import annotations

import itertools
import subprocess
import threading
from pathlib import Path

import av
import pytest

from recorder._own_ingest import FastIngestUnsupported, _FastInput


def encode(path: Path, bframes: int) -> list[tuple[bytes, int, bool]]:
    """(Annex B access unit, PTS in 1/90000, keyframe) in decode order."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
         "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", str(bframes),
         "-x264-params", "b-adapt=0", "-f", "mpegts", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    with av.open(str(path)) as inp:
        video = inp.streams.video[0]
        return [
            (bytes(p), int(p.pts * p.time_base * 90000), p.is_keyframe)
            for p in inp.demux(video)
            if p.size
        ]


def nal_units(unit: bytes) -> list[bytes]:
    parts = unit.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") for p in parts if p]


def rtp(payload: bytes, stamp: int, marker: bool, seq: int) -> bytes:
    header = bytes([0x80, (0x80 if marker else 0) | 96]) + (seq & 0xFFFF).to_bytes(2, "big")
    return header + (stamp & 0xFFFFFFFF).to_bytes(4, "big") + b"\x00\x00\x00\x01" + payload


class FakeClient:
    def __init__(
        self, units: list[tuple[bytes, int, bool]], stop: threading.Event | None = None
    ) -> None:
        self.units = units
        self.stop = stop or threading.Event()  # like RtspClient: set -> the reads end

    def chunks(self):
        """The interleaved bytes, split into reads at arbitrary places."""
        seq = 0
        data = b""
        for unit, pts, _ in self.units:
            nals = nal_units(unit)
            for i, nal in enumerate(nals):
                seq += 1
                for channel, payload in (
                    (1, b"\x80\xc8rtcp"),  # RTCP on the odd channel: ignored
                    (0, rtp(nal, 1_000_000 + pts, i == len(nals) - 1, seq)),
                ):
                    data += b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload
        for start in range(0, len(data), 777):
            yield data[start : start + 777]
            if self.stop.is_set():
                return


def test_access_units_become_timed_packets(tmp_path: Path) -> None:
    units = encode(tmp_path / "plain.ts", bframes=0)
    fast = _FastInput(FakeClient(units), "h264", b"")
    fast.open(threading.Event())
    video = fast.streams.video[0]
    assert (video.codec_context.width, video.codec_context.height) == (160, 120)
    packets = list(fast.demux([video]))
    assert [p.dts for p in packets] == [1_000_000 + pts for _, pts, _ in units]
    assert [p.is_keyframe for p in packets] == [key for _, _, key in units]
    assert all(nal_units(bytes(p)) == nal_units(u[0]) for p, u in zip(packets, units, strict=True))
    fast.close()


def test_b_frames_are_left_to_ffmpeg(tmp_path: Path) -> None:
    units = encode(tmp_path / "bframes.ts", bframes=2)
    assert any(b[1] < a[1] for a, b in itertools.pairwise(units))  # reordered
    fast = _FastInput(FakeClient(units), "h264", b"")
    fast.open(threading.Event())
    with pytest.raises(FastIngestUnsupported, match="B-frames"):
        list(fast.demux(fast.streams.video))
    fast.close()


def test_stop_before_first_keyframe(tmp_path: Path) -> None:
    units = encode(tmp_path / "plain.ts", bframes=0)[1:]  # starts after the keyframe
    stop = threading.Event()
    stop.set()
    with pytest.raises(Exception, match="stopped"):
        _FastInput(FakeClient(units, stop), "h264", b"").open(stop)
