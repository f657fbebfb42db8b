"""Joining per-server MP4 pieces into one continuous MP4 with PyAV (no decoding)."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from node.recordings._concat import ConcatError, concat_mp4

FPS = 10


def make_piece(path: Path, frames: int, width: int = 64, height: int = 48) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": "5", "bf": "0"}
        for i in range(frames):
            image = np.full((height, width, 3), (i * 20) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def probe(path: Path) -> tuple[int, float, list[float]]:
    with av.open(str(path)) as inp:
        v = inp.streams.video[0]
        times = [float(p.dts * p.time_base) for p in inp.demux(v) if p.dts is not None and p.size]
        return len(times), float(inp.duration or 0) / av.time_base, times


def test_pieces_join_into_one_continuous_file(tmp_path: Path) -> None:
    a = make_piece(tmp_path / "a.mp4", 20)
    b = make_piece(tmp_path / "b.mp4", 30)
    out = concat_mp4([a, b], tmp_path / "out.mp4")
    count, duration, times = probe(out)
    assert count == 50
    assert times == sorted(times) and len(set(times)) == len(times)
    steps = [round(y - x, 3) for x, y in itertools.pairwise(times)]
    assert max(steps) <= 2 / FPS  # no hole where the pieces meet
    assert 4.5 <= duration <= 5.5


def test_unreadable_or_different_pieces_are_skipped(tmp_path: Path) -> None:
    a = make_piece(tmp_path / "a.mp4", 10)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not an mp4")
    other = make_piece(tmp_path / "other.mp4", 10, width=32, height=32)
    out = concat_mp4([a, junk, other, a], tmp_path / "out.mp4")
    assert probe(out)[0] == 20


def test_nothing_usable_raises_and_leaves_no_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"x")
    with pytest.raises(ConcatError):
        concat_mp4([junk], tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    assert not (tmp_path / "out.mp4.part").exists()
