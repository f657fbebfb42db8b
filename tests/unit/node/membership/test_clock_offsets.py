"""Clock offsets per peer, their states with hysteresis, and who is judged off."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.membership import ClockJudge, ClockOffsets, peer_clock_text
from node.membership._clock_offsets import (
    FILTER_S,
    MAX_OFFSET_MS,
    OFFSET_MAX_AGE_S,
    clock_state,
    self_offset,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0


def test_table_keeps_the_latest_offset_and_drops_old_ones() -> None:
    clock = FakeClock()
    table = ClockOffsets()
    table.observe("b", 1500, clock.now)
    table.observe("b", 2500, clock.now)
    table.observe("c", -40, clock.now)
    assert table.fresh(clock.now) == {"b": 2.5, "c": -0.04}
    clock.now += OFFSET_MAX_AGE_S - 1
    table.observe("c", -30, clock.now)
    clock.now += 2
    assert table.fresh(clock.now) == {"c": -0.03}  # b was measured over a minute ago
    table.forget("c")
    assert table.get("c") is None


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_table_clips_wild_offsets(offset_ms: int) -> None:
    table = ClockOffsets()
    table.observe("b", offset_ms, 0.0)
    sample = table.get("b")
    assert sample is not None and abs(sample.offset_ms) <= MAX_OFFSET_MS
    assert (sample.offset_ms > 0) == (offset_ms > 0) or sample.offset_ms == offset_ms == 0


def test_table_is_bounded() -> None:
    table = ClockOffsets(max_peers=3)
    for i in range(5):
        table.observe(f"n{i}", i, float(i))
    assert set(table.fresh(5.0)) == {"n2", "n3", "n4"}  # the oldest measurements went


def test_states_with_hysteresis() -> None:
    assert clock_state(0.3, None) == "ok"
    assert clock_state(-2.1, None) == "skewed"
    assert clock_state(1.8, "skewed") == "skewed"  # not yet a margin inside
    assert clock_state(1.4, "skewed") == "ok"
    assert clock_state(30.5, "ok") == "refused"
    assert clock_state(-29.8, "refused") == "refused"
    assert clock_state(29.0, "refused") == "skewed"
    assert clock_state(1.0, "refused") == "ok"
    assert clock_state(5.0, None, warn_s=10.0) == "ok"


def test_two_nodes_blame_nobody() -> None:
    judge = ClockJudge()
    report = judge.judge({"b": 3600.0}, {"b"})
    assert report.self_offset_s is None and report.self_state is None
    assert report.peers["b"].state == "refused" and report.peers["b"].named
    assert report.warning == (
        "this server's clock and server b's differ by about 3600 s; check NTP on both"
    )
    text = peer_clock_text("b", 3600.0, "refused")
    assert "differs from this server's by about 3600 s (ahead)" in text
    # the other side says the same about this one
    other = ClockJudge().judge({"a": -3600.0}, {"a"})
    assert other.self_offset_s is None and other.peers["a"].named
    assert other.warning == (
        "this server's clock and server a's differ by about 3600 s; check NTP on both"
    )
    assert ClockJudge().judge({"a": 0.5}, {"a"}).warning is None


def test_the_others_agreeing_blame_this_node() -> None:
    judge = ClockJudge()
    report = judge.judge({"a": -3600.2, "b": -3599.9, "c": -3600.0}, {"a", "b", "c"})
    assert report.self_offset_s == pytest.approx(3600.0)
    assert report.self_state == "refused"
    assert report.warning is not None
    assert "this server's clock differs from the other servers by about 3600 s" in (report.warning)
    assert not any(p.named for p in report.peers.values())  # the peers are not wrong


def test_a_lone_wrong_peer_is_named_not_this_node() -> None:
    judge = ClockJudge()
    report = judge.judge({"a": 0.1, "b": -0.2, "x": 3600.0}, {"a", "b", "x"})
    assert report.self_offset_s is None and report.warning is None
    assert report.peers["x"].named and report.peers["x"].state == "refused"
    assert not report.peers["a"].named and report.peers["a"].state == "ok"


def test_small_skew_of_this_node_is_a_warning_not_a_refusal() -> None:
    report = ClockJudge().judge({"a": -5.0, "b": -5.2}, {"a", "b"})
    assert report.self_state == "skewed"
    assert report.warning is not None and "about 5.1 s (ahead)" in report.warning
    assert "refuse" not in report.warning


def test_disagreeing_offsets_blame_nobody() -> None:
    # both ahead of us, but by very different amounts: two wrong clocks, not ours
    assert self_offset({"a": 5.0, "b": 40.0}) is None
    # opposite signs
    assert self_offset({"a": 5.0, "b": -5.0, "c": 0.0}) is None
    # a majority is needed: one of three off
    assert self_offset({"a": 0.0, "b": 0.1, "c": 50.0}) is None
    # two of three agree
    assert self_offset({"a": -60.0, "b": -61.0, "c": 0.0}) == pytest.approx(60.5)


def test_only_members_that_count_vote() -> None:
    # a long-dead member's old measurement (not in `peers`) does not tip the vote
    report = ClockJudge().judge({"a": -100.0, "b": -100.0, "c": 0.0}, {"a", "c"})
    assert report.self_offset_s is None
    assert report.peers["b"].state == "refused"


def test_self_warning_clears_with_hysteresis() -> None:
    judge = ClockJudge()
    assert judge.judge({"a": -3.0, "b": -3.0}, {"a", "b"}).self_state == "skewed"
    still = judge.judge({"a": -2.2, "b": -2.2}, {"a", "b"})
    assert still.self_state == "skewed" and still.warning is not None
    assert judge.judge({"a": -1.0, "b": -1.0}, {"a", "b"}).warning is None


def test_what_each_server_shows() -> None:
    odd = ClockJudge().judge({"a": -3600.0, "b": -3600.0}, {"a", "b"})
    mine = odd.server("x", "x")
    assert (mine.offset_s, mine.state) == (3600.0, "refused") and mine.warning == odd.warning
    peer = odd.server("a", "x")
    assert (peer.offset_s, peer.state, peer.warning) == (-3600.0, "refused", None)
    assert odd.server("unknown", "x") == odd.server("unknown", "x")
    assert odd.server("unknown", "x").state is None

    healthy = ClockJudge().judge({"b": 0.2, "x": 3600.0}, {"b", "x"})
    assert healthy.server("a", "a").state == "ok" and healthy.server("a", "a").warning is None
    x = healthy.server("x", "a")
    assert x.state == "refused" and x.offset_s == 3600.0
    assert x.warning is not None and x.warning.startswith("the clock of server x differs")
    assert healthy.server("b", "a").warning is None


def test_a_delayed_datagram_is_not_a_clock_that_is_off() -> None:
    """Delay only makes `ts - now` smaller: the best recent sample is the offset, so an
    event loop that stalled for seconds does not look like a clock three seconds
    behind; a real step shows once the samples from before it are older than FILTER_S."""
    table = ClockOffsets()
    for i in range(20):
        table.observe("b", 5, at_s=i * 0.1)
    table.observe("b", -3_000, at_s=2.0)  # queued 3 s behind a stalled loop
    assert table.fresh(2.0)["b"] == pytest.approx(0.005)
    step = 2.0 + FILTER_S + 0.1
    table.observe("b", -3_600_000, at_s=step)  # the peer's clock really stepped back
    assert table.fresh(step)["b"] == pytest.approx(-3600.0)
