"""Pure per-packet timing logic of one ingest attempt: timestamp fix-ups and when to cut
a segment. Works on plain ints (ticks of a stream time base), so it is testable without
a camera and cheap enough to run for every packet (__slots__, no allocation on the
common path)."""

from __future__ import annotations

DROP = None  # returned by TimestampFixer.fix for a packet that must be dropped


class TimestampFixer:
    """Makes one stream's DTS strictly increasing and PTS >= DTS.

    - no DTS and no PTS: one tick after the previous packet; no DTS: use the PTS;
    - DTS not increasing by less than `jump_ticks` (duplicate, reordered): drop;
    - a jump of `jump_ticks` or more, backwards or forwards (the camera restarted its
      clock): shift the rest of the stream so it continues one `step` after the last
      packet.
    Counts what it fixed and dropped.
    """

    __slots__ = ("dropped", "fixed", "jump_ticks", "last_dts", "offset", "step")

    def __init__(self, jump_ticks: int, default_step: int = 1) -> None:
        self.jump_ticks = jump_ticks
        self.step = max(1, default_step)
        self.last_dts: int | None = None
        self.offset = 0
        self.dropped = 0
        self.fixed = 0

    def fix(self, dts: int | None, pts: int | None) -> tuple[int, int] | None:
        if dts is None:
            if pts is None:
                # RTSP often gives the first packet no time at all: place it one tick
                # after the previous one (at 0 for the first; a later jump re-bases).
                self.fixed += 1
                dts = pts = 0 if self.last_dts is None else self.last_dts + 1 - self.offset
            else:
                dts = pts
                self.fixed += 1
        if pts is None:
            pts = dts
            self.fixed += 1
        dts += self.offset
        pts += self.offset
        last = self.last_dts
        if last is not None:
            delta = dts - last
            if delta <= 0 or delta >= self.jump_ticks:
                if -self.jump_ticks < delta <= 0:
                    self.dropped += 1
                    return DROP
                shift = last + self.step - dts
                self.offset += shift
                dts += shift
                pts += shift
                self.fixed += 1
            else:
                self.step = delta
        if pts < dts:
            pts = dts
            self.fixed += 1
        self.last_dts = dts
        return dts, pts


class SegmentClock:
    """Maps the video DTS of one attempt to UTC wall time and decides segment cuts.

    The attempt is anchored at the wall time of its first keyframe. A segment starts
    where the previous one ended (so consecutive segments touch), unless the camera's
    clock drifted more than `max_drift_ms` from the wall clock, then it is re-anchored.
    """

    __slots__ = (
        "anchor_dts",
        "anchor_ms",
        "max_drift_ms",
        "segment_ticks",
        "start_dts",
        "start_ms",
        "tick_ms",
    )

    def __init__(self, time_base: float, segment_seconds: float, max_drift_ms: int = 2000):
        self.tick_ms = time_base * 1000.0
        self.segment_ticks = max(1, round(segment_seconds / time_base))
        self.max_drift_ms = max_drift_ms
        self.anchor_ms = 0
        self.anchor_dts = 0
        self.start_dts: int | None = None  # first DTS of the current segment
        self.start_ms = 0

    def wall_ms(self, dts: int) -> int:
        return self.anchor_ms + round((dts - self.anchor_dts) * self.tick_ms)

    def should_cut(self, dts: int, is_keyframe: bool) -> bool:
        """True if this video packet must start a new segment (or the first one)."""
        if self.start_dts is None:
            return is_keyframe
        return is_keyframe and dts - self.start_dts >= self.segment_ticks

    def correct(self, dts: int, now_ms: int) -> bool:
        """A packet is never handled before it was captured: if the mapping puts this
        one after `now_ms`, the anchor was taken late (packets read in batches) - move
        it, and the current segment's start, earlier. True if it moved."""
        ahead = self.wall_ms(dts) - now_ms
        if ahead <= 0:
            return False
        self.anchor_ms -= ahead
        self.start_ms -= ahead
        return True

    def start_segment(self, dts: int, now_ms: int) -> int:
        """Begin a segment at video DTS `dts`; returns its start (UTC ms)."""
        if self.start_dts is None or abs(self.wall_ms(dts) - now_ms) > self.max_drift_ms:
            self.anchor_ms = now_ms
            self.anchor_dts = dts
        self.start_dts = dts
        self.start_ms = self.wall_ms(dts)
        return self.start_ms
