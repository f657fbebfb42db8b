"""Encoded video loops for the emulated cameras (all PyAV calls live here).

Decision (wall-clock time): a loop encoded once at start cannot show a live clock in
its pixels. So the picture shows the camera name, a moving pattern and a frame/loop
timecode, and the real wall-clock time travels in-band as real cameras send it:
RTCP Sender Reports (NTP <-> RTP mapping, see `stream.py`) and an SEI
user_data_unregistered NAL (camkeep UUID + UTC ISO-8601 time of that frame + camera
name) inserted before every IDR at send time, built once per GOP. `--live-clock`
instead encodes continuously on one thread per stream (`LiveEncoder`) so the time is
burned into the pixels; it costs a core per few cameras and is meant for demos.

Loops are encoded with ultrafast/zerolatency presets (no B-frames, so decode order is
presentation order), a fixed GOP, SPS/PPS (and VPS) repeated before every IDR, and
CBR-like rate control (x264 NAL-HRD CBR with filler; x265 strict CBR), two GOPs long.
Encoded loops are cached on disk keyed by every parameter, so a second start with the
same cameras is instant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from emulator.picture import draw_picture
from emulator.rtp import (
    H264_PPS,
    H264_SPS,
    H265_PPS,
    H265_SPS,
    H265_VPS,
    fragment_nal,
    nal_type,
    split_annexb,
)

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 2  # bump when the encoder settings or the file layout change
DEFAULT_CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "camkeep" / "emulator"
)


@dataclass(frozen=True)
class EncodeParams:
    codec: str  # "h264" | "hevc"
    width: int
    height: int
    fps: int
    bitrate: int  # bits per second
    gop_frames: int
    loop_gops: int = 2
    profile: str = "baseline"  # H.264: "baseline" (constrained), "main" or "high"
    bframes: int = 0  # B-frames between references (H.264): frames sent out of order

    def cache_key(self, name: str) -> str:
        # Every input of the encode is in the key, the encoder options included (the
        # profile and B-frames only when not the defaults, so existing caches stay valid).
        values = [v for k, v in self.__dict__.items() if k not in ("profile", "bframes")]
        if (self.profile, self.bframes) != ("baseline", 0):
            values += [self.profile, self.bframes]
        settings = [CACHE_FORMAT_VERSION, name, *values, encoder_options(self)]
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class AccessUnit:
    """One encoded frame: its NAL units and their RTP payloads, ready to send."""

    nals: tuple[bytes, ...]
    payloads: tuple[bytes, ...]
    keyframe: bool
    pts_offset: int = 0  # presentation minus decode position, in frames (B-frames)

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.payloads)


@dataclass(frozen=True)
class EncodedLoop:
    codec: str
    width: int
    height: int
    fps: int
    units: tuple[AccessUnit, ...]
    parameter_sets: dict[str, bytes]  # "vps" (hevc), "sps", "pps"

    @property
    def bitrate(self) -> float:
        return sum(u.size for u in self.units) * 8 * self.fps / max(len(self.units), 1)


def slim(loop: EncodedLoop) -> EncodedLoop:
    """Drop the NAL copies of non-key units: only keyframes need them (SEI insertion)."""
    units = tuple(
        u if u.keyframe else AccessUnit((), u.payloads, False, u.pts_offset) for u in loop.units
    )
    return EncodedLoop(loop.codec, loop.width, loop.height, loop.fps, units, loop.parameter_sets)


def make_access_unit(
    codec: str, nals: list[bytes], keyframe: bool, pts_offset: int = 0
) -> AccessUnit:
    payloads = tuple(p for nal in nals for p in fragment_nal(codec, nal))
    return AccessUnit(tuple(nals), payloads, keyframe, pts_offset)


def find_parameter_sets(codec: str, nals: list[bytes]) -> dict[str, bytes]:
    wanted = (
        {H265_VPS: "vps", H265_SPS: "sps", H265_PPS: "pps"}
        if codec == "hevc"
        else {H264_SPS: "sps", H264_PPS: "pps"}
    )
    found: dict[str, bytes] = {}
    for nal in nals:
        key = wanted.get(nal_type(codec, nal))
        if key and key not in found:
            found[key] = nal
    return found


def encoder_options(params: EncodeParams) -> dict[str, str]:
    """libx264/libx265 options: fast presets, fixed GOP, in-band headers, CBR-like rate."""
    kbps = max(params.bitrate // 1000, 16)
    gop = params.gop_frames
    common = f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1"
    rate = f"bitrate={kbps}:vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    if params.codec == "hevc":
        # x265 has no filler data; a half-full initial VBV buffer stops it overspending
        # at the start, which a short loop would repeat forever (measured: within ~10%).
        extra = f"{common}:{rate}:vbv-init=0.5:bframes=0:strict-cbr=1:log-level=error"
        return {"preset": "ultrafast", "tune": "zerolatency", "x265-params": extra}
    # NAL-HRD CBR: x264 pads with filler NAL units up to the exact bitrate.
    extra = f"{common}:{rate}:nal-hrd=cbr:force-cfr=1"
    if params.profile != "baseline":
        # ultrafast alone is constrained baseline; CABAC (and 8x8 transforms for High)
        # make the profile a camera's Main or High
        extra += ":cabac=1" + (":8x8dct=1" if params.profile == "high" else "")
    if params.bframes:
        extra += f":bframes={params.bframes}:b-adapt=0:b-pyramid=none"
    options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": extra}
    if params.profile != "baseline":
        options["profile"] = params.profile
    return options


def _encoder(params: EncodeParams) -> av.codec.context.CodecContext:
    context = av.CodecContext.create("libx265" if params.codec == "hevc" else "libx264", "w")
    context.width, context.height = params.width, params.height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, params.fps)
    context.framerate = Fraction(params.fps)
    context.bit_rate = params.bitrate
    context.gop_size = params.gop_frames
    context.options = encoder_options(params)
    return context


def _frame(
    name: str, params: EncodeParams, index: int, clock_text: str, clock_ms: int | None = None
) -> av.VideoFrame:
    image = draw_picture(name, params.width, params.height, index, params.fps, clock_text, clock_ms)
    frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
    frame.pts = index
    return frame


def encode_loop(name: str, params: EncodeParams) -> EncodedLoop:
    """Encode `loop_gops` GOPs of camera `name`'s picture (seconds of CPU per camera)."""
    context = _encoder(params)
    frames = params.gop_frames * params.loop_gops
    label = f"{params.codec.upper()} {params.width}x{params.height} {params.fps} fps"
    packets = []
    for index in range(frames):
        packets.extend(context.encode(_frame(name, params, index, label)))
    packets.extend(context.encode(None))
    units = []
    for position, packet in enumerate(packets[:frames]):
        nals = split_annexb(bytes(packet))
        offset = packet.pts - position if params.bframes else 0
        units.append(make_access_unit(params.codec, nals, bool(packet.is_keyframe), offset))
    if not units or not units[0].keyframe:
        raise RuntimeError("encoder did not start with a keyframe")
    parameter_sets = find_parameter_sets(params.codec, list(units[0].nals))
    return EncodedLoop(
        params.codec, params.width, params.height, params.fps, tuple(units), parameter_sets
    )


# ---- disk cache: json header (lengths) + concatenated NAL units -------------------


def _save(loop: EncodedLoop, path: Path) -> None:
    header = {
        "codec": loop.codec,
        "size": [loop.width, loop.height, loop.fps],
        "units": [
            [u.keyframe, [len(n) for n in u.nals], *([u.pts_offset] if u.pts_offset else [])]
            for u in loop.units
        ],
    }
    head = json.dumps(header).encode()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        out.write(len(head).to_bytes(4, "big") + head)
        for unit in loop.units:
            out.writelines(unit.nals)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file


def _load(path: Path) -> EncodedLoop:
    data = path.read_bytes()
    head_len = int.from_bytes(data[:4], "big")
    header = json.loads(data[4 : 4 + head_len])
    pos = 4 + head_len
    codec = header["codec"]
    units = []
    for keyframe, lengths, *offset in header["units"]:
        nals = []
        for length in lengths:
            nals.append(data[pos : pos + length])
            pos += length
        units.append(make_access_unit(codec, nals, keyframe, offset[0] if offset else 0))
    if pos != len(data) or not units:
        raise ValueError("cache file has the wrong length")
    width, height, fps = header["size"]
    parameter_sets = find_parameter_sets(codec, list(units[0].nals))
    return EncodedLoop(codec, width, height, fps, tuple(units), parameter_sets)


def cached_loop(name: str, params: EncodeParams, cache_dir: Path | None) -> EncodedLoop:
    """The encoded loop of camera `name`, from the disk cache when it is there."""
    if cache_dir is None:
        return slim(encode_loop(name, params))
    path = cache_dir / f"{params.cache_key(name)}.loop"
    if path.exists():
        try:
            return slim(_load(path))
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring bad cache file %s: %s", path, error)
    loop = encode_loop(name, params)
    try:
        _save(loop, path)
    except OSError as error:  # a read-only home must not stop the cameras
        log.warning("cannot write video cache %s: %s", path, error)
    return slim(loop)


# ---- live clock: continuous encoding on a thread -------------------------------------


class LiveEncoder:
    """Encodes one stream continuously, burning the wall-clock time into the pixels.

    Runs on its own thread; the pacing loop takes access units with `take()`. The
    queue is short: a slow encoder drops frames rather than lagging behind.
    """

    def __init__(self, name: str, params: EncodeParams, wall: Callable[[], float] = time.time):
        self._name, self._params, self._wall = name, params, wall
        self._queue: deque[AccessUnit] = deque(maxlen=params.fps)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.parameter_sets: dict[str, bytes] = {}
        self._thread = threading.Thread(target=self._run, name=f"live-{name}", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"live encoder of {self._name} did not produce a keyframe")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def take(self) -> AccessUnit | None:
        """The next frame to send. Frames that waited (the encoder ran ahead while the
        streams were set up) are skipped up to the newest keyframe: a live clock must
        not lag a standing queue behind the wall clock."""
        queue = self._queue
        if len(queue) > 2:
            newest_key = max((i for i, unit in enumerate(queue) if unit.keyframe), default=0)
            for _ in range(newest_key):
                queue.popleft()
        try:
            return queue.popleft()
        except IndexError:
            return None

    def _run(self) -> None:
        params = self._params
        try:
            context = _encoder(params)
            index = 0
            period = 1.0 / params.fps
            next_due = time.monotonic()
            while not self._stop.is_set():
                now = self._wall()
                clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + " UTC"
                frame = _frame(self._name, params, index, clock, int(now * 1000))
                for packet in context.encode(frame):
                    nals = split_annexb(bytes(packet))
                    unit = make_access_unit(params.codec, nals, bool(packet.is_keyframe))
                    if not self.parameter_sets and unit.keyframe:
                        self.parameter_sets = find_parameter_sets(params.codec, nals)
                        self._ready.set()
                    self._queue.append(unit)
                index += 1
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1.0:  # far behind: do not try to catch up
                    next_due = time.monotonic()
        except Exception:
            log.exception("live encoder of %s stopped", self._name)
