"""Merged timeline of a camera across servers, and the one-server-per-instant export plan."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from node.recordings._merge import Piece, coverage, export_pieces, gaps, merge_periods
from recorder import Period

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def per(start: float, end: float, sid: str) -> Period:
    return Period(start=t(start), end=t(end), server_id=sid)


def test_failover_and_failback_timeline_keeps_every_period_and_marks_overlaps() -> None:
    periods = [
        per(0, 100, "home"),  # until the kill
        per(102, 200, "backup"),  # taken over 2 s later
        per(199, 300, "home"),  # failback: home starts before backup stops
        per(0, 100, "home"),  # duplicate answer
    ]
    merged = merge_periods(periods)
    assert [(m.server_id, m.overlap) for m in merged] == [
        ("home", False),
        ("backup", True),
        ("home", True),
    ]
    assert coverage(merged) == [(t(0), t(100)), (t(102), t(300))]
    assert gaps(merged, t(-10), t(310)) == [(t(-10), t(0)), (t(100), t(102)), (t(300), t(310))]


def test_export_pieces_switch_servers_once_per_handover() -> None:
    periods = [per(0, 100, "home"), per(102, 200, "backup"), per(199, 300, "home")]
    assert export_pieces(periods, t(50), t(250)) == [
        Piece("home", t(50), t(100)),
        Piece("backup", t(102), t(200)),
        Piece("home", t(200), t(250)),
    ]


def test_export_pieces_partition_overlap_uses_one_copy() -> None:
    # both sides recorded 10..60; stay on the server already in use
    periods = [per(0, 60, "a"), per(10, 80, "b")]
    assert export_pieces(periods, t(0), t(80)) == [
        Piece("a", t(0), t(60)),
        Piece("b", t(60), t(80)),
    ]
    # from 10 both live: the one reaching further wins
    assert export_pieces(periods, t(10), t(80)) == [Piece("b", t(10), t(80))]


def test_empty_and_out_of_range() -> None:
    assert merge_periods([]) == []
    assert export_pieces([per(0, 10, "a")], t(20), t(30)) == []
    assert gaps([], t(0), t(5)) == [(t(0), t(5))]


spans = st.lists(
    st.tuples(st.integers(0, 100), st.integers(1, 50), st.sampled_from("abc")), max_size=12
)


@given(spans)
def test_pieces_cover_exactly_the_coverage_and_do_not_overlap(raw) -> None:
    periods = [per(s, s + d, sid) for s, d, sid in raw]
    pieces = export_pieces(periods, t(0), t(200))
    for before, after in itertools.pairwise(pieces):
        assert before.end <= after.start
    covered = coverage([Period(p.start, p.end, p.server_id) for p in pieces])
    assert covered == coverage(periods)
    for piece in pieces:  # each piece lies inside what its server holds
        own = [p for p in periods if p.server_id == piece.server_id]
        assert gaps(own, piece.start, piece.end) == []


@given(spans)
def test_merge_keeps_every_distinct_period(raw) -> None:
    periods = [per(s, s + d, sid) for s, d, sid in raw]
    merged = merge_periods(periods)
    assert {(m.start, m.end, m.server_id) for m in merged} == {
        (p.start, p.end, p.server_id) for p in periods
    }
    assert merged == sorted(merged)


def test_parse_periods_of_a_peer_attributes_them_to_it_and_refuses_junk() -> None:
    import pytest

    from node.recordings._across_servers import parse_periods, period_to_json

    body = {
        "periods": [
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z", "server_id": "x"},
            {"start": "2026-01-01T00:02:00+00:00", "end": "2026-01-01T00:02:00+00:00"},
        ]
    }
    periods = parse_periods(body, "peer")
    assert periods == [per(0, 60, "peer")]  # attributed to who answered; empty dropped
    assert period_to_json(periods[0]) == {
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T00:01:00Z",
        "server_id": "peer",
        "source": "live",
    }
    for bad in (
        None,
        {"periods": "x"},
        {"periods": [1]},
        {"periods": [{"start": "yesterday", "end": "2026-01-01T00:00:00Z"}]},
        {"periods": [{"start": "2026-01-01T00:00:00", "end": "2026-01-01T00:01:00"}]},
        {"periods": [{"start": 5, "end": 6}]},
    ):
        with pytest.raises(ValueError):
            parse_periods(bad, "peer")
