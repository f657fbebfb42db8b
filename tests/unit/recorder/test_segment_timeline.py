"""Timestamp fix-ups, cut decisions, wall-clock mapping, reconnect backoff (pure)."""

import random

from hypothesis import given
from hypothesis import strategies as st

from recorder._backoff import BACKOFF_CAP_S, backoff_delay
from recorder._timeline import SegmentClock, TimestampFixer

TB = 1 / 90000
STEP = 3600  # 25 fps at 90 kHz


def test_good_stream_passes_unchanged() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    out = [fixer.fix(d, d) for d in range(0, 10 * STEP, STEP)]
    assert out == [(d, d) for d in range(0, 10 * STEP, STEP)]
    assert (fixer.fixed, fixer.dropped) == (0, 0)


def test_missing_dts_uses_pts_and_missing_both_is_placed_after_previous() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    assert fixer.fix(None, None) == (0, 0)  # RTSP's first keyframe often has no time
    assert fixer.fix(None, 3600) == (3600, 3600)
    assert fixer.fix(None, None) == (3601, 3601)
    assert fixer.fix(7200, None) == (7200, 7200)
    assert (fixer.fixed, fixer.dropped) == (4, 0)


def test_first_untimed_packet_then_large_timestamps_rebase() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    fixer.fix(None, None)
    assert fixer.fix(5_000_000, 5_000_000) == (1, 1)
    assert fixer.fix(5_003_600, 5_003_600) == (3601, 3601)


def test_duplicate_and_small_backward_dts_are_dropped() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    fixer.fix(1000, 1000)
    assert fixer.fix(1000, 1000) is None
    assert fixer.fix(900, 900) is None
    assert fixer.fix(1000 + STEP, 1000 + STEP) == (1000 + STEP, 1000 + STEP)
    assert fixer.dropped == 2


def test_clock_reset_backwards_and_jump_forwards_continue_one_step_later() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    fixer.fix(5_000_000, 5_000_000)
    fixer.fix(5_000_000 + STEP, 5_000_000 + STEP)
    last = 5_000_000 + STEP
    assert fixer.fix(10, 10) == (last + STEP, last + STEP)  # camera restarted its clock
    assert fixer.fix(10 + STEP, 10 + STEP) == (last + 2 * STEP, last + 2 * STEP)
    far = 10 + STEP + 50_000_000
    assert fixer.fix(far, far) == (last + 3 * STEP, last + 3 * STEP)
    assert fixer.fixed == 2


def test_pts_before_dts_is_raised_to_dts() -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    assert fixer.fix(1000, 500) == (1000, 1000)


@given(st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=200))
def test_output_dts_strictly_increasing_and_pts_not_below(raw: list[int | None]) -> None:
    fixer = TimestampFixer(jump_ticks=900000)
    last = None
    for i, value in enumerate(raw):
        pts = None if value is None else value + (i % 3) * 100
        out = fixer.fix(value, pts)
        if out is None:
            continue
        dts, pts_out = out
        assert last is None or dts > last
        assert pts_out >= dts
        last = dts


def test_cut_only_at_keyframe_after_segment_length() -> None:
    clock = SegmentClock(TB, segment_seconds=2.0)
    assert not clock.should_cut(0, False)  # the first segment starts at a keyframe
    assert clock.should_cut(0, True)
    clock.start_segment(0, now_ms=1_000_000)
    assert not clock.should_cut(90000, True)  # 1 s: too early
    assert not clock.should_cut(180000, False)  # 2 s but not a keyframe
    assert clock.should_cut(180000, True)
    assert clock.should_cut(200000, True)


def test_segments_touch_and_map_to_wall_time() -> None:
    clock = SegmentClock(TB, segment_seconds=2.0)
    assert clock.start_segment(90000, now_ms=1_000_000) == 1_000_000
    assert clock.wall_ms(90000 + 45000) == 1_000_500
    # next segment 2 s later in media time; the wall clock says 2.3 s: still continuous
    assert clock.start_segment(270000, now_ms=1_002_300) == 1_002_000


def test_drift_beyond_limit_reanchors_to_wall_clock() -> None:
    clock = SegmentClock(TB, segment_seconds=2.0, max_drift_ms=2000)
    clock.start_segment(0, now_ms=1_000_000)
    assert clock.start_segment(180000, now_ms=1_010_000) == 1_010_000
    assert clock.wall_ms(180000 + 90000) == 1_011_000


def test_backoff_grows_caps_and_jitters() -> None:
    rng = random.Random(7)
    assert backoff_delay(0, rng) == 0.0
    first = [backoff_delay(1, rng) for _ in range(50)]
    assert all(0.25 <= d <= 0.5 for d in first)
    assert len(set(first)) > 40  # jittered
    assert all(1.0 <= backoff_delay(3, rng) <= 2.0 for _ in range(20))
    assert all(BACKOFF_CAP_S / 2 <= backoff_delay(n, rng) <= BACKOFF_CAP_S for n in (6, 30, 1000))


def test_anchor_taken_late_is_corrected_earlier_never_later() -> None:
    clock = SegmentClock(TB, segment_seconds=60.0)
    # the first keyframe was handled 300 ms after it arrived (read in a batch)
    clock.start_segment(0, now_ms=1_000_300)
    # 1 s later in media time, a packet handled as soon as it arrived: at 1_001_000
    assert clock.correct(90000, now_ms=1_001_000)
    assert clock.start_ms == 1_000_000
    assert clock.wall_ms(90000) == 1_001_000
    # a packet handled late says nothing about the anchor
    assert not clock.correct(180000, now_ms=1_002_400)
    assert clock.start_ms == 1_000_000
