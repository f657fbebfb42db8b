"""What the emulator offers live-view tests: the machine-readable clock drawn by
--live-clock reads back exactly; High profile and B-frames reach the encoder (and the
cache keys of default cameras do not change); frames sent out of order carry their
presentation offsets; a live encoder that ran ahead skips to its newest keyframe."""

from __future__ import annotations

import numpy as np

from emulator.picture import clock_block_size, draw_picture
from emulator.video import AccessUnit, EncodeParams, LiveEncoder, encode_loop, encoder_options


def read_clock(picture: np.ndarray) -> int | None:
    side = clock_block_size(picture.shape[1])
    half = side // 2
    bits = [1 if picture[half, i * side + half].mean() > 128 else 0 for i in range(34)]
    if bits[0] != 1 or bits[33] != 0:
        return None
    value = 0
    for bit in bits[1:33]:
        value = value * 2 + bit
    return value


def test_clock_blocks_read_back() -> None:
    for ms in (0, 1, 1_796_206_952_703 & 0xFFFFFFFF, 0xFFFFFFFF):
        image = draw_picture("Camera 1", 640, 360, 7, 25, "now", ms)
        assert read_clock(np.asarray(image)) == ms
    assert read_clock(np.asarray(draw_picture("Camera 1", 640, 360, 7, 25, "now"))) is None


def test_profile_and_bframes_options_and_stable_cache_keys() -> None:
    plain = EncodeParams("h264", 320, 180, 25, 300_000, 25)
    assert plain.cache_key("c") == EncodeParams("h264", 320, 180, 25, 300_000, 25, 2).cache_key("c")
    high = EncodeParams("h264", 320, 180, 25, 300_000, 25, profile="high", bframes=2)
    assert high.cache_key("c") != plain.cache_key("c")
    options = encoder_options(high)
    assert options["profile"] == "high"
    assert "8x8dct=1" in options["x264-params"] and "bframes=2" in options["x264-params"]
    assert "profile" not in encoder_options(plain)


def test_bframes_loop_has_presentation_offsets() -> None:
    params = EncodeParams("h264", 64, 64, 25, 100_000, 10, 1, profile="high", bframes=2)
    loop = encode_loop("c", params)
    offsets = [u.pts_offset for u in loop.units]
    assert loop.units[0].keyframe and offsets[0] == 0
    assert any(o > 0 for o in offsets) and any(o < 0 for o in offsets)
    presented = sorted(i + o for i, o in enumerate(offsets))
    assert presented == list(range(len(offsets)))  # every frame shown once


def test_live_encoder_skips_a_standing_queue_to_its_newest_keyframe() -> None:
    params = EncodeParams("h264", 64, 64, 25, 100_000, 10)
    encoder = LiveEncoder("c", params)

    def unit(key: bool) -> AccessUnit:
        return AccessUnit((), (), key)

    for key in (True, False, False, True, False):
        encoder._queue.append(unit(key))
    assert encoder.take().keyframe  # the second keyframe, not the first
    assert not encoder.take().keyframe and encoder.take() is None
