"""The event log's SQLite store: numbering, copies, queries, retention, cursors."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.events import Event, EventError, EventQuery, EventStore, event_from_json


def store(tmp_path: Path, node_id: str = "node-a", **kwargs: object) -> EventStore:
    now = [1_700_000_000.0]
    made = EventStore(tmp_path / "camkeep.db", node_id, clock=lambda: now[0], **kwargs)
    made.now = now  # type: ignore[attr-defined]
    return made


def test_own_events_are_numbered_and_survive_a_restart(tmp_path: Path) -> None:
    log = store(tmp_path)
    first = log.append("server_joined", server_id="node-a")
    second = log.append("camera_offline", camera_id="cam-1", details={"error": "x"})
    assert (first.id, second.id) == ("node-a:1", "node-a:2")
    log.close()
    again = store(tmp_path)
    assert again.last_seq == 2
    assert again.append("camera_online", camera_id="cam-1").seq == 3
    assert [e.seq for e in again.query(EventQuery())] == [3, 2, 1]


def test_copies_are_stored_once_and_queries_filter(tmp_path: Path) -> None:
    log = store(tmp_path)
    theirs = [
        Event("node-b", 1, "server_dead", 1_700_000_001_000, server_id="node-c"),
        Event(
            "node-b",
            2,
            "camera_taken_over",
            1_700_000_002_000,
            "node-b",
            "cam-9",
            {"from": "node-c", "to": "node-b"},
        ),
    ]
    assert len(log.insert(theirs)) == 2
    assert log.insert(theirs) == []  # already held
    assert log.held() == {"node-b": 2}
    assert [e.id for e in log.query(EventQuery(type="server_dead"))] == ["node-b:1"]
    assert [e.id for e in log.query(EventQuery(camera_id="cam-9"))] == ["node-b:2"]
    assert [e.id for e in log.query(EventQuery(since_ms=1_700_000_001_500))] == ["node-b:2"]
    assert [e.id for e in log.missing_for({"node-b": 1})] == ["node-b:2"]


def test_copies_of_own_events_beyond_the_counter_move_it(tmp_path: Path) -> None:
    """A data folder that lost its log must not give two events the same number."""
    log = store(tmp_path)
    log.insert([Event("node-a", 7, "server_joined", 1_700_000_000_000)])
    assert log.append("server_joined").seq == 8


def test_kept_by_age_and_count(tmp_path: Path) -> None:
    log = store(tmp_path, max_age_s=100, max_count=100)
    for i in range(150):
        log.append("camera_offline", at_ms=int((log.now[0] - 50 + i / 10) * 1000))  # type: ignore[attr-defined]
    log.append("camera_offline", at_ms=int((log.now[0] - 500) * 1000))  # type: ignore[attr-defined]
    log.prune()
    kept = log.query(EventQuery(limit=1000))
    assert len(kept) == 100
    assert min(e.seq for e in kept) == 51  # the oldest went first; the ancient one too


def test_cursors_only_move_forward_and_merge(tmp_path: Path) -> None:
    log = store(tmp_path)
    assert log.advance("webhook:1", "node-b", 5)
    assert not log.advance("webhook:1", "node-b", 3)
    assert log.merge_cursors({"webhook:1": {"node-b": 9, "node-c": 2}, "mqtt": {"node-b": 1}}) == 3
    assert log.cursors() == {"webhook:1": {"node-b": 9, "node-c": 2}, "mqtt": {"node-b": 1}}


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"id": "no-seq", "type": "server_dead", "time": "2026-01-01T00:00:00Z"},
        {"id": "a:1", "type": "weather", "time": "2026-01-01T00:00:00Z"},
        {"id": "a:1", "type": "server_dead", "time": "yesterday"},
        {"id": "a:1", "type": "server_dead", "time": "2026-01-01T00:00:00Z", "origin": "b"},
        {"id": "a:1", "type": "server_dead", "time": "2026-01-01T00:00:00Z", "details": []},
        {"id": "a:0", "type": "server_dead", "time": "2026-01-01T00:00:00Z"},
        {"id": "a:²", "type": "server_dead", "time": "2026-01-01T00:00:00Z"},  # not int()
        {"id": "a:1", "type": "server_dead", "time": "2026-01-01T00:00:00Z", "camera_id": 5},
    ],
)
def test_malformed_events_are_refused(bad: object) -> None:
    with pytest.raises(EventError):
        event_from_json(bad)


def test_json_round_trip() -> None:
    event = Event(
        "node-a", 4, "recording_gap", 1_700_000_000_123, "node-a", "cam-1", {"seconds": 2.5}
    )
    assert event_from_json(event.to_json()) == event


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(2.5, 2.5), (3, 3.0), (None, 0.0), ("2.5", 0.0), (True, 0.0), (-1, 0.0),
     (float("nan"), 0.0), (float("inf"), 0.0)],
)  # fmt: skip
def test_gap_seconds_read_only_from_a_finite_number(seconds: object, expected: float) -> None:
    # another server's event is checked for shape, not for each detail's type: the
    # status and metrics that add gaps up must not fail on one
    details = {} if seconds is None else {"seconds": seconds}
    event = Event("node-a", 1, "recording_gap", 1_700_000_000_000, "node-a", "cam-1", details)
    assert event.gap_seconds == expected
    assert event_from_json(event.to_json()).gap_seconds == expected
