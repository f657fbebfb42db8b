"""Live fragmented MP4 for Media Source Extensions: a LiveReader's items become the
messages of the live WebSocket (pure apart from the init segment's PyAV call).

    {"type": "stream", "mime": ..., "codec": ..., "width": ..., "height": ...}  (text)
    init segment (binary), then one moof+mdat per frame (binary)

A new stream of the same camera (a reconnect, a failover to another server, new
parameters) sends "stream" and an init segment again; its timestamps continue where
the previous stream's ended, so the player appends to the same buffer."""

from __future__ import annotations

from typing import Any

from node.live._fmp4 import (
    Fmp4Error,
    Sample,
    annexb_to_sample,
    fragment,
    init_segment,
    mime_codec,
)
from recorder import LiveFrame, StreamInfo

DEFAULT_FRAME_TICKS = 3600  # 40 ms at 90 kHz, until two frames show the real interval


class MseMuxer:
    def __init__(self) -> None:
        self.info: StreamInfo | None = None
        self._need_init = False
        self._sequence = 0
        self._offset = 0  # added to the stream's timestamps, for continuity
        self._first_dts: int | None = None
        self._last_dts: int | None = None  # output time of the last frame sent
        self._step = DEFAULT_FRAME_TICKS

    def on_info(self, info: StreamInfo) -> None:
        self.info = info
        self._need_init = True
        self._first_dts = None

    def on_frame(self, frame: LiveFrame) -> list[dict[str, Any] | bytes]:
        """Messages for one frame: the stream header and init segment first when a
        stream begins (at its keyframe), then the frame's fragment."""
        info = self.info
        if info is None:
            return []
        out: list[dict[str, Any] | bytes] = []
        if self._need_init:
            if not frame.keyframe:
                return []
            try:
                init = init_segment(info, frame.data)
            except Fmp4Error as error:
                return [{"type": "error", "reason": str(error)}]
            mime = f'video/mp4; codecs="{mime_codec(info)}"'
            out.append(
                {
                    "type": "stream",
                    "mime": mime,
                    "codec": info.codec,
                    "width": info.width,
                    "height": info.height,
                }
            )
            out.append(init)
            self._need_init = False
            # continue the output timeline where the previous stream ended
            resume = 0 if self._last_dts is None else self._last_dts + self._step
            self._offset = resume - frame.dts
            self._first_dts = frame.dts
        dts = frame.dts + self._offset
        pts = frame.pts + self._offset
        if self._last_dts is not None and dts > self._last_dts:
            self._step = min(dts - self._last_dts, 90000)
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1  # never backwards within the buffer
        self._last_dts = dts
        sample = Sample(
            annexb_to_sample(frame.data, info.codec), dts, pts, self._step, frame.keyframe
        )
        self._sequence += 1
        out.append(fragment(self._sequence, [sample]))
        return out
