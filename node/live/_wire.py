"""The node-to-node framing of a live or recorded stream (pure): what a relaying node
reads from the server that records the camera.

    record = kind (1 byte) | length (4 bytes, big endian) | payload
    I  stream info: JSON {codec, extradata (base64), width, height, reordered}
    F  frame: flags (1 byte, bit 0 keyframe) | pts | dts | wall ms (3 x int64) | Annex B
    E  end: the reason, UTF-8

Frames are the camera's own bytes; timestamps are 90 kHz; `wall ms` is the frame's
wall-clock time for recorded frames (0 for live ones)."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass

from recorder import LiveFrame, StreamInfo

MAX_RECORD_BYTES = 32 * 1024 * 1024  # larger than any access unit a camera sends
_HEAD = struct.Struct(">cI")
_FRAME = struct.Struct(">Bqqq")


class WireError(Exception):
    """The peer sent something that is not this framing."""


@dataclass(frozen=True, slots=True)
class WireFrame:
    frame: LiveFrame
    wall_ms: int


def _record(kind: bytes, payload: bytes) -> bytes:
    return _HEAD.pack(kind, len(payload)) + payload


def encode_info(info: StreamInfo) -> bytes:
    body = {
        "codec": info.codec,
        "extradata": base64.b64encode(info.extradata).decode(),
        "width": info.width,
        "height": info.height,
        "reordered": info.reordered,
    }
    return _record(b"I", json.dumps(body).encode())


def encode_frame(frame: LiveFrame, wall_ms: int = 0) -> bytes:
    head = _FRAME.pack(1 if frame.keyframe else 0, frame.pts, frame.dts, wall_ms)
    return _record(b"F", head + frame.data)


def encode_end(reason: str) -> bytes:
    return _record(b"E", reason.encode()[:1000])


def _decode_info(payload: bytes) -> StreamInfo:
    try:
        body = json.loads(payload)
        codec = body["codec"]
        if codec not in ("h264", "hevc"):
            raise WireError(f"codec {codec!r} is not H.264/H.265")
        return StreamInfo(
            codec,
            base64.b64decode(body["extradata"]),
            int(body["width"]),
            int(body["height"]),
            bool(body.get("reordered", False)),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise WireError(f"bad stream info: {error}") from None


class WireDecoder:
    """Feed bytes as they arrive; take whole records (StreamInfo, WireFrame, or the
    end reason as str)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[StreamInfo | WireFrame | str]:
        self._buffer += data
        out: list[StreamInfo | WireFrame | str] = []
        buffer = self._buffer
        pos = 0
        while len(buffer) - pos >= _HEAD.size:
            kind, length = _HEAD.unpack_from(buffer, pos)
            if length > MAX_RECORD_BYTES:
                raise WireError("record too large")
            end = pos + _HEAD.size + length
            if len(buffer) < end:
                break
            payload = bytes(buffer[pos + _HEAD.size : end])
            pos = end
            if kind == b"I":
                out.append(_decode_info(payload))
            elif kind == b"F":
                if len(payload) < _FRAME.size:
                    raise WireError("frame record too short")
                flags, pts, dts, wall_ms = _FRAME.unpack_from(payload)
                data = payload[_FRAME.size :]
                out.append(WireFrame(LiveFrame(data, bool(flags & 1), pts, dts), wall_ms))
            elif kind == b"E":
                out.append(payload.decode("utf-8", "replace"))
            else:
                raise WireError(f"unknown record kind {kind!r}")
        del buffer[:pos]
        return out
