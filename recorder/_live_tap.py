"""Live fan-out of one camera stream: the ingest that reads the camera publishes its
access units here, and live viewers subscribe on the event loop. One camera
connection feeds the recording and every viewer.

Threads: `start_stream`, `publish` and `end_stream` run on the thread that reads the
camera (an ingest thread or the shared poller); `subscribe` and everything a
subscription does run on the event loop. Frames cross with one call_soon_threadsafe
per published batch, and only while someone watches (`viewers`): with no viewer the
ingest only keeps the current GOP (a list append per frame), so a new viewer starts at
once from the last keyframe instead of waiting up to a GOP for the next one.

A viewer that does not keep up never grows memory or slows the ingest: its queue is
bounded in bytes; past the bound it skips to the next keyframe, and a viewer that stays
behind for `DROP_AFTER_S` is dropped (its `get` raises LiveEnded)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from ._nal import parameter_sets

MAX_GOP_BYTES = 16 * 1024 * 1024  # a camera with a longer GOP: new viewers wait for a key
MAX_QUEUED_BYTES = 3 * 1024 * 1024  # per viewer: a GOP of an 8 Mbit/s, 2 s GOP camera
DROP_AFTER_S = 10.0  # a viewer still behind after skipping ahead this long is dropped


class LiveFrame(NamedTuple):
    """One access unit, Annex B. Keyframes carry their parameter sets."""

    data: bytes
    keyframe: bool
    pts: int  # 90 kHz, continuous within a stream
    dts: int


@dataclass(frozen=True)
class StreamInfo:
    """What a decoder needs before the first frame of a stream."""

    codec: str  # "h264" | "hevc"
    extradata: bytes  # Annex B parameter sets (H.265: VPS, SPS, PPS)
    width: int
    height: int
    reordered: bool = False  # frames out of presentation order (B-frames)


class LiveEnded(Exception):
    """The subscription is over; str() says why (stream moved, viewer too slow...)."""


class LiveTap:
    """The fan-out of one camera stream (see the module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "") -> None:
        self.name = name
        self.viewers = 0  # read by the ingest thread without a lock: an int is atomic
        self._loop = loop
        self._lock = threading.Lock()
        self._info: StreamInfo | None = None
        self._gop: list[LiveFrame] = []
        self._gop_bytes = 0
        self._seq = 0  # sequence number of the next frame published
        self._subs: set[LiveSubscription] = set()
        self.on_idle: Callable[[], None] | None = None  # last viewer left (loop thread)
        self.on_watched: Callable[[], None] | None = None  # first viewer came (loop thread)
        self.ended: str | None = None

    # --- ingest side (any thread) -------------------------------------------------
    def start_stream(self, info: StreamInfo) -> None:
        """A (new) stream begins: a connection, or a change of parameters."""
        with self._lock:
            self._info = info
            self._gop = []
            self._gop_bytes = 0
            self.ended = None
        if self.viewers:
            self._call(self._on_info, info)

    def publish(self, frames: list[LiveFrame]) -> None:
        """Frames in decode order. Keyframes without their parameter sets get the
        stream's (cameras that send them only in the SDP)."""
        info = self._info
        if info is None or not frames:
            return
        with self._lock:
            gop = self._gop
            for index, frame in enumerate(frames):
                if frame.keyframe:
                    if parameter_sets(frame.data, info.codec) is None:
                        frame = frames[index] = frame._replace(data=info.extradata + frame.data)
                    gop = self._gop = [frame]
                    self._gop_bytes = len(frame.data)
                elif gop and self._gop_bytes < MAX_GOP_BYTES:
                    gop.append(frame)
                    self._gop_bytes += len(frame.data)
                elif gop:
                    gop = self._gop = []  # too long: new viewers wait for the next key
            first = self._seq
            self._seq += len(frames)
        if self.viewers:
            self._call(self._fanout, first, frames)

    def publish_one(self, data: bytes, keyframe: bool, pts: int, dts: int) -> None:
        info = self._info
        if pts != dts and info is not None and not info.reordered:
            # B-frames seen: viewers that cannot take them (WebRTC) must know.
            self.start_stream(replace(info, reordered=True))
        self.publish([LiveFrame(data, keyframe, pts, dts)])

    def end_stream(self, reason: str) -> None:
        """No more frames from this tap (the camera stopped being read here)."""
        with self._lock:
            self._info = None
            self._gop = []
            self._gop_bytes = 0
            self.ended = reason
        if self.viewers:
            self._call(self._on_end, reason)

    def _call(self, callback: Callable, *args: object) -> None:
        loop = self._loop
        if loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(callback, *args)

    # --- loop side ------------------------------------------------------------------
    @property
    def info(self) -> StreamInfo | None:
        return self._info

    def subscribe(self) -> LiveSubscription:
        """A viewer's subscription: the stream's info, the current GOP, then live."""
        sub = LiveSubscription(self)
        with self._lock:
            info, gop, next_seq = self._info, list(self._gop), self._seq
        sub.next_seq = next_seq
        if info is not None:
            sub.put_info(info)
            sub.put_frames(gop)
        self._subs.add(sub)
        self.viewers = len(self._subs)
        if self.viewers == 1 and self.on_watched is not None:
            self.on_watched()
        return sub

    def _remove(self, sub: LiveSubscription) -> None:
        self._subs.discard(sub)
        self.viewers = len(self._subs)
        if not self._subs and self.on_idle is not None:
            self.on_idle()

    def _on_info(self, info: StreamInfo) -> None:
        for sub in list(self._subs):
            sub.put_info(info)

    def _fanout(self, first: int, frames: list[LiveFrame]) -> None:
        for sub in list(self._subs):
            skip = sub.next_seq - first  # already had these (subscribed with the GOP)
            if skip >= len(frames):
                continue
            sub.next_seq = first + len(frames)
            sub.put_frames(frames[skip:] if skip > 0 else frames)

    def _on_end(self, reason: str) -> None:
        for sub in list(self._subs):
            sub.end(reason)


class LiveSubscription:
    """One viewer's bounded queue of stream infos and frames (event loop only)."""

    def __init__(self, tap: LiveTap, clock: Callable[[], float] = time.monotonic) -> None:
        self.tap = tap
        self.next_seq = 0
        self.skipped = 0  # frames dropped because the viewer was behind
        self._clock = clock
        self._items: collections.deque[LiveFrame | StreamInfo] = collections.deque()
        self._bytes = 0
        self._waiting_key = False
        self._behind_since: float | None = None
        self._ended: str | None = None
        self._ready = asyncio.Event()

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    @property
    def pending(self) -> int:
        """Items waiting to be taken."""
        return len(self._items)

    def put_info(self, info: StreamInfo) -> None:
        self._items.append(info)
        self._waiting_key = True  # a new stream starts at its keyframe
        self._ready.set()

    def put_frames(self, frames: Iterable[LiveFrame]) -> None:
        if self._ended is not None:
            return
        for frame in frames:
            if self._waiting_key:
                if not frame.keyframe:
                    self.skipped += 1
                    continue
                self._waiting_key = False
            size = len(frame.data)
            if self._bytes + size > MAX_QUEUED_BYTES:
                self._fall_behind()
                if self._ended is not None:
                    return
                if not frame.keyframe:
                    self.skipped += 1
                    continue
                self._waiting_key = False
            self._items.append(frame)
            self._bytes += size
        self._ready.set()

    def _fall_behind(self) -> None:
        """The viewer is a queue behind: drop what it has not taken and skip to the
        next keyframe; a viewer behind for DROP_AFTER_S is dropped."""
        now = self._clock()
        if self._behind_since is None:
            self._behind_since = now
        elif now - self._behind_since >= DROP_AFTER_S:
            self.end("viewer too slow: dropped")
            return
        kept = [item for item in self._items if isinstance(item, StreamInfo)]
        self.skipped += len(self._items) - len(kept)
        self._items = collections.deque(kept[-1:])
        self._bytes = 0
        self._waiting_key = True

    def end(self, reason: str) -> None:
        if self._ended is None:
            self._ended = reason
            self._items.clear()
            self._bytes = 0
            self._ready.set()
            self.tap._remove(self)

    async def get(self) -> LiveFrame | StreamInfo:
        """The next stream info or frame; raises LiveEnded when the subscription ends."""
        while not self._items:
            if self._ended is not None:
                raise LiveEnded(self._ended)
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, LiveFrame):
            self._bytes -= len(item.data)
            if not self._items:
                self._behind_since = None  # caught up
        return item

    def take_ready(self) -> list[LiveFrame | StreamInfo]:
        """Everything queued now, without waiting (after a `get`)."""
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        self._behind_since = None
        return items

    def close(self) -> None:
        self.end("closed")
