"""Which intervals to download from a camera's storage, given the merged timeline."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.gapfill._plan import (
    EDGE_OVERWRITTEN,
    NO_EDGE_STORAGE,
    EdgeHolds,
    Span,
    Unfillable,
    closed_gaps,
    plan_fill,
    subtract,
)


def test_a_hole_between_two_stretches_of_video_is_a_closed_gap() -> None:
    coverage = [(0, 10_000), (13_000, 20_000), (20_100, 30_000)]
    assert closed_gaps(coverage, window_start_ms=0) == [Span(10_000, 13_000)]  # 100 ms: jitter


def test_before_the_first_video_and_after_the_last_is_no_gap() -> None:
    assert closed_gaps([(5_000, 8_000)], window_start_ms=0) == []
    assert closed_gaps([], window_start_ms=0, lost_at_ms=[1_000]) == []


def test_holes_ending_before_the_window_are_left_alone() -> None:
    coverage = [(0, 1_000), (2_000, 3_000), (5_000, 6_000)]
    assert closed_gaps(coverage, window_start_ms=4_000) == []
    assert closed_gaps(coverage, window_start_ms=2_500) == [Span(3_000, 5_000)]


def test_video_resuming_after_a_server_was_lost_is_filled_from_the_loss() -> None:
    # the lost server's periods are not in the timeline: only from its loss on
    assert closed_gaps([(50_000, 60_000)], window_start_ms=0, lost_at_ms=[47_000]) == [
        Span(47_000, 50_000)
    ]
    # a hole that began before the loss: the lost server holds its start
    assert closed_gaps([(0, 10_000), (50_000, 60_000)], window_start_ms=0, lost_at_ms=[47_000]) == [
        Span(47_000, 50_000)
    ]
    # a loss after the video resumed has nothing to do with this hole
    assert closed_gaps([(0, 10_000), (50_000, 60_000)], window_start_ms=0, lost_at_ms=[55_000]) == [
        Span(10_000, 50_000)
    ]


def test_without_edge_storage_every_gap_stays() -> None:
    gaps = [Span(10_000, 13_000)]
    plan = plan_fill(gaps, None)
    assert plan.downloads == () and plan.unfillable == (Unfillable(gaps[0], NO_EDGE_STORAGE),)


def test_downloads_are_padded_clipped_to_the_edge_and_chunked() -> None:
    plan = plan_fill(
        [Span(10_000, 13_000), Span(100_000, 230_000)],
        EdgeHolds(0, 500_000),
        pad_ms=1_000,
        chunk_ms=60_000,
    )
    assert plan.unfillable == ()
    assert plan.downloads == (
        Span(9_000, 14_000),
        Span(99_000, 159_000),
        Span(159_000, 219_000),
        Span(219_000, 231_000),
    )


def test_what_the_ring_no_longer_holds_stays_a_gap() -> None:
    plan = plan_fill([Span(10_000, 20_000)], EdgeHolds(15_000, 60_000), pad_ms=1_000)
    assert plan.unfillable == (Unfillable(Span(10_000, 15_000), EDGE_OVERWRITTEN),)
    assert plan.downloads == (Span(15_000, 21_000),)
    overwritten = plan_fill([Span(10_000, 20_000)], EdgeHolds(30_000, 60_000))
    assert overwritten.downloads == ()
    assert overwritten.unfillable == (Unfillable(Span(10_000, 20_000), EDGE_OVERWRITTEN),)


def test_what_the_camera_does_not_hold_yet_is_neither_filled_nor_given_up() -> None:
    plan = plan_fill([Span(50_000, 60_000)], EdgeHolds(0, 40_000))
    assert plan == plan_fill([], EdgeHolds(0, 40_000))


def test_subtract_keeps_what_is_outside_known_spans() -> None:
    assert subtract([Span(0, 100)], [Span(20, 30), Span(50, 120)]) == [Span(0, 20), Span(30, 50)]
    assert subtract([Span(0, 100)], []) == [Span(0, 100)]


spans = st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 5_000)), max_size=12).map(
    lambda items: sorted((s, s + n) for s, n in items)
)


def _union(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(items):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


@given(spans, st.lists(st.integers(0, 15_000), max_size=3), st.integers(0, 15_000))
def test_a_fill_never_downloads_what_the_timeline_holds_beyond_its_padding(
    raw, losses, window
) -> None:
    coverage = _union(raw)
    gaps = closed_gaps(coverage, window_start_ms=window, lost_at_ms=losses, min_gap_ms=1)
    for gap in gaps:
        assert gap.start_ms >= window or gap.start_ms in losses
        for s, e in coverage:
            assert e <= gap.start_ms or s >= gap.end_ms  # a gap holds no video
        assert any(s == gap.end_ms for s, _ in coverage)  # video resumed after it
    plan = plan_fill(gaps, EdgeHolds(0, 20_000), pad_ms=500, chunk_ms=1_000)
    for piece in plan.downloads:
        assert any(
            g.start_ms - 500 <= piece.start_ms and piece.end_ms <= g.end_ms + 500 for g in gaps
        )
