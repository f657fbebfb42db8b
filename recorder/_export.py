"""Export: remux the segment files covering a time range into one seekable MP4.

Thread: a worker thread (RecorderService.export runs it with asyncio.to_thread); it
blocks on reading and writing files, never on the event loop."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import av

from ._model import ExportError

log = logging.getLogger(__name__)


def export_segments(
    segments: Sequence[tuple[Path, int]], start_ms: int, end_ms: int, out_path: Path
) -> Path:
    """Remux the segments (path, start UTC ms), in order, into one seekable MP4 covering
    [start_ms, end_ms]: it begins at the keyframe at or before start_ms and its
    timestamps continue across segments (gaps between segments are closed up). Stops
    early at a segment whose codec or picture size differs from the first.

    Segments may overlap (video downloaded from the camera's storage next to what was
    recorded live): a segment is played up to where the next one starts, which is a
    keyframe, so no instant is played twice."""
    tmp = out_path.with_name(out_path.name + ".part")
    out = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    written = 0
    try:
        out_v = out_a = None
        signature = None
        offset_s = 0.0  # export time of the current segment's time 0
        next_offset_s = 0.0
        last_out: dict[int, float] = {}
        started = False
        for position, (seg_path, seg_start_ms) in enumerate(segments):
            following = segments[position + 1][1] if position + 1 < len(segments) else None
            try:
                inp = av.open(str(seg_path))
            except (av.FFmpegError, OSError) as exc:
                log.warning("export: skipping unreadable %s: %s", seg_path.name, exc)
                continue
            with inp:
                if not inp.streams.video:
                    continue
                v = inp.streams.video[0]
                a = inp.streams.audio[0] if inp.streams.audio else None
                sig = (v.codec_context.name, v.codec_context.width, v.codec_context.height)
                if signature is None:
                    signature = sig
                    out_v = out.add_stream_from_template(v)
                    if v.codec_context.name == "hevc":
                        out_v.codec_tag = "hvc1"
                    out_a = out.add_stream_from_template(a) if a is not None else None
                elif sig != signature:
                    break
                rel_start_s = (start_ms - seg_start_ms) / 1000.0
                rel_end_s = (end_ms - seg_start_ms) / 1000.0
                # the next segment takes over where it starts (only when it starts later)
                rel_cut_s = (
                    (following - seg_start_ms) / 1000.0
                    if following is not None and following > seg_start_ms
                    else float("inf")
                )
                offset_s = next_offset_s
                gop: list = []
                streams = [v] + ([a] if a is not None and out_a is not None else [])
                done = False
                for pkt in inp.demux(streams):
                    if pkt.dts is None or not pkt.size:
                        continue
                    tb = float(pkt.time_base)
                    t = pkt.pts * tb if pkt.pts is not None else pkt.dts * tb
                    is_video = pkt.stream_index == v.index
                    if is_video and t >= rel_end_s:
                        done = True
                        break
                    if is_video and t >= rel_cut_s:
                        break
                    if not started:
                        if is_video and pkt.is_keyframe and t <= rel_start_s:
                            gop = [pkt]  # the latest keyframe at or before start
                            continue
                        if not gop:
                            if is_video and pkt.is_keyframe:
                                gop = [pkt]  # start lies before this segment's first keyframe
                            else:
                                continue
                        else:
                            gop.append(pkt)
                        if not (is_video and t >= rel_start_s) and not (
                            is_video and rel_start_s < 0
                        ):
                            continue
                        started = True
                        offset_s = -gop[0].dts * float(gop[0].time_base)
                        pending, gop = gop, []
                    else:
                        pending = [pkt]
                    for p in pending:
                        ptb = float(p.time_base)
                        shift = round(offset_s / ptb)
                        p.dts += shift
                        p.pts = (p.pts if p.pts is not None else p.dts - shift) + shift
                        key = 0 if p.stream_index == v.index else 1
                        at = p.dts * ptb
                        if at <= last_out.get(key, -1.0) or p.dts < 0:
                            continue
                        last_out[key] = at
                        if key == 0:
                            next_offset_s = max(next_offset_s, at + (p.duration or 0) * ptb)
                        p.stream = out_v if key == 0 else out_a
                        out.mux_one(p)
                        written += 1
                if done:
                    break
        if not written:
            raise ExportError("no recorded video in the requested range")
    except (av.FFmpegError, OSError) as exc:
        out.close()
        tmp.unlink(missing_ok=True)
        raise ExportError(f"export failed: {exc}") from None
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
    out.close()
    os.replace(tmp, out_path)
    return out_path
