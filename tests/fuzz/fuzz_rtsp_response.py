"""RTSP answers as the recorder's own RTSP client reads them from a camera.

`data` is everything a camera sends on the connection: `recorder._rtsp_client`
reads the answers to DESCRIBE (with a Digest/Basic 401 challenge answered by
`_rtp.authorization`, the SDP parsed by `parse_sdp`), SETUP (Session and timeout) and
PLAY, over a real socket pair, with interleaved frames arriving early kept aside.
Documented errors: `RtspProtocolError`, `RtspStalled`, and `ConnectionError` (the
camera closed the connection: here, the end of `data`).
"""

from __future__ import annotations

import socket

from recorder._rtp import RtspProtocolError
from recorder._rtsp_client import RtspClient, RtspStalled

URL = "rtsp://127.0.0.1:8554/cam1/main"


def fuzz_one(data: bytes) -> None:
    camera, ours = socket.socketpair()
    try:
        camera.sendall(data)
        camera.shutdown(socket.SHUT_WR)
        client = RtspClient(URL, "admin", "secret", timeout_s=5.0)
        client.sock = ours
        try:
            tracks = client.describe()
            video = next((t for t in tracks if t.kind == "video"), None)
            if video is None:
                return
            video.parameter_sets()
            client.setup(video, 0)
            assert client._session is not None
            # whatever timeout the camera names, the keep-alives keep going
            assert 5.0 <= client._session_timeout_s <= 3600.0, client._session_timeout_s
            client.play()
        except (RtspProtocolError, RtspStalled, ConnectionError):
            return
        finally:
            client.sock = None
    finally:
        camera.close()
        ours.close()
