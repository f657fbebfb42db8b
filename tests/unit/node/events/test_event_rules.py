"""Who writes which event: membership, placements, camera health, disk."""

from __future__ import annotations

from node.events import (
    CameraHealth,
    DiskWatch,
    MembershipEvents,
    PlacementView,
    placement_events,
    reporter,
)


def view(
    desired: set[str], recorders: dict[str, set[str]] | None = None, **kw: object
) -> PlacementView:
    return PlacementView(
        desired=frozenset(desired),
        homes={"c1": "a", "c2": "b", "c3": "c"},
        recorders={k: frozenset(v) for k, v in (recorders or {}).items()},
        reasons=kw.get("reasons", {}),  # type: ignore[arg-type]
        alive=frozenset(kw.get("alive", {"a", "b"})),  # type: ignore[arg-type]
    )


def test_reporter_is_the_lowest_alive_id_but_the_subject() -> None:
    assert reporter({"b", "a", "c"}) == "a"
    assert reporter({"b", "a", "c"}, subject="a") == "b"
    assert reporter(set()) is None


def test_membership_events_only_from_the_reporter_and_alive_only_after_trouble() -> None:
    rules = MembershipEvents()
    assert rules.observe("c", "alive", i_report=True) is None  # first heard of: nothing
    assert rules.observe("c", "suspect", i_report=True).type == "server_suspect"
    assert rules.observe("c", "dead", i_report=True).type == "server_dead"
    assert rules.observe("c", "alive", i_report=True).type == "server_alive"
    assert rules.observe("c", "dead", i_report=False) is None  # another node reports


def test_takeover_written_by_the_backup_that_starts_it() -> None:
    before = view({"c2"})
    after = view({"c2", "c3"}, alive={"b", "a"})
    events = placement_events("b", before, after)
    assert [(e.type, e.camera_id, e.details) for e in events] == [
        ("camera_taken_over", "c3", {"from": "c", "to": "b"})
    ]
    assert placement_events("b", after, after) == []  # nothing new: nothing written


def test_return_home_written_by_the_home_when_a_backup_had_it() -> None:
    before = view(set())
    after = view({"c1"}, recorders={"c1": {"b"}})
    events = placement_events("a", before, after)
    assert [(e.type, e.details) for e in events] == [
        ("camera_returned_home", {"from": "b", "to": "a"})
    ]
    assert placement_events("a", None, view({"c1"})) == []  # a plain start is no return


def test_not_taken_over_written_by_the_reporter_once_per_reason() -> None:
    reasons = {"c3": "home server dead and priority never"}
    after = view(set(), reasons=reasons, alive={"a", "b"})
    events = placement_events("a", view(set()), after)
    assert [(e.type, e.details["reason"]) for e in events] == [("camera_not_taken_over", "never")]
    assert placement_events("b", view(set()), after) == []  # b is not the reporter
    assert placement_events("a", after, after) == []


def test_camera_offline_online_and_the_gap_between() -> None:
    health = CameraHealth("a")
    assert health.observe("c1", "connecting", None, None, 0) == []
    assert health.observe("c1", "recording", None, 1_000, 1_000) == []
    health.frame("c1", 5_000)
    offline = health.observe("c1", "reconnecting", "refused", None, 6_000)
    assert [e.type for e in offline] == ["camera_offline"]
    assert health.observe("c1", "error", "refused", None, 7_000) == []  # still offline
    back = health.observe("c1", "recording", None, 12_000, 12_000)
    assert [e.type for e in back] == ["camera_online", "recording_gap"]
    assert back[1].details == {"start_ms": 5_000, "end_ms": 12_000, "seconds": 7.0}
    assert health.observe("c1", "stopped", None, None, 13_000) == []  # a move, not a fault


def test_disk_nearly_full_once_until_it_recovers() -> None:
    disk = DiskWatch("a", min_free_ratio=0.1, margin=0.05)
    assert disk.observe(50, 100) is None
    assert disk.observe(5, 100).type == "disk_nearly_full"
    assert disk.observe(4, 100) is None
    assert disk.observe(12, 100) is None  # within the margin: no new event later
    assert disk.observe(5, 100) is None
    assert disk.observe(30, 100) is None
    assert disk.observe(5, 100).type == "disk_nearly_full"
