"""Hybrid logical clock: monotonic, ordered after observed remote stamps, validating."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.replication._hlc import (
    HybridClock,
    Timestamp,
    TimestampError,
    timestamp_from_json,
    timestamp_to_json,
)


class Wall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_now_uses_wall_clock_and_counter_when_wall_stands_still() -> None:
    wall = Wall(1000)
    clock = HybridClock("a", wall)
    assert clock.now() == Timestamp(1000, 0, "a")
    assert clock.now() == Timestamp(1000, 1, "a")
    wall.ms = 2000
    assert clock.now() == Timestamp(2000, 0, "a")


def test_now_never_goes_back_when_wall_clock_steps_back() -> None:
    wall = Wall(5000)
    clock = HybridClock("a", wall)
    first = clock.now()
    wall.ms = 1000
    assert clock.now() > first


def test_local_write_after_observe_sorts_after_remote_from_the_future() -> None:
    clock = HybridClock("a", Wall(1000))
    remote = Timestamp(9000, 7, "z")
    clock.observe(remote)
    assert clock.now() > remote


def test_observe_same_wall_takes_greater_counter() -> None:
    clock = HybridClock("b", Wall(1000))
    clock.now()
    clock.observe(Timestamp(1000, 5, "a"))
    assert clock.now() == Timestamp(1000, 6, "b")


def test_max_drift_refuses_far_future_remote_and_keeps_clock() -> None:
    clock = HybridClock("a", Wall(1000), max_drift_ms=500)
    with pytest.raises(TimestampError):
        clock.observe(Timestamp(2000, 0, "z"))
    assert clock.now() == Timestamp(1000, 0, "a")


def test_timestamps_order_by_wall_then_counter_then_node() -> None:
    assert Timestamp(1, 9, "z") < Timestamp(2, 0, "a")
    assert Timestamp(1, 1, "z") < Timestamp(1, 2, "a")
    assert Timestamp(1, 1, "a") < Timestamp(1, 1, "b")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"wall_ms": 1, "counter": 0},
        {"wall_ms": 1, "counter": 0, "node_id": "a", "extra": 1},
        {"wall_ms": -1, "counter": 0, "node_id": "a"},
        {"wall_ms": True, "counter": 0, "node_id": "a"},
        {"wall_ms": 1.5, "counter": 0, "node_id": "a"},
        {"wall_ms": 1, "counter": "0", "node_id": "a"},
        {"wall_ms": 1, "counter": 0, "node_id": ""},
        {"wall_ms": 1, "counter": 0, "node_id": "x" * 500},
        {"wall_ms": 1, "counter": 0, "node_id": "a\nb"},
        {"wall_ms": 10**20, "counter": 0, "node_id": "a"},
    ],
)
def test_timestamp_from_json_rejects_bad_input(data: object) -> None:
    with pytest.raises(TimestampError):
        timestamp_from_json(data)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("now"), st.integers(0, 10_000)),
            st.tuples(st.just("observe"), st.integers(0, 10_000), st.integers(0, 50)),
        ),
        max_size=40,
    )
)
def test_property_issued_stamps_strictly_increase_and_follow_observed(ops: list) -> None:
    wall = Wall(0)
    clock = HybridClock("n", wall)
    last_issued: Timestamp | None = None
    max_observed: Timestamp | None = None
    for op in ops:
        if op[0] == "now":
            wall.ms = op[1]
            ts = clock.now()
            assert last_issued is None or ts > last_issued
            assert max_observed is None or ts > max_observed
            assert timestamp_from_json(timestamp_to_json(ts)) == ts
            last_issued = ts
        else:
            remote = Timestamp(op[1], op[2], "m")
            clock.observe(remote)
            max_observed = remote if max_observed is None else max(max_observed, remote)
