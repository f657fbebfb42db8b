"""RTSP requests as the emulator's server reads them from a client connection.

`data` is what a client sends: `emulator.rtsp_message.parse_message` splits it into
requests and interleaved frames (documented error: `RtspParseError`, with a 4xx/5xx
status); each request's path, Session, Transport (`parse_transport`) and
Authorization (`rtsp_auth.Authenticator.check`) are then read as the server does.
"""

from __future__ import annotations

from emulator.rtsp_auth import Authenticator
from emulator.rtsp_message import (
    InterleavedFrame,
    RtspParseError,
    RtspRequest,
    RtspResponse,
    parse_message,
    parse_transport,
)

NOW = 1_700_000_000.0
AUTH = Authenticator("admin", "secret", secret=b"fuzz-nonce-secret")
MAX_MESSAGES = 64


def fuzz_one(data: bytes) -> None:
    buffer = bytearray(data)
    for _ in range(MAX_MESSAGES):
        try:
            message, used = parse_message(buffer)
        except RtspParseError as error:
            assert 400 <= error.status <= 599, error.status
            return
        if used == 0:
            assert message is None
            return  # waits for more bytes
        assert 0 < used <= len(buffer)
        del buffer[:used]
        if isinstance(message, InterleavedFrame):
            assert 0 <= message.channel <= 255
        elif isinstance(message, RtspRequest):
            _read_request(message)
        else:
            assert message is None  # padding skipped


def _read_request(request: RtspRequest) -> None:
    assert isinstance(request.path, str)
    assert request.session_id is None or isinstance(request.session_id, str)
    transport = parse_transport(request.headers.get("transport", ""))
    if transport is not None and transport.interleaved is not None:
        assert all(0 <= channel <= 255 for channel in transport.interleaved)
    verdict = AUTH.check(request.method, request.headers.get("authorization"), NOW, request.uri)
    assert verdict in ("ok", "stale", "denied")
    assert RtspResponse(200, request.cseq).encode().startswith(b"RTSP/1.0 200")
