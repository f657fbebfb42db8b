"""SDP of a DESCRIBE answer as the recorder reads it: `recorder._rtp.parse_sdp` with
the tracks' `codec` and `parameter_sets()` (sprop-* base64). `data` is the body, decoded
as the client does (UTF-8, bad bytes replaced). Documented error: `RtspProtocolError`."""

from __future__ import annotations

from recorder._rtp import RtspProtocolError, parse_sdp

BASE_URL = "rtsp://127.0.0.1:8554/cam1/main/"


def fuzz_one(data: bytes) -> None:
    try:
        tracks = parse_sdp(data.decode("utf-8", "replace"), BASE_URL)
    except RtspProtocolError:
        return
    for track in tracks:
        assert track.codec in (None, "h264", "hevc")
        assert isinstance(track.control, str)
        assert isinstance(track.parameter_sets(), bytes)
