"""The pure RTSP parser: bytes in, request / interleaved frame / error out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.rtsp_message import (
    MAX_HEADER_BYTES,
    InterleavedFrame,
    RtspParseError,
    RtspRequest,
    RtspResponse,
    parse_message,
    parse_transport,
)

OPTIONS = b"OPTIONS rtsp://127.0.0.1:8554/cam1/main RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: t\r\n\r\n"


def test_parses_a_complete_request() -> None:
    message, used = parse_message(OPTIONS + b"rest")
    assert isinstance(message, RtspRequest)
    assert used == len(OPTIONS)
    assert message.method == "OPTIONS"
    assert message.cseq == "2"
    assert message.headers["user-agent"] == "t"
    assert message.path == "/cam1/main"


def test_waits_for_more_bytes() -> None:
    for cut in (1, 10, len(OPTIONS) - 1):
        assert parse_message(OPTIONS[:cut]) == (None, 0)


def test_body_is_read_by_content_length() -> None:
    raw = b"SET_PARAMETER rtsp://h/cam1/main RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nab"
    assert parse_message(raw) == (None, 0)
    message, used = parse_message(raw + b"cde")
    assert isinstance(message, RtspRequest) and message.body == b"abcde"
    assert used == len(raw) + 3


def test_session_id_drops_parameters() -> None:
    raw = b"PLAY rtsp://h/cam1/main RTSP/1.0\r\nCSeq: 4\r\nSession: abc123;timeout=60\r\n\r\n"
    message, _ = parse_message(raw)
    assert isinstance(message, RtspRequest) and message.session_id == "abc123"


def test_interleaved_frame_from_client() -> None:
    frame = b"$\x01\x00\x04abcd"
    assert parse_message(frame[:5]) == (None, 0)
    message, used = parse_message(frame + OPTIONS)
    assert message == InterleavedFrame(1, b"abcd") and used == 8


def test_stray_newlines_are_skipped() -> None:
    message, used = parse_message(b"\r\n\r\n" + OPTIONS)
    assert message is None and used == 4


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS hello
        (b"GARBAGE\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\n\r\n", 400),  # no CSeq
        (b"OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n", 400),
        (b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505),
        (b"options * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", 400),
        # digits str.isdigit() takes and int() refuses
        ("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ²\r\n\r\n".encode(), 400),
        ("OPTIONS * RTSP/1.0\r\nCSeq: ²\r\n\r\n".encode(), 400),
        (b"OPTIONS \xff\xfe RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400),
        (b"OPTIONS http://x/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400),
    ],
)
def test_bad_requests_raise_with_a_status(raw: bytes, status: int) -> None:
    with pytest.raises(RtspParseError) as caught:
        parse_message(raw)
    assert caught.value.status == status


def test_error_keeps_cseq_when_it_can() -> None:
    with pytest.raises(RtspParseError) as caught:
        parse_message(b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nbad header\r\n\r\n")
    assert caught.value.cseq == "7"


def test_huge_header_is_refused_before_it_ends() -> None:
    raw = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 10)
    with pytest.raises(RtspParseError) as caught:
        parse_message(raw)
    assert caught.value.status == 400


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        message, used = parse_message(raw)
    except RtspParseError as error:
        assert 400 <= error.status < 600
    else:
        assert 0 <= used <= len(raw)
        assert message is None or used > 0


def test_response_encoding() -> None:
    raw = RtspResponse(454, "9", [("Session", "x")]).encode()
    assert raw.startswith(b"RTSP/1.0 454 Session Not Found\r\nCSeq: 9\r\n")
    assert b"Session: x\r\n" in raw and raw.endswith(b"\r\n\r\n")
    with_body = RtspResponse(200, "1", body=b"v=0\r\n").encode()
    assert b"Content-Length: 5\r\n\r\nv=0\r\n" in with_body


@pytest.mark.parametrize(
    ("header", "tcp", "channels", "ports"),
    [
        ("RTP/AVP/TCP;unicast;interleaved=0-1", True, (0, 1), None),
        ("RTP/AVP/TCP;unicast;interleaved=4-5", True, (4, 5), None),
        ("RTP/AVP;unicast;client_port=5000-5001", False, None, (5000, 5001)),
        ("RTP/AVP/UDP;unicast;client_port=6000", False, None, (6000, 6001)),
        ("RTP/AVP;multicast,RTP/AVP/TCP;interleaved=2-3", True, (2, 3), None),
    ],
)
def test_transport_header(header: str, tcp: bool, channels, ports) -> None:
    spec = parse_transport(header)
    assert spec is not None
    assert (spec.tcp, spec.interleaved, spec.client_port) == (tcp, channels, ports)


@pytest.mark.parametrize(
    "header",
    ["", "RAW/RAW/UDP;unicast", "RTP/AVP;unicast", "RTP/AVP/TCP;interleaved=x-y",
     "RTP/AVP;client_port=0-1", "RTP/AVP/TCP;interleaved=300-301"],
)  # fmt: skip
def test_unsupported_transport(header: str) -> None:
    assert parse_transport(header) is None
