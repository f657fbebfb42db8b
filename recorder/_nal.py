"""In-band parameter sets of an Annex B keyframe (pure): a camera that changes its
resolution or codec settings sends new SPS/PPS (H.265: VPS/SPS/PPS) with the next
keyframe; the recorder starts a new segment with them."""

from __future__ import annotations

_START = b"\x00\x00\x01"
# NAL unit types: parameter sets, and the first slice type that ends the search.
_H264_PARAMS = frozenset({7, 8})  # SPS, PPS
_H265_PARAMS = frozenset({32, 33, 34})  # VPS, SPS, PPS


def _nal_type(codec: str, first_byte: int) -> int:
    return first_byte & 0x1F if codec == "h264" else (first_byte >> 1) & 0x3F


def _is_slice(codec: str, nal_type: int) -> bool:
    return 1 <= nal_type <= 5 if codec == "h264" else nal_type < 32


def parameter_sets(data: bytes, codec: str) -> bytes | None:
    """Annex B extradata (start code + NAL for each parameter set, in order) found before
    the first slice of `data`, or None if `data` is not Annex B or carries none."""
    if codec not in ("h264", "hevc"):
        return None
    found: list[bytes] = []
    pos = data.find(_START)
    if pos < 0 or pos > 1:  # Annex B starts with 00 00 01 or 00 00 00 01
        return None
    wanted = _H264_PARAMS if codec == "h264" else _H265_PARAMS
    while pos >= 0:
        begin = pos + 3
        if begin >= len(data):
            break
        nal_type = _nal_type(codec, data[begin])
        if _is_slice(codec, nal_type):
            break
        end = data.find(_START, begin)
        nal = data[begin:] if end < 0 else data[begin:end]
        if nal_type in wanted:
            found.append(b"\x00\x00\x00\x01" + nal.rstrip(b"\x00"))
        pos = end
    return b"".join(found) or None
