"""Edge storage of an emulated camera: the ring of frames it recorded itself (pure logic).

A camera with an SD card keeps recording while the network to its clients is down;
a recorder fills its gap afterwards with ONVIF Profile G replay. `FrameRing` is that
recording's index: for every captured frame its wall-clock capture time, whether it
is a keyframe and a reference (`ref`) that a unit store turns back into the frame.
It keeps `duration_s` of frames (and never more than `capacity`), dropping the
oldest, so memory is bounded.

Memory: the ring is three flat arrays (8 + 8 + 1 bytes a frame: 15,000 frames for
10 minutes at 25 fps are about 250 KB), and when the camera serves a looped encode
a ref is just the loop's unit index, so no frame bytes are copied at all.

Frames are addressed by their absolute number (`serial`): the n-th frame ever
recorded keeps number n while it stays in the ring, so a reader (a replay) can hold
a position that stays valid while the ring moves on, and tell when the frame it
wanted was dropped.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

GAP_FACTOR = 1.5  # frames further apart than this many frame intervals mark a gap


@dataclass(frozen=True)
class RecordedFrame:
    serial: int  # absolute frame number since the recording started
    wall: float  # capture time, UNIX seconds
    ref: int  # what the unit store needs to give the frame back
    keyframe: bool


class FrameRing:
    """Times, keyframe flags and refs of the last `duration_s` of frames, oldest first."""

    def __init__(self, duration_s: float, fps: float, margin_frames: int = 64) -> None:
        if duration_s <= 0 or fps <= 0:
            raise ValueError("duration and fps must be > 0")
        self.duration_s = duration_s
        self.fps = fps
        self.capacity = math.ceil(duration_s * fps) + margin_frames
        self._walls = array("d", bytes(8 * self.capacity))
        self._refs = array("q", bytes(8 * self.capacity))
        self._keys = array("B", bytes(self.capacity))
        self._first = 0  # serial of the oldest frame held
        self._next = 0  # serial the next appended frame gets

    # -- size -----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._next - self._first

    @property
    def first_serial(self) -> int:
        return self._first

    @property
    def next_serial(self) -> int:
        return self._next

    @property
    def gap_s(self) -> float:
        """Frames further apart than this belong to different contiguous sections."""
        return GAP_FACTOR / self.fps

    def memory_bytes(self) -> int:
        """Bytes of the three arrays (the ring's whole footprint besides a few fields)."""
        return sum(a.buffer_info()[1] * a.itemsize for a in (self._walls, self._refs, self._keys))

    # -- writing ----------------------------------------------------------------------

    def append(self, wall: float, ref: int, keyframe: bool) -> list[int]:
        """Record one frame; returns the refs of the frames dropped to make room."""
        if len(self) and wall < self._walls[(self._next - 1) % self.capacity]:
            raise ValueError("frames must be appended in capture order")
        dropped: list[int] = []
        while len(self) and (
            len(self) >= self.capacity
            or wall - self._walls[self._slot(self._first)] > self.duration_s
        ):
            dropped.append(self._refs[self._slot(self._first)])
            self._first += 1
        slot = self._slot(self._next)
        self._walls[slot], self._refs[slot], self._keys[slot] = wall, ref, keyframe
        self._next += 1
        return dropped

    # -- reading ------------------------------------------------------------------------

    def _slot(self, serial: int) -> int:
        return serial % self.capacity

    def get(self, serial: int) -> RecordedFrame | None:
        """Frame `serial`, or None when it was dropped or is not recorded yet."""
        if not self._first <= serial < self._next:
            return None
        slot = self._slot(serial)
        return RecordedFrame(serial, self._walls[slot], self._refs[slot], bool(self._keys[slot]))

    @property
    def earliest(self) -> float | None:
        return self._walls[self._slot(self._first)] if len(self) else None

    @property
    def latest(self) -> float | None:
        return self._walls[self._slot(self._next - 1)] if len(self) else None

    def first_at_or_after(self, wall: float) -> int:
        """Serial of the first frame captured at or after `wall` (next_serial if none)."""
        low, high = self._first, self._next
        while low < high:
            middle = (low + high) // 2
            if self._walls[self._slot(middle)] < wall:
                low = middle + 1
            else:
                high = middle
        return low

    def keyframe_at_or_before(self, wall: float) -> int | None:
        """Serial of the keyframe a replay starting at `wall` begins with.

        The last keyframe captured at or before `wall`; when the ring holds none that
        early (its oldest frames were dropped), the first keyframe after it."""
        serial = self.first_at_or_after(wall)
        if serial < self._next and self._walls[self._slot(serial)] == wall:
            serial += 1  # a frame captured exactly at `wall` is "at or before" it
        for candidate in range(serial - 1, self._first - 1, -1):
            if self._keys[self._slot(candidate)]:
                return candidate
        return self.next_keyframe(serial)

    def next_keyframe(self, serial: int) -> int | None:
        """Serial of the first keyframe at or after `serial` still held, or None."""
        for candidate in range(max(serial, self._first), self._next):
            if self._keys[self._slot(candidate)]:
                return candidate
        return None

    def sections(self) -> list[tuple[float, float]]:
        """(first, last) capture times of each contiguous run of frames held."""
        runs: list[tuple[float, float]] = []
        start = previous = None
        for serial in range(self._first, self._next):
            wall = self._walls[self._slot(serial)]
            if previous is None or wall - previous > self.gap_s:
                if start is not None:
                    runs.append((start, previous))  # type: ignore[arg-type]
                start = wall
            previous = wall
        if start is not None:
            runs.append((start, previous))  # type: ignore[arg-type]
        return runs
