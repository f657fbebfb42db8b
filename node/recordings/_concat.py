"""Join MP4 pieces (one per server) into ONE continuous MP4 by remuxing with PyAV.

Blocking: run it in a thread (`asyncio.to_thread(concat_mp4, ...)`). No decoding: each
piece's packets are copied with their timestamps shifted so the next piece starts one
frame after the previous one ends. Pieces must share codec and picture size (one
camera's stream); a piece that differs, or cannot be read, is skipped and logged, so
the result is still one playable file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

DEFAULT_FRAME_S = 1 / 25  # when a piece does not say how long its last frame lasts


class ConcatError(Exception):
    """No piece could be used."""


def _signature(stream: av.video.stream.VideoStream) -> tuple[str, int, int]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height)


def concat_mp4(pieces: Sequence[Path], out_path: Path) -> Path:
    """Write `out_path` from `pieces`, in order; returns it. Raises ConcatError when
    no piece holds video."""
    tmp = out_path.with_name(out_path.name + ".part")
    out = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    written = 0
    try:
        out_v = None
        signature = None
        next_start_s = 0.0  # output time where the next piece begins
        for piece in pieces:
            try:
                inp = av.open(str(piece))
            except (av.FFmpegError, OSError) as exc:
                log.warning("export: skipping unreadable piece %s: %s", piece.name, exc)
                continue
            with inp:
                if not inp.streams.video:
                    continue
                v = inp.streams.video[0]
                if signature is None:
                    signature = _signature(v)
                    out_v = out.add_stream_from_template(v)
                    if signature[0] == "hevc":
                        out_v.codec_tag = "hvc1"
                elif _signature(v) != signature:
                    log.warning("export: piece %s has another codec or size; skipped", piece.name)
                    continue
                assert out_v is not None
                next_start_s, count = _copy_piece(inp, v, out, out_v, next_start_s)
                written += count
        if written == 0:
            raise ConcatError("no video in any piece")
    finally:
        out.close()
        if written == 0:
            tmp.unlink(missing_ok=True)
    tmp.replace(out_path)
    return out_path


def _copy_piece(
    inp: av.container.InputContainer,
    v: av.video.stream.VideoStream,
    out: av.container.OutputContainer,
    out_v: av.video.stream.VideoStream,
    start_s: float,
) -> tuple[float, int]:
    """Copy one piece's video packets starting at output time `start_s`; returns the
    output time after its last frame and the packet count."""
    first_dts: int | None = None
    last_end_s = start_s
    count = 0
    tb: Fraction | None = None
    for pkt in inp.demux(v):
        if pkt.dts is None or not pkt.size:
            continue
        tb = pkt.time_base
        if first_dts is None:
            if not pkt.is_keyframe:
                continue  # a piece must start on a keyframe to decode
            first_dts = pkt.dts
        shift = round(start_s / tb) - first_dts
        duration = pkt.duration or round(DEFAULT_FRAME_S / tb)
        pkt.dts += shift
        pkt.pts = (pkt.pts if pkt.pts is not None else pkt.dts - shift) + shift
        pkt.stream = out_v
        end_s = float((pkt.dts + duration) * tb)
        out.mux(pkt)
        count += 1
        last_end_s = max(last_end_s, end_s)
    return last_end_s, count
