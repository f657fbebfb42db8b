"""Pure pieces of the fast ingest: SDP, auth answers, timestamp unwrap, depacketizers."""

import base64
import hashlib

import pytest

from recorder._rtp import (
    RtspProtocolError,
    TimestampUnwrapper,
    VideoDepacketizer,
    authorization,
    parse_sdp,
)

SDP = """v=0\r
o=- 1 1 IN IP4 127.0.0.1\r
s=cam\r
t=0 0\r
a=control:*\r
m=video 0 RTP/AVP 96\r
a=rtpmap:96 H264/90000\r
a=fmtp:96 packetization-mode=1;profile-level-id=42001e;sprop-parameter-sets=Z0IAHqtA,aM44gA==\r
a=control:trackID=0\r
m=audio 0 RTP/AVP 97\r
a=rtpmap:97 MPEG4-GENERIC/16000/1\r
a=control:rtsp://10.0.0.1/other/track2\r
"""


def test_sdp_tracks_codecs_controls_and_parameter_sets() -> None:
    video, audio = parse_sdp(SDP, "rtsp://127.0.0.1:8554/cam1/main/")
    assert (video.kind, video.codec, video.clock_rate) == ("video", "h264", 90000)
    assert video.control == "rtsp://127.0.0.1:8554/cam1/main/trackID=0"
    assert video.parameter_sets() == (
        b"\x00\x00\x00\x01" + base64.b64decode("Z0IAHqtA") + b"\x00\x00\x00\x01"
        + base64.b64decode("aM44gA==")
    )  # fmt: skip
    assert (audio.kind, audio.codec, audio.encoding) == ("audio", None, "MPEG4-GENERIC")
    assert audio.control == "rtsp://10.0.0.1/other/track2"


def test_sdp_hevc_and_missing_control() -> None:
    text = (
        "m=video 0 RTP/AVP 98\na=rtpmap:98 H265/90000\n"
        "a=fmtp:98 sprop-vps=QAE=;sprop-sps=QgE=;sprop-pps=RAE=\n"
    )
    (track,) = parse_sdp(text, "rtsp://h/cam")
    assert track.codec == "hevc" and track.control == "rtsp://h/cam"
    assert track.parameter_sets().count(b"\x00\x00\x00\x01") == 3
    with pytest.raises(RtspProtocolError):
        parse_sdp("m=video 0\n", "rtsp://h/")


def test_digest_answer_matches_rfc_2617_and_basic_fallback() -> None:
    challenge = 'Digest realm="cam", nonce="abc", qop="auth"'
    value = authorization([challenge], "DESCRIBE", "rtsp://h/x", "admin", "pw", nc=1)
    fields = dict(part.strip().split("=", 1) for part in value[len("Digest ") :].split(","))
    cnonce = fields["cnonce"].strip('"')
    ha1 = hashlib.md5(b"admin:cam:pw").hexdigest()
    ha2 = hashlib.md5(b"DESCRIBE:rtsp://h/x").hexdigest()
    expected = hashlib.md5(f"{ha1}:abc:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
    assert fields["response"] == f'"{expected}"'
    plain = authorization(['Digest realm="r", nonce="n"'], "PLAY", "u", "a", "b")
    ha1 = hashlib.md5(b"a:r:b").hexdigest()
    assert (
        hashlib.md5(f"{ha1}:n:{hashlib.md5(b'PLAY:u').hexdigest()}".encode()).hexdigest() in plain
    )
    basic = authorization(['Basic realm="r"'], "PLAY", "u", "a", "b")
    assert basic == "Basic " + base64.b64encode(b"a:b").decode()
    with pytest.raises(RtspProtocolError):
        authorization(['Bearer realm="r"'], "PLAY", "u", "a", "b")


def test_timestamp_unwrap_across_32_bits() -> None:
    unwrap = TimestampUnwrapper().unwrap
    values = [0xFFFF0000, 0xFFFFF000, 0x00000100, 0x00010000]
    assert [unwrap(v) for v in values] == [0xFFFF0000, 0xFFFFF000, 0x100000100, 0x100010000]
    assert unwrap(0xFFFFFF00) == 0xFFFFFF00  # a late packet from before the wrap


def fu_a(nal: bytes, size: int) -> list[bytes]:
    head, body = nal[0], nal[1:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    out = []
    for i, chunk in enumerate(chunks):
        flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append(bytes([(head & 0xE0) | 28, flags | (head & 0x1F)]) + chunk)
    return out


def test_h264_single_stap_and_fragmented_units() -> None:
    dep = VideoDepacketizer("h264")
    sps, pps = b"\x67\x42\x00\x1e", b"\x68\xce\x38\x80"
    idr = b"\x65" + bytes(range(256)) * 10
    stap = b"\x18" + len(sps).to_bytes(2, "big") + sps + len(pps).to_bytes(2, "big") + pps
    assert dep.push(stap, 1000, False) is None
    parts = fu_a(idr, 1000)
    assert all(dep.push(p, 1000, False) is None for p in parts[:-1])
    ((unit, key, ts),) = dep.push(parts[-1], 1000, True)
    assert key and ts == 1000
    assert unit == b"".join(b"\x00\x00\x00\x01" + n for n in (sps, pps, idr))
    p_frame = b"\x41\x9a\x00"
    assert dep.push(p_frame, 4600, True) == [(b"\x00\x00\x00\x01" + p_frame, False, 4600)]


def test_lost_fragment_drops_the_nal_and_lost_marker_flushes_on_new_timestamp() -> None:
    dep = VideoDepacketizer("h264")
    parts = fu_a(b"\x65" + b"x" * 3000, 1000)
    assert dep.push(parts[1], 10, False) is None  # its first fragment was lost: dropped
    assert dep.push(parts[2], 10, False) is None
    assert dep.push(b"\x41abc", 10, False) is None  # and the marker packet is lost too
    assert dep.push(b"\x41def", 20, True) == [
        (b"\x00\x00\x00\x01\x41abc", False, 10),
        (b"\x00\x00\x00\x01\x41def", False, 20),
    ]
    assert dep.push(b"", 30, True) is None


def test_hevc_fragmentation_unit_and_keyframe() -> None:
    dep = VideoDepacketizer("hevc")
    nal = bytes([19 << 1, 0x01]) + b"y" * 2500  # IDR_W_RADL
    payload_header = bytes([(49 << 1) | (nal[0] & 0x81), nal[1]])
    body = nal[2:]
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    result = None
    for i, chunk in enumerate(chunks):
        flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        result = dep.push(payload_header + bytes([flags | 19]) + chunk, 5, i == len(chunks) - 1)
    assert result == [(b"\x00\x00\x00\x01" + nal, True, 5)]
    with pytest.raises(ValueError):
        VideoDepacketizer("mjpeg")
