"""Table-driven tests of the failover planner's rules (failover settings,
priorities, free channels, load, failback)."""

from __future__ import annotations

from collections import Counter

import pytest

from node.failover._planner import (
    CameraView,
    Plan,
    PlanInputError,
    RecorderChange,
    ServerView,
    SystemView,
    UnplacedReason,
    channels_used,
    plan,
    plan_changes,
)


def srv(
    server_id: str,
    *,
    alive: bool = True,
    failover: bool = True,
    max_cameras: int = 128,
    cpu: float = 0.0,
    net: float = 0.0,
) -> ServerView:
    return ServerView(server_id, alive, failover, max_cameras, cpu, net)


def cams(home: str, count: int, priority: str = "medium", prefix: str | None = None):
    name = prefix or f"{home}-{priority}"
    return [CameraView(f"{name}{i:03d}", home, priority) for i in range(count)]


def placed_on(result: Plan, server_id: str) -> list[str]:
    return sorted(cid for cid, sid in result.placement.items() if sid == server_id)


# --- rule 1: own cameras stay on an alive home ----------------------------------


@pytest.mark.parametrize(
    ("home", "own", "priority"),
    [
        (srv("a", failover=False), 3, "never"),  # never, failover off
        (srv("a", max_cameras=0), 2, "low"),  # max 0 does not evict own cameras
        (srv("a", max_cameras=2), 5, "high"),  # own beyond max_cameras
        (srv("a", max_cameras=130), 140, "medium"),  # own beyond 128
    ],
)
def test_alive_home_records_all_its_own_cameras(home, own, priority):
    view = SystemView([home, srv("b")], cams("a", own, priority))
    result = plan(view)
    assert placed_on(result, "a") == sorted(c.id for c in view.cameras)
    assert result.taken_over == frozenset()
    assert result.reasons == {}
    assert channels_used(view, result) == {"a": own, "b": 0}


# --- rule 2: who may take over ---------------------------------------------------


def test_never_camera_of_dead_home_is_not_taken_over():
    view = SystemView([srv("a", alive=False), srv("b")], cams("a", 2, "never"))
    result = plan(view)
    assert set(result.placement.values()) == {None}
    assert set(result.reasons.values()) == {UnplacedReason.NEVER_PRIORITY}
    assert result.reasons["a-never000"] == "home server dead and priority never"


@pytest.mark.parametrize(
    ("others", "expected_server", "reason"),
    [
        ([srv("b")], "b", None),
        ([srv("b", failover=False)], None, UnplacedReason.NO_FAILOVER_SERVER),
        ([srv("b", alive=False)], None, UnplacedReason.NO_FAILOVER_SERVER),
        ([srv("b", failover=False), srv("c")], "c", None),
        ([srv("b", max_cameras=0)], None, UnplacedReason.NO_FREE_CHANNEL),
        ([], None, UnplacedReason.NO_FAILOVER_SERVER),  # a lone server has no backup
    ],
)
@pytest.mark.parametrize("priority", ["high", "medium", "low"])
def test_dead_home_camera_goes_to_alive_failover_server(others, expected_server, reason, priority):
    camera = CameraView("cam", "a", priority)
    result = plan(SystemView([srv("a", alive=False), *others], [camera]))
    assert result.server_for("cam") == expected_server
    assert result.reasons.get("cam") == reason


def test_seed_point_1_two_servers_needed_for_failover():
    lone = [srv("a", alive=False)]
    assert plan(SystemView(lone, cams("a", 3))).server_for("a-medium000") is None
    pair = [srv("a", alive=False), srv("b")]
    assert placed_on(plan(SystemView(pair, cams("a", 3))), "b") == [
        "a-medium000",
        "a-medium001",
        "a-medium002",
    ]


def test_unknown_home_counts_as_dead():
    orphans = [CameraView("x", "gone", "low"), CameraView("y", "gone", "never")]
    view = SystemView([srv("b")], orphans)
    result = plan(view)
    assert result.server_for("x") == "b"
    assert result.reasons["y"] is UnplacedReason.NEVER_PRIORITY


# --- seed point 8: channel limits --------------------------------------------------


@pytest.mark.parametrize(
    ("max_cameras", "own", "orphans", "taken"),
    [
        (10, 3, 20, 7),  # stops at max_cameras, own cameras count
        (10, 0, 4, 4),  # room to spare
        (5, 5, 3, 0),  # full of own cameras
        (3, 6, 3, 0),  # over max with own cameras: takes none
        (130, 0, 140, 128),  # never beyond 128 even if max allows more
        (128, 120, 20, 8),
        (0, 0, 5, 0),
    ],
)
def test_takeover_stays_below_max_cameras_and_128(max_cameras, own, orphans, taken):
    view = SystemView(
        [srv("a", alive=False), srv("b", max_cameras=max_cameras)],
        cams("a", orphans) + cams("b", own),
    )
    result = plan(view)
    assert len(result.taken_over) == taken
    assert channels_used(view, result)["b"] == own + taken
    assert len(result.reasons) == orphans - taken
    assert set(result.reasons.values()) <= {UnplacedReason.NO_FREE_CHANNEL}


# --- seed point 7: priority under shortage -----------------------------------------


@pytest.mark.parametrize(
    ("free", "expected"),
    [
        (1, {"high": 1, "medium": 0, "low": 0}),
        (2, {"high": 2, "medium": 0, "low": 0}),
        (3, {"high": 2, "medium": 1, "low": 0}),
        (5, {"high": 2, "medium": 2, "low": 1}),
        (6, {"high": 2, "medium": 2, "low": 2}),
    ],
)
def test_high_before_medium_before_low_when_channels_are_short(free, expected):
    orphans = cams("a", 2, "low") + cams("a", 2, "medium") + cams("a", 2, "high")
    view = SystemView([srv("a", alive=False), srv("b", max_cameras=free)], orphans)
    result = plan(view)
    counts = Counter(c.priority.value for c in view.cameras if c.id in result.taken_over)
    assert {p: counts.get(p, 0) for p in expected} == expected


def test_shortage_spans_backups_and_ties_break_by_camera_id():
    orphans = cams("a", 3, "low", prefix="z") + cams("a", 3, "low", prefix="m")
    servers = [srv("a", alive=False), srv("b", max_cameras=2), srv("c", max_cameras=2)]
    result = plan(SystemView(servers, orphans))
    assert sorted(result.taken_over) == ["m000", "m001", "m002", "z000"]


def test_later_failure_displaces_lower_priority_takeover():
    # c already took over a's low cameras and is full; then d fails with a high camera.
    servers = [srv("a", alive=False), srv("c", max_cameras=3), srv("d", alive=False)]
    lows = cams("a", 3, "low")
    high = CameraView("d-high", "d", "high")
    recorders = {c.id: "c" for c in lows}
    result = plan(SystemView(servers, [*lows, high], recorders))
    assert result.server_for("d-high") == "c"
    assert result.reasons == {"a-low000": UnplacedReason.DISPLACED}
    assert placed_on(result, "c") == ["a-low001", "a-low002", "d-high"]


def test_displacement_takes_lowest_priority_first_and_never_equal_priority():
    servers = [srv("a", alive=False), srv("c", max_cameras=2), srv("d", alive=False)]
    kept = [CameraView("m", "a", "medium"), CameraView("l", "a", "low")]
    new = [CameraView("n-med", "d", "medium"), CameraView("n-high", "d", "high")]
    result = plan(SystemView(servers, kept + new, {"m": "c", "l": "c"}))
    # n-high displaces l (lowest), n-med may not displace m (equal priority).
    assert placed_on(result, "c") == ["m", "n-high"]
    assert result.reasons == {
        "l": UnplacedReason.DISPLACED,
        "n-med": UnplacedReason.NO_FREE_CHANNEL,
    }


def test_own_cameras_are_never_displaced():
    servers = [srv("a", alive=False), srv("b", max_cameras=4)]
    view = SystemView(servers, cams("b", 4, "never") + cams("a", 2, "high"))
    result = plan(view)
    assert placed_on(result, "b") == [c.id for c in view.cameras if c.home_server_id == "b"]
    assert set(result.reasons.values()) == {UnplacedReason.NO_FREE_CHANNEL}


def test_lowered_limit_keeps_higher_priority_takeovers_first():
    servers = [srv("a", alive=False), srv("b", max_cameras=1)]
    orphans = [CameraView("h", "a", "high"), CameraView("l", "a", "low")]
    result = plan(SystemView(servers, orphans, {"h": "b", "l": "b"}))
    assert result.server_for("h") == "b"
    assert result.reasons == {"l": UnplacedReason.NO_FREE_CHANNEL}


# --- seed point 9: spread by load ---------------------------------------------------


def test_dead_servers_cameras_spread_evenly():
    servers = [srv("a", alive=False), srv("b"), srv("c"), srv("d")]
    view = SystemView(servers, cams("a", 10) + cams("b", 2, prefix="own-b"))
    used = channels_used(view, plan(view))
    assert used == {"a": 0, "b": 4, "c": 4, "d": 4}


def test_spread_is_relative_to_max_cameras():
    servers = [srv("a", alive=False), srv("b", max_cameras=10), srv("c", max_cameras=20)]
    view = SystemView(servers, cams("a", 12))
    assert channels_used(view, plan(view)) == {"a": 0, "b": 4, "c": 8}


@pytest.mark.parametrize(
    ("b", "c", "winner"),
    [
        (srv("b", cpu=50.0), srv("c", cpu=10.0), "c"),  # equal channels: lower CPU wins
        (srv("b", cpu=10.0, net=9e6), srv("c", cpu=10.0, net=1e6), "c"),  # then network
        (srv("b", cpu=10.0, net=1e6), srv("c", cpu=10.0, net=1e6), "b"),  # then id
        (srv("b", max_cameras=4, cpu=0.0), srv("c", max_cameras=8, cpu=90.0), "b"),  # 0/4 = 0/8
    ],
)
def test_load_tie_breaks(b, c, winner):
    result = plan(SystemView([srv("a", alive=False), b, c], [CameraView("x", "a", "low")]))
    assert result.server_for("x") == winner


def test_channels_before_cpu():
    servers = [srv("a", alive=False), srv("b", cpu=0.0), srv("c", cpu=99.0)]
    view = SystemView(servers, [CameraView("x", "a"), *cams("b", 1, prefix="own")])
    assert plan(view).server_for("x") == "c"


# --- stability ------------------------------------------------------------------------


def test_takeover_stays_on_its_backup_when_another_server_returns_or_fails():
    orphans = cams("a", 4)
    base = [srv("a", alive=False), srv("b"), srv("c", alive=False), srv("d")]
    recorders = {c.id: "b" for c in orphans}  # all on b: uneven, but kept
    for servers in (base, [*base[:2], srv("c"), base[3]], [*base[:3], srv("d", alive=False)]):
        result = plan(SystemView(servers, orphans, recorders))
        assert placed_on(result, "b") == sorted(recorders)
        assert plan_changes(recorders, result) == ()


@pytest.mark.parametrize(
    ("backup", "why"),
    [
        (srv("b", alive=False), "backup died"),
        (srv("b", failover=False), "backup turned failover off"),
        (srv("b", max_cameras=0), "backup has no room"),
    ],
)
def test_takeover_moves_when_its_backup_cannot_keep_it(backup, why):
    servers = [srv("a", alive=False), backup, srv("c")]
    result = plan(SystemView(servers, [CameraView("x", "a", "low")], {"x": "b"}))
    assert result.server_for("x") == "c", why


def test_stale_recorder_entries_are_ignored():
    servers = [srv("a", alive=False), srv("b")]
    recorders = {"x": "nowhere", "deleted-camera": "b", "y": "a"}
    result = plan(SystemView(servers, [CameraView("x", "a"), CameraView("y", "a")], recorders))
    assert dict(result.placement) == {"x": "b", "y": "b"}


# --- seed point 10: failback -----------------------------------------------------------


def test_failback_returns_cameras_home_make_before_break():
    orphans = cams("a", 2, "high") + cams("a", 1, "never")
    during = plan(SystemView([srv("a", alive=False), srv("b")], orphans))
    recorders = {cid: sid for cid, sid in during.placement.items() if sid is not None}
    after = plan(SystemView([srv("a"), srv("b")], orphans, recorders))
    assert placed_on(after, "a") == sorted(c.id for c in orphans)
    assert plan_changes(recorders, after) == (
        RecorderChange("a-high000", start_on="a", stop_on=("b",)),
        RecorderChange("a-high001", start_on="a", stop_on=("b",)),
        RecorderChange("a-never000", start_on="a"),
    )


# --- helpers --------------------------------------------------------------------------


def test_plan_changes_covers_start_stop_move_and_deleted_cameras():
    result = Plan(
        placement={"keep": "a", "move": "b", "new": "c", "drop": None},
        reasons={"drop": UnplacedReason.NEVER_PRIORITY},
        taken_over=frozenset({"move"}),
    )
    recorders = {"keep": "a", "move": "a", "drop": "b", "deleted": "c"}
    assert plan_changes(recorders, result) == (
        RecorderChange("deleted", start_on=None, stop_on=("c",)),
        RecorderChange("drop", start_on=None, stop_on=("b",)),
        RecorderChange("move", start_on="b", stop_on=("a",)),
        RecorderChange("new", start_on="c"),
    )


# --- partition healed: several recorders for one camera ------------------------------


def test_healed_partition_keeps_one_recorder_chosen_by_id():
    servers = [srv("a", alive=False), srv("b"), srv("c"), srv("d")]
    recorders = {"x": ["d", "c"], "y": {"b", "a"}, "z": ("c", "nowhere")}
    orphans = [CameraView(cid, "a", "low") for cid in "xyz"]
    view = SystemView(servers, orphans, recorders)
    assert view.recorders == {"x": ("c", "d"), "y": ("a", "b"), "z": ("c", "nowhere")}
    result = plan(view)
    assert dict(result.placement) == {"x": "c", "y": "b", "z": "c"}
    assert plan_changes(view.recorders, result) == (
        RecorderChange("x", start_on=None, stop_on=("d",)),  # c records already: stop d now
        RecorderChange("y", start_on=None, stop_on=("a",)),
        RecorderChange("z", start_on=None, stop_on=("nowhere",)),
    )


def test_healed_partition_with_home_back_keeps_home():
    servers = [srv("a"), srv("b")]
    recorders = {"x": ("a", "b"), "y": "b"}
    result = plan(SystemView(servers, [CameraView("x", "a"), CameraView("y", "a")], recorders))
    assert dict(result.placement) == {"x": "a", "y": "a"}
    assert plan_changes(recorders, result) == (
        RecorderChange("x", start_on=None, stop_on=("b",)),
        RecorderChange("y", start_on="a", stop_on=("b",)),
    )


def test_healed_partition_second_recorder_used_when_first_is_full():
    servers = [srv("a", alive=False), srv("b", max_cameras=1), srv("c")]
    recorders = {"x": ("b", "c"), "y": ("b", "c")}
    result = plan(SystemView(servers, [CameraView("x", "a"), CameraView("y", "a")], recorders))
    assert dict(result.placement) == {"x": "b", "y": "c"}


def test_same_facts_in_any_order_give_equal_plans():
    servers = [srv("b", cpu=3.0), srv("a", alive=False), srv("c", cpu=3.0)]
    cameras = cams("a", 5, "low") + cams("a", 3, "high") + cams("c", 2)
    recorders = {"a-low001": "c", "a-high002": "b"}
    forward = plan(SystemView(servers, cameras, recorders))
    backward = plan(
        SystemView(servers[::-1], cameras[::-1], dict(reversed(list(recorders.items()))))
    )
    assert forward == backward
    assert hash(forward) == hash(backward)  # views and plans can key a cache
    assert hash(SystemView(servers, cameras, recorders)) == hash(
        SystemView(servers[::-1], cameras[::-1], recorders)
    )
    assert list(forward.placement.items()) == list(backward.placement.items())
    assert list(forward.placement) == sorted(forward.placement)


def test_plan_is_read_only():
    result = plan(SystemView([srv("a")], cams("a", 1)))
    with pytest.raises(TypeError):
        result.placement["a-medium000"] = None  # type: ignore[index]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: srv(""), "server id"),
        (lambda: ServerView("a", 1, True, 4), "alive"),  # type: ignore[arg-type]
        (lambda: srv("a", max_cameras=-1), "max_cameras"),
        (lambda: ServerView("a", True, True, 4.5), "max_cameras"),  # type: ignore[arg-type]
        (lambda: ServerView("a", True, True, True), "max_cameras"),  # type: ignore[arg-type]
        (lambda: srv("a", cpu=float("nan")), "cpu_percent"),
        (lambda: srv("a", net=-1.0), "net_bytes_per_s"),
        (lambda: CameraView("c", "a", "urgent"), "priority"),
        (lambda: CameraView("c", ""), "home_server_id"),
        (lambda: CameraView(3, "a"), "camera id"),  # type: ignore[arg-type]
        (lambda: SystemView([srv("a"), srv("a")], []), "duplicate ServerView id 'a'"),
        (lambda: SystemView([srv("a")], cams("a", 1) * 2), "duplicate CameraView id"),
        (lambda: SystemView(["a"], []), "servers must be ServerView"),  # type: ignore[list-item]
        (lambda: SystemView([srv("a")], [], {"c": 5}), "recorder of camera c"),
        (lambda: SystemView([srv("a")], [], {"c": ["a", ""]}), "recorder of camera c"),
        (lambda: SystemView([srv("a")], [], {"": "a"}), "recorders camera id"),
        (lambda: plan_changes({"c": 5}, plan(SystemView([], []))), "recorder of camera c"),
        (lambda: SystemView([srv("a")], [], [("c", "a")]), "recorders must be a mapping"),
        (lambda: plan({"servers": []}), "SystemView"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused_with_a_clear_error(build, message):
    with pytest.raises(PlanInputError, match=message):
        build()


def test_priority_accepts_wire_strings():
    assert CameraView("c", "a", "high").priority.rank == 3
    assert CameraView("c", "a", "never").priority.rank == 0


def test_planner_modules_stay_pure():
    """No asyncio, sqlite3, av, sockets or clocks: only these imports are allowed."""
    import ast
    from pathlib import Path

    allowed = {
        "__future__",
        "collections.abc",
        "dataclasses",
        "enum",
        "fractions",
        "itertools",
        "math",
        "types",
        "node.failover._model",
        "node.system",  # the Priority and the channel ceiling, pure values
    }
    root = Path(__file__).resolve().parents[4] / "node" / "failover"
    paths = [root / "_planner.py", root / "_model.py"]
    assert all(path.exists() for path in paths)
    for path in paths:
        tree = ast.parse(path.read_text())
        for item in ast.walk(tree):
            if isinstance(item, ast.Import):
                names = {alias.name for alias in item.names}
            elif isinstance(item, ast.ImportFrom):
                names = {item.module or ""}
            else:
                continue
            assert names <= allowed, f"{path.name} imports {sorted(names - allowed)}"
