"""Hypothesis properties of the failover planner over random systems and failure sequences.

Every plan is checked against every placement rule (`check_rules`); plans from
permuted inputs must be equal; along random failure/restore sequences a camera on
a live backup must stay unless its home returned or a higher-priority camera took
its channel.
"""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.failover._planner import (
    CameraView,
    Plan,
    Priority,
    ServerView,
    SystemView,
    UnplacedReason,
    channels_used,
    plan,
    plan_changes,
)

BOUNDED = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEQUENCES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A few fixed values make load ties (and so the id tie-break) common.
cpu_loads = st.one_of(st.sampled_from([0.0, 25.0, 50.0]), st.floats(0, 100))
net_loads = st.one_of(st.sampled_from([0.0, 1e6]), st.floats(0, 1e9))
# Small limits make channel shortages (and so priority and displacement) common.
max_cameras = st.one_of(st.integers(0, 12), st.integers(0, 130))


@st.composite
def servers(draw, *, mostly_up: bool = False) -> list[ServerView]:
    # mostly_up: most servers alive with failover on, so several backups compete.
    flags = st.sampled_from([True, True, True, False]) if mostly_up else st.booleans()
    ids = draw(
        st.lists(st.text("abcXY09-", min_size=1, max_size=3), min_size=1, max_size=8, unique=True)
    )
    return [
        ServerView(
            server_id,
            alive=draw(flags),
            failover_enabled=draw(flags),
            max_cameras=draw(max_cameras),
            cpu_percent=draw(cpu_loads),
            net_bytes_per_s=draw(net_loads),
        )
        for server_id in ids
    ]


@st.composite
def systems(draw, *, with_recorders: bool = True, mostly_up: bool = False) -> SystemView:
    server_list = draw(servers(mostly_up=mostly_up))
    homes = [s.id for s in server_list] + ["gone"]  # "gone": a home the view lacks
    count = draw(st.integers(0, 60))
    cameras = [
        CameraView(
            f"cam{i:02d}",
            draw(st.sampled_from(homes)),
            draw(st.sampled_from(list(Priority))),
            draw(st.booleans()),
        )
        for i in range(count)
    ]
    recorders: dict[str, object] = {}
    if with_recorders and cameras:
        # Gossiped recorders: any camera (or a deleted one) on any server, stale or not.
        camera_ids = [c.id for c in cameras] + ["deleted"]
        # Usually one recorder per camera; sometimes several (a healed partition).
        one_or_more = st.one_of(
            st.sampled_from(homes), st.lists(st.sampled_from(homes), max_size=3)
        )
        recorders = draw(st.dictionaries(st.sampled_from(camera_ids), one_or_more))
    return SystemView(server_list, cameras, recorders)


# Systems nobody records yet (first plan after start-up).
fresh_systems = st.one_of(
    systems(with_recorders=False), systems(with_recorders=False, mostly_up=True)
)


def load_key(server: ServerView, used: int) -> tuple[Fraction, float, float, str]:
    return (
        Fraction(used, server.takeover_limit),
        server.cpu_percent,
        server.net_bytes_per_s,
        server.id,
    )


def check_rules(view: SystemView, result: Plan) -> None:
    """Every placement rule: no backup without a second server, priorities, free
    channels, load (spread: see below)."""
    assert list(result.placement) == [c.id for c in view.cameras]
    used = channels_used(view, result)
    backups = [s for s in view.servers if s.can_take_over]
    free = [s for s in backups if used[s.id] < s.takeover_limit]
    taken = [c for c in view.cameras if c.id in result.taken_over]
    taken_per_server = {s.id: 0 for s in view.servers}
    for camera in view.cameras:
        target = result.server_for(camera.id)
        reason = result.reasons.get(camera.id)
        assert (target is None) == (reason is not None)
        if view.home_alive(camera):
            assert target == camera.home_server_id  # own cameras always on home
        elif camera.priority is Priority.NEVER:
            assert reason is UnplacedReason.NEVER_PRIORITY  # never not taken over
        elif target is not None:
            server = view.server(target)
            assert server is not None and server.can_take_over
            assert target in [s.id for s in backups] and target != camera.home_server_id
            taken_per_server[target] += 1
        else:
            # Unplaced High/Medium/Low: no free channel anywhere, and nothing of lower
            # priority holds a taken-over channel it could have.
            assert not free, f"{camera.id} unplaced while {free[0].id} has room"
            assert all(c.priority.rank >= camera.priority.rank for c in taken)
            if not backups:
                assert reason is UnplacedReason.NO_FAILOVER_SERVER
            elif reason is UnplacedReason.DISPLACED:
                was_on = view.recorders.get(camera.id, ())
                assert any(view.server(server_id) in backups for server_id in was_on)
            else:
                assert reason is UnplacedReason.NO_FREE_CHANNEL
    assert sum(taken_per_server.values()) == len(taken)  # taken_over = placed off home
    for server in view.servers:
        if not server.alive:
            assert used[server.id] == 0
        if taken_per_server[server.id]:
            # Taken-over cameras only within min(max_cameras, 128); own may exceed.
            assert used[server.id] <= server.takeover_limit
            assert used[server.id] <= 128


def check_spread(view: SystemView, result: Plan) -> None:
    """With no current recorders every takeover is placed greedily by load, so the
    last one put on `a` was placed when `a` had one channel fewer; any server `b`
    still with room must not have been lighter then."""
    assert not view.recorders
    used = channels_used(view, result)
    backups = [s for s in view.servers if s.can_take_over]
    for a in backups:
        took = sum(
            1 for c in view.cameras if result.server_for(c.id) == a.id and c.home_server_id != a.id
        )
        if not took:
            continue
        for b in backups:
            if b is not a and used[b.id] < b.takeover_limit:
                assert load_key(a, used[a.id] - 1) < load_key(b, used[b.id])


def shuffled(view: SystemView, rng: random.Random) -> SystemView:
    server_list, camera_list = list(view.servers), list(view.cameras)
    # Several recorders of one camera also come in any order (a list or a set).
    recorder_items = [(c, rng.sample(ids, len(ids))) for c, ids in view.recorders.items()]
    for items in (server_list, camera_list, recorder_items):
        rng.shuffle(items)
    return SystemView(server_list, camera_list, dict(recorder_items))


@BOUNDED
@given(systems())
def test_every_rule_holds_for_random_systems(view):
    check_rules(view, plan(view))


@BOUNDED
@given(fresh_systems)
def test_takeovers_spread_by_load_when_nothing_is_recorded_yet(view):
    result = plan(view)
    check_rules(view, result)
    check_spread(view, result)


@BOUNDED
@given(systems(), st.randoms(use_true_random=False))
def test_same_facts_in_any_order_give_the_same_plan(view, rng):
    first = plan(view)
    again = plan(shuffled(view, rng))
    assert again == first
    assert list(again.placement.items()) == list(first.placement.items())
    assert list(again.reasons.items()) == list(first.reasons.items())


@BOUNDED
@given(systems())
def test_plan_is_a_fixed_point_once_applied(view):
    """Applying the plan and planning again changes nothing (no flapping)."""
    first = plan(view)
    applied = {c: s for c, s in first.placement.items() if s is not None}
    second = plan(SystemView(view.servers, view.cameras, applied))
    assert second.placement == first.placement
    assert plan_changes(applied, second) == ()


def toggled(view: SystemView, server_id: str, recorders: dict[str, str]) -> SystemView:
    servers_after = [
        ServerView(
            s.id,
            not s.alive if s.id == server_id else s.alive,
            s.failover_enabled,
            s.max_cameras,
            s.cpu_percent,
            s.net_bytes_per_s,
        )
        for s in view.servers
    ]
    return SystemView(servers_after, view.cameras, recorders)


def check_stability(before: SystemView, old: Plan, after: SystemView, new: Plan) -> None:
    """A takeover on a backup that is still alive stays, unless its home returned
    or a higher-priority camera newly took its channel there."""
    cameras = {c.id: c for c in after.cameras}
    for camera_id in old.taken_over:
        backup_id = old.server_for(camera_id)
        camera = cameras[camera_id]
        backup = after.server(backup_id)
        if after.home_alive(camera):
            assert new.server_for(camera_id) == camera.home_server_id  # failback
            continue
        if not backup.alive:
            continue  # its backup is the server that failed
        if new.server_for(camera_id) == backup_id:
            continue
        assert new.server_for(camera_id) is None
        assert new.reasons[camera_id] is UnplacedReason.DISPLACED
        newcomers = [
            cameras[c]
            for c in new.taken_over
            if new.server_for(c) == backup_id and old.server_for(c) != backup_id
        ]
        assert any(c.priority.rank > camera.priority.rank for c in newcomers)


@SEQUENCES
@given(
    st.one_of(systems(), systems(mostly_up=True)),
    st.lists(st.integers(0, 7), min_size=1, max_size=8),
)
def test_failure_and_restore_sequences_keep_rules_and_stability(view, toggles):
    result = plan(view)
    check_rules(view, result)
    for index in toggles:
        server_id = view.servers[index % len(view.servers)].id
        # The runtime applied the previous plan: recorders are exactly its placements.
        applied = {c: s for c, s in result.placement.items() if s is not None}
        next_view = toggled(view, server_id, applied)
        next_result = plan(next_view)
        check_rules(next_view, next_result)
        check_stability(view, result, next_view, next_result)
        view, result = next_view, next_result


def side_view(view: SystemView, side: set[str]) -> SystemView:
    """What one side of a partition sees: servers on the other side look dead."""
    servers_seen = [
        ServerView(
            s.id,
            s.alive and s.id in side,
            s.failover_enabled,
            s.max_cameras,
            s.cpu_percent,
            s.net_bytes_per_s,
        )
        for s in view.servers
    ]
    return SystemView(servers_seen, view.cameras)


@SEQUENCES
@given(fresh_systems, st.data())
def test_healed_partition_converges_without_needless_moves(view, data):
    ids = [s.id for s in view.servers]
    side_a = set(data.draw(st.lists(st.sampled_from(ids), unique=True), label="side A"))
    side_b = set(ids) - side_a
    merged: dict[str, list[str]] = {}
    for side in (side_a, side_b):
        seen = side_view(view, side)
        side_plan = plan(seen)
        check_rules(seen, side_plan)
        for camera_id, server_id in side_plan.placement.items():
            if server_id is not None:
                merged.setdefault(camera_id, []).append(server_id)
    healed = SystemView(view.servers, view.cameras, merged)
    result = plan(healed)
    check_rules(healed, result)
    for camera in healed.cameras:
        recorders = healed.recorders.get(camera.id, ())
        if healed.home_alive(camera):
            continue  # failback to the home, checked by check_rules
        eligible = [s for s in recorders if healed.server(s).can_take_over]
        if eligible and camera.priority is not Priority.NEVER:
            # Kept on one of the servers already recording it: no move, no gap.
            assert result.server_for(camera.id) == eligible[0]
    for change in plan_changes(healed.recorders, result):
        if change.start_on is not None:
            camera = next(c for c in healed.cameras if c.id == change.camera_id)
            assert change.start_on == camera.home_server_id or not any(
                healed.server(s).can_take_over for s in healed.recorders.get(camera.id, ())
            )
