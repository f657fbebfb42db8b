"""Encoded loops: keyframes where expected, parameter sets, cache round trip, bitrate."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.rtp import nal_type
from emulator.video import EncodeParams, cached_loop, encode_loop

SMALL = EncodeParams("h264", 160, 96, 10, 200_000, gop_frames=5, loop_gops=2)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_loop_has_gop_structure_and_parameter_sets(codec: str) -> None:
    params = EncodeParams(codec, 160, 96, 10, 200_000, gop_frames=5, loop_gops=2)
    loop = encode_loop("Camera 1", params)
    assert len(loop.units) == 10
    assert [u.keyframe for u in loop.units] == [True, False, False, False, False] * 2
    wanted = {"vps", "sps", "pps"} if codec == "hevc" else {"sps", "pps"}
    assert set(loop.parameter_sets) == wanted
    sps_type = 33 if codec == "hevc" else 7
    for unit in loop.units:
        if unit.keyframe:  # SPS repeated in-band before every IDR: join anywhere
            assert sps_type in {nal_type(codec, n) for n in unit.nals}
        assert all(len(p) <= 1400 for p in unit.payloads)


def test_bitrate_is_near_the_target() -> None:
    params = EncodeParams("h264", 320, 180, 25, 600_000, gop_frames=25, loop_gops=2)
    loop = encode_loop("Camera 1", params)
    assert 0.7 * 600_000 < loop.bitrate < 1.3 * 600_000


def test_cache_round_trip(tmp_path: Path) -> None:
    first = cached_loop("Camera 1", SMALL, tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    second = cached_loop("Camera 1", SMALL, tmp_path)
    assert [u.payloads for u in first.units] == [u.payloads for u in second.units]
    assert first.parameter_sets == second.parameter_sets
    cached_loop("Camera 2", SMALL, tmp_path)  # another name is another picture
    assert len(list(tmp_path.iterdir())) == 2


def test_corrupt_cache_file_is_re_encoded(tmp_path: Path) -> None:
    cached_loop("Camera 1", SMALL, tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"\x00\x00\x00\x05{}")
    loop = cached_loop("Camera 1", SMALL, tmp_path)
    assert len(loop.units) == 10 and path.stat().st_size > 100


def test_cache_key_covers_every_parameter() -> None:
    from dataclasses import replace

    keys = {
        SMALL.cache_key("Camera 1"),
        SMALL.cache_key("Camera 2"),
        replace(SMALL, codec="hevc").cache_key("Camera 1"),
        replace(SMALL, width=320).cache_key("Camera 1"),
        replace(SMALL, fps=25).cache_key("Camera 1"),
        replace(SMALL, bitrate=400_000).cache_key("Camera 1"),
        replace(SMALL, gop_frames=10).cache_key("Camera 1"),
        replace(SMALL, loop_gops=1).cache_key("Camera 1"),
    }
    assert len(keys) == 8
    assert SMALL.cache_key("Camera 1") == EncodeParams(**SMALL.__dict__).cache_key("Camera 1")
