"""The failover controller core: plan -> this node's recorder set, make-before-break."""

from __future__ import annotations

from node.failover._controller import (
    FailoverController,
    FailoverInputs,
    PeerState,
    server_view,
)
from node.failover._cpu_level import CpuLevel, cpu_level_of, quantise


def server(sid: str, *, failover: bool = True, max_cameras: int = 8, licensed: int = 8) -> dict:
    return {
        "id": sid,
        "failover_enabled": failover,
        "max_cameras": max_cameras,
        "licensed_channels": licensed,
    }


def camera(cid: str, home: str, priority: str = "medium", continuous: bool = True) -> dict:
    return {
        "id": cid,
        "home_server_id": home,
        "priority": priority,
        "continuous_recording": continuous,
    }


SERVERS = (server("a"), server("b"), server("c"))
CAMERAS = (camera("a1", "a"), camera("a2", "a"), camera("b1", "b"), camera("c1", "c"))


def peers(**states: str) -> dict[str, PeerState]:
    return {sid: PeerState(state) for sid, state in states.items()}


def inputs(**kw) -> FailoverInputs:
    kw.setdefault("servers", SERVERS)
    kw.setdefault("cameras", CAMERAS)
    return FailoverInputs(**kw)


def test_records_own_cameras_when_everyone_alive() -> None:
    ctl = FailoverController("a", started_at=0.0)
    d = ctl.decide(inputs(peers=peers(b="alive", c="alive")), now=10.0)
    assert d.desired == {"a1", "a2"}
    assert d.handing_over == {}


def test_dead_servers_cameras_taken_over_by_some_backup() -> None:
    pe = peers(a="alive", b="alive", c="dead")
    got = {
        sid: FailoverController(sid, started_at=0.0).decide(inputs(peers=pe), 10.0).desired
        for sid in ("a", "b")
    }
    assert "c1" in got["a"] ^ got["b"]  # exactly one of them takes it


def test_suspect_counts_as_alive_and_never_priority_waits() -> None:
    cams = (camera("c1", "c", priority="never"), camera("c2", "c"))
    ctl = FailoverController("a", started_at=0.0)
    assert ctl.decide(inputs(cameras=cams, peers=peers(b="dead", c="suspect")), 10).desired == set()
    d = ctl.decide(inputs(cameras=cams, peers=peers(b="dead", c="dead")), 11)
    assert d.desired == {"c2"}
    assert d.plan.server_for("c1") is None


def test_unheard_server_alive_only_during_startup_grace() -> None:
    ctl = FailoverController("a", started_at=100.0, startup_grace_s=3.0)
    assert ctl.decide(inputs(peers={}), now=101.0).desired == {"a1", "a2"}
    later = ctl.decide(inputs(peers={}), now=104.0).desired
    assert {"b1", "c1"} <= later


def test_failover_disabled_server_takes_nothing() -> None:
    servers = (server("a", failover=False), server("b"), server("c"))
    ctl = FailoverController("a", started_at=0.0)
    d = ctl.decide(inputs(servers=servers, peers=peers(b="dead", c="dead")), 10)
    assert d.desired == {"a1", "a2"}


def test_max_cameras_and_priority_under_shortage() -> None:
    servers = (server("a", max_cameras=3), server("b", max_cameras=0))
    cams = (
        camera("a1", "a"),
        camera("a2", "a"),
        camera("b1", "b", "low"),
        camera("b2", "b", "high"),
        camera("b3", "b", "medium"),
    )
    ctl = FailoverController("a", started_at=0.0)
    d = ctl.decide(inputs(servers=servers, cameras=cams, peers=peers(b="dead")), 10)
    assert d.desired == {"a1", "a2", "b2"}


def test_continuous_off_is_not_recorded() -> None:
    cams = (camera("a1", "a", continuous=False), camera("a2", "a"))
    ctl = FailoverController("a", started_at=0.0)
    assert ctl.decide(inputs(cameras=cams, peers=peers(b="alive", c="alive")), 1).desired == {"a2"}


def test_failback_is_make_before_break() -> None:
    # b has been recording c1 while c was dead; c returns
    ctl = FailoverController("b", started_at=0.0, handover_timeout_s=10.0)
    base = dict(peers=peers(a="alive", c="alive"), own_active=frozenset({"b1", "c1"}))
    d = ctl.decide(inputs(**base, own_recording=frozenset({"b1", "c1"})), now=50.0)
    assert d.desired == {"b1", "c1"}  # keeps c1 until c records it
    assert d.handing_over == {"c1": "c"}
    d = ctl.decide(inputs(**base, recording={"c": frozenset({"c1"})}), now=51.0)
    assert d.desired == {"b1"}  # c confirmed: let go
    assert d.handing_over == {}


def test_handover_times_out_and_stays_released() -> None:
    ctl = FailoverController("b", started_at=0.0, handover_timeout_s=5.0)
    base = dict(peers=peers(a="alive", c="alive"), own_active=frozenset({"b1", "c1"}))
    assert "c1" in ctl.decide(inputs(**base), now=10.0).desired
    assert "c1" in ctl.decide(inputs(**base), now=14.9).desired
    assert "c1" not in ctl.decide(inputs(**base), now=15.0).desired
    # the recorder has not applied yet: still active, must stay released
    assert "c1" not in ctl.decide(inputs(**base), now=15.5).desired
    # once gone from the recorder, a later move starts a fresh timer
    ctl.decide(inputs(peers=base["peers"], own_active=frozenset({"b1"})), now=16.0)
    assert "c1" in ctl.decide(inputs(**base), now=17.0).desired


def test_deleted_or_displaced_camera_stops_at_once() -> None:
    ctl = FailoverController("b", started_at=0.0)
    d = ctl.decide(
        inputs(peers=peers(a="alive", c="alive"), own_active=frozenset({"b1", "gone"})), 1.0
    )
    assert d.desired == {"b1"}


def test_healed_partition_converges_to_one_recorder() -> None:
    # c is dead; during a partition a and b both took c1; after healing each sees both
    pe = peers(a="alive", b="alive", c="dead")
    both = {"a": frozenset({"a1", "a2", "c1"}), "b": frozenset({"b1", "c1"})}
    decisions = {}
    for me in ("a", "b"):
        ctl = FailoverController(me, started_at=0.0)
        others = {sid: s for sid, s in both.items() if sid != me}
        decisions[me] = ctl.decide(
            inputs(peers=pe, recording=others, own_active=both[me], own_recording=both[me]), 10.0
        )
    keepers = [me for me, d in decisions.items() if "c1" in d.desired]
    assert keepers == ["a"]  # first by id among current recorders keeps it
    assert decisions["a"].plan == decisions["b"].plan


def test_bad_records_are_ignored_not_fatal() -> None:
    servers = (*SERVERS, {"id": 5}, {"no": "id"}, server("a"))
    cams = (*CAMERAS, {"id": ""}, {"id": "x"}, camera("p", "a", priority="bogus"))
    ctl = FailoverController("a", started_at=0.0)
    d = ctl.decide(inputs(servers=servers, cameras=cams, peers=peers(b="alive", c="alive")), 1)
    assert d.desired == {"a1", "a2", "p"}


def test_quantise() -> None:
    assert quantise(49.0, 25.0) == 25.0
    assert quantise(49.0, 50.0) == 0.0
    assert quantise(float("nan"), 25.0) == 0.0
    assert quantise(-3, 25.0) == 0.0


def test_recording_digest_and_fetch_bookkeeping() -> None:
    from node.failover._exchange import RecordingSets, parse_recorder_sets, recording_digest

    assert recording_digest(["b", "a"]) == recording_digest({"a", "b"})
    assert recording_digest([]) != recording_digest(["a"])
    assert len(recording_digest(str(i) * 30 for i in range(200))) <= 64  # fits gossip extra
    sets = RecordingSets(refresh_s=2.0)
    assert sets.needs_fetch("b", None, 0.0)
    sets.store("b", frozenset({"x"}), 0.0)
    assert not sets.needs_fetch("b", recording_digest(["x"]), 1.0)
    assert sets.needs_fetch("b", recording_digest(["x", "y"]), 1.0)  # digest moved
    assert sets.needs_fetch("b", None, 2.0)  # too old
    sets.keep_only(["c"])
    assert sets.sets() == {}
    assert parse_recorder_sets({"recording": ["a"]}) == ({"a"}, {"a"})
    assert parse_recorder_sets({"recording": ["a"], "active": ["b"]}) == ({"a"}, {"a", "b"})
    assert recording_digest(["a"], ["a", "b"]) != recording_digest(["a"], ["a"])
    sets.store("b", frozenset({"x"}), 5.0, frozenset({"y"}))
    assert sets.active_sets() == {"b": {"x", "y"}}
    assert not sets.needs_fetch("b", recording_digest(["x"], ["y"]), 5.5)
    for bad in (
        None,
        [],
        {"recording": "a"},
        {"recording": [1]},
        {"recording": [""]},
        {"recording": [], "active": None},
    ):
        try:
            parse_recorder_sets(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_server_added_later_gets_its_own_grace() -> None:
    ctl = FailoverController("a", started_at=0.0, startup_grace_s=3.0)
    only_a = inputs(servers=(server("a"),), cameras=(camera("a1", "a"),), peers={})
    assert ctl.decide(only_a, now=1.0).desired == {"a1"}
    # at 100 s b is added (with a camera); gossip has not reached it yet
    ab = inputs(servers=(server("a"), server("b")), cameras=(camera("b1", "b"),), peers={})
    assert ctl.decide(ab, now=100.0).desired == set()
    assert ctl.decide(ab, now=102.9).desired == set()
    assert ctl.decide(ab, now=103.0).desired == {"b1"}  # never heard of: dead after grace


def test_failback_delay_leaves_own_cameras_with_a_recording_backup_for_a_while() -> None:
    ctl = FailoverController("c", started_at=100.0, failback_delay_s=5.0)
    backup_has_c1 = inputs(peers=peers(a="alive", b="alive"), recording={"b": frozenset({"c1"})})
    d = ctl.decide(backup_has_c1, now=101.0)
    assert d.desired == set() and d.deferred == {"c1"}
    assert d.plan.server_for("c1") == "c"  # the plan still says home: the backup keeps it
    assert ctl.decide(backup_has_c1, now=105.0).desired == {"c1"}
    # nobody records it (every peer's set known): no reason to wait
    fresh = FailoverController("c", started_at=100.0, failback_delay_s=5.0)
    known = {"a": frozenset(), "b": frozenset({"b1"})}
    assert fresh.decide(
        inputs(peers=peers(a="alive", b="alive"), recording=known), 101.0
    ).desired == {"c1"}
    # a peer's set not fetched yet: it might be the backup, wait (at most the delay)
    unknown = FailoverController("c", started_at=100.0, failback_delay_s=5.0)
    partial = inputs(peers=peers(a="alive", b="alive"), recording={"a": frozenset()})
    assert unknown.decide(partial, now=101.0).desired == set()
    assert unknown.decide(partial, now=105.0).desired == {"c1"}


def test_backup_waits_for_a_delayed_failback() -> None:
    ctl = FailoverController("b", started_at=0.0, handover_timeout_s=10.0, failback_delay_s=5.0)
    base = dict(peers=peers(a="alive", c="alive"), own_active=frozenset({"b1", "c1"}))
    assert "c1" in ctl.decide(inputs(**base), now=20.0).desired
    assert "c1" in ctl.decide(inputs(**base), now=34.0).desired  # 10 + 5 s
    assert "c1" not in ctl.decide(inputs(**base), now=35.0).desired


def test_a_camera_a_live_peer_just_let_go_is_not_started_at_once() -> None:
    # b's view after a healed partition: c (c1's home) is still dead to b, a took c1
    # during the partition and gives it back to c, which a has already heard is back
    ctl = FailoverController("b", started_at=0.0, release_grace_s=1.0)
    dead_c = peers(a="alive", b="alive", c="dead")
    a_with_c1 = {"a": frozenset({"a1", "a2", "c1"})}
    first = ctl.decide(inputs(peers=dead_c, recording=a_with_c1), 10.0)
    assert "c1" not in first.desired  # a records it: stays there
    released = ctl.decide(inputs(peers=dead_c, recording={"a": frozenset({"a1", "a2"})}), 10.3)
    assert released.plan.placement["c1"] == "b"  # b is the least loaded backup...
    assert "c1" not in released.desired and released.released == {"c1"}  # ...but waits
    back = ctl.decide(inputs(peers=peers(a="alive", b="alive", c="alive")), 10.6)
    assert back.desired == {"b1"} and back.released == frozenset()  # c's return arrived
    # had c stayed dead, b takes c1 once the grace is over
    ctl = FailoverController("b", started_at=0.0, release_grace_s=1.0)
    ctl.decide(inputs(peers=dead_c, recording=a_with_c1), 10.0)
    assert "c1" not in ctl.decide(inputs(peers=dead_c, recording={}), 10.5).desired
    assert "c1" in ctl.decide(inputs(peers=dead_c, recording={}), 11.0).desired


def test_a_takeover_is_not_held_back_when_its_recorder_died_or_hands_it_over() -> None:
    ctl = FailoverController("b", started_at=0.0, release_grace_s=1.0)
    ctl.decide(inputs(peers=peers(a="alive", c="dead"), recording={"a": frozenset({"c1"})}), 10.0)
    # a died while recording c1 (a second failure): b starts c1 and a's cameras at once
    both_dead = ctl.decide(inputs(peers=peers(a="dead", c="dead")), 10.3)
    assert both_dead.desired == {"a1", "a2", "b1", "c1"} and both_dead.released == frozenset()
    # a turns failover off while recording c1: the move to b starts at once, a keeps
    # recording until b confirms (make-before-break)
    ctl = FailoverController("b", started_at=0.0, release_grace_s=1.0)
    servers = (server("a", failover=False), server("b"), server("c"))
    moving = ctl.decide(
        inputs(
            servers=servers, peers=peers(a="alive", c="dead"), recording={"a": frozenset({"c1"})}
        ),
        10.0,
    )
    assert "c1" in moving.desired and moving.released == frozenset()


def test_cpu_level_moves_only_past_the_hysteresis() -> None:
    level = CpuLevel(step=50.0, margin=10.0)
    assert level.update(47.0) == 0.0
    assert [level.update(cpu) for cpu in (52.0, 49.0, 58.0, 55.0)] == [0.0] * 4  # hovering
    assert level.update(61.0) == 50.0
    assert [level.update(cpu) for cpu in (48.0, 42.0, 55.0)] == [50.0] * 3
    assert level.update(39.0) == 0.0
    assert CpuLevel().update(float("nan")) == 0.0


def test_published_cpu_level_is_what_placement_compares() -> None:
    record = server("a")
    assert server_view(record, True, PeerState("alive", cpu_percent=57.0)).cpu_percent == 50.0
    published = PeerState("alive", cpu_percent=57.0, cpu_level=0.0)
    assert server_view(record, True, published).cpu_percent == 0.0
    assert [cpu_level_of(v) for v in (50, 0.0, 100.0)] == [50.0, 0.0, 100.0]
    assert [cpu_level_of(v) for v in (True, "50", 25.0, -50.0, 150.0, float("inf"))] == [None] * 6
