"""Annex B access units from a camera: `recorder._nal.parameter_sets` (new SPS/PPS,
H.265 VPS/SPS/PPS, before a keyframe) for both codecs, and the emulator's
`emulator.rtp.split_annexb` + `parse_clock_sei` on each NAL unit. No error is
documented: anything that is not Annex B or not a clock SEI gives None."""

from __future__ import annotations

from emulator.rtp import parse_clock_sei, split_annexb
from recorder._nal import parameter_sets


def fuzz_one(data: bytes) -> None:
    for codec in ("h264", "hevc"):
        found = parameter_sets(data, codec)
        assert found is None or found.startswith(b"\x00\x00\x00\x01")
        for nal in split_annexb(data)[:64]:
            text = parse_clock_sei(codec, nal)
            assert text is None or isinstance(text, str)
