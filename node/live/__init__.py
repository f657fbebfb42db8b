"""Watching cameras: live view over WebRTC (the camera's own H.264, not re-encoded)
and over a fragmented-MP4 WebSocket for Media Source Extensions, fed from the
recorder's ingest of each camera and relayed from the server that records it; and
playback of recordings across segments and servers.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.live._fmp4 import Fmp4Error
from node.live._mse import MseMuxer
from node.live._playback import (
    INTERNAL_FRAMES_PATH,
    SPEEDS,
    PlaybackPlan,
    make_plan,
    stream_plan,
)
from node.live._recorded import SegmentFrameReader
from node.live._service import (
    INTERNAL_LIVE_PATH,
    STREAMS,
    LiveHost,
    LiveReader,
    LiveRefused,
    LiveService,
)
from node.live._webrtc import WebRtcSession, WebRtcSessions
from node.live._wire import encode_end, encode_frame, encode_info

__all__ = [
    "INTERNAL_FRAMES_PATH",
    "INTERNAL_LIVE_PATH",
    "SPEEDS",
    "STREAMS",
    "Fmp4Error",
    "LiveHost",
    "LiveReader",
    "LiveRefused",
    "LiveService",
    "MseMuxer",
    "PlaybackPlan",
    "SegmentFrameReader",
    "WebRtcSession",
    "WebRtcSessions",
    "encode_end",
    "encode_frame",
    "encode_info",
    "make_plan",
    "stream_plan",
]
