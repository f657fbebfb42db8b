"""SDP (RFC 4566) session description of one emulated stream, as DESCRIBE returns it."""

from __future__ import annotations

import base64

from emulator.rtp import PAYLOAD_TYPE

TRACK_CONTROL = "trackID=0"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fmtp_line(codec: str, parameter_sets: dict[str, bytes]) -> str:
    if codec == "hevc":
        fields = [f"sprop-{k}={_b64(parameter_sets[k])}" for k in ("vps", "sps", "pps")]
        return f"a=fmtp:{PAYLOAD_TYPE} " + ";".join(fields)
    sps, pps = parameter_sets["sps"], parameter_sets["pps"]
    profile_level_id = sps[1:4].hex()
    return (
        f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={profile_level_id};"
        f"sprop-parameter-sets={_b64(sps)},{_b64(pps)}"
    )


def build_sdp(
    *,
    host: str,
    session_id: int,
    title: str,
    codec: str,
    parameter_sets: dict[str, bytes],
    bitrate: int,
    fps: int,
    width: int,
    height: int,
    range_lines: list[str] | None = None,
    media_lines: list[str] | None = None,
) -> bytes:
    """SDP of one video stream; live by default (`a=range:npt=now-`)."""
    encoding = "H265" if codec == "hevc" else "H264"
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        f"s={title}",
        f"c=IN IP4 {host}",
        "t=0 0",
        "a=control:*",
        *(range_lines if range_lines is not None else ["a=range:npt=now-"]),
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        f"b=AS:{max(bitrate // 1000, 1)}",
        f"a=rtpmap:{PAYLOAD_TYPE} {encoding}/90000",
        fmtp_line(codec, parameter_sets),
        f"a=framerate:{fps}",
        f"a=x-dimensions:{width},{height}",
        f"a=control:{TRACK_CONTROL}",
        *(media_lines or []),
        "a=recvonly",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
