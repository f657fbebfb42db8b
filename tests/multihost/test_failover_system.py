"""Failover on test hosts: one node per network namespace, real emulated cameras.

One LAN for the module (building it and forming the system costs ~15 s; the system is
tests/multihost/failover_lan.py). Each test starts from the steady state (every node
up, every camera recorded by its home) and puts it back when it ends.
Bounds are generous (a noisy 2-core machine must not fail them); bench/failover.py
measures the real figures.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import av
import netns
import pytest
from failover_lan import (
    HEAL_BOUND_S,
    TAKEOVER_BOUND_S,
    System,
    gaps_of,
    now,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def system(netns_available: None) -> Iterator[System]:
    net = netns.Lan(4).create()
    try:
        sys_ = System(net)
        try:
            sys_.form()
        except BaseException:
            _dump_logs(net)
            raise
        yield sys_
    finally:
        net.close()


@pytest.fixture
def steady(system: System, request: pytest.FixtureRequest) -> Iterator[System]:
    yield system
    try:
        system.restore()
    except BaseException:
        _dump_logs(system.net)
        raise


def _dump_logs(net: netns.Lan) -> None:
    for host in net.hosts:
        for proc in host.processes():
            print(f"----- {host.name} {proc.args[4:7]!r} exit={proc.poll()} -----")
            print(host.log(proc)[-3000:])


def test_kill9_cameras_move_spread_and_come_back_without_gap(steady: System) -> None:
    s = steady
    h1, h3 = s.nodes[0], s.nodes[2]
    moved = s.homes(h3)
    s.kill(h3)
    killed_at = now()
    rec = wait_for(
        lambda: (r := s.recorders()) and all(len(r[c]) == 1 for c in moved) and r,
        TAKEOVER_BOUND_S,
        "h3's cameras recording on h1/h2",
    )
    takers = {next(iter(rec[c])) for c in moved}
    assert takers == {s.ids["h1"], s.ids["h2"]}  # spread by load: one each
    time.sleep(3)
    s.start(h3)
    restored_at = now()
    s.wait_steady()
    time.sleep(3)  # let the last segments close
    for camera_id in moved:
        periods = s.timeline(camera_id, killed_at - timedelta(seconds=10), now())
        servers = {p["server_id"] for p in periods}
        assert servers == {s.ids["h3"], *rec[camera_id]}, periods  # merged, servers named
        # failback is make-before-break: no hole from the restore on
        assert (
            s.holes(camera_id, restored_at - timedelta(seconds=1), now() - timedelta(seconds=3))
            == []
        )
    # export of a range spanning home -> backup -> home is ONE continuous MP4
    camera_id = moved[0]
    start, end = killed_at - timedelta(seconds=3), now() - timedelta(seconds=3)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    answer = s.call(h1, "GET", f"/api/v1/cameras/{camera_id}/export", params=params, timeout=60)
    assert answer.status_code == 200, answer.text
    out = s.net.workdir / "export.mp4"
    out.write_bytes(answer.content)
    with av.open(str(out)) as mp4:
        video = mp4.streams.video[0]
        times = [float(p.dts * p.time_base) for p in mp4.demux(video) if p.dts is not None]
    span = (end - start).total_seconds()
    lost = sum(h[1] - h[0] for h in gaps_of(s, camera_id, start, end))
    assert times == sorted(times)
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.5  # joined, no jump
    assert span - lost - 2.5 <= times[-1] - times[0] <= span + 1.5


def test_priorities_under_capacity_shortage_and_max_cameras(steady: System) -> None:
    s = steady
    h1, h2, h3 = s.nodes
    high, low = s.homes(h3)
    s.set_priority([high], "high")
    s.set_priority([low], "low")
    # one free channel in the whole system: h1 full (own 2 of 2), h2 one free (2 of 3)
    s.settings(h1, enabled=True, max_cameras=2)
    s.settings(h2, enabled=True, max_cameras=3)
    time.sleep(1)  # settings replicated
    s.kill(h3)
    wait_for(lambda: s.recorders()[high] == {s.ids["h2"]}, TAKEOVER_BOUND_S, "High on h2")
    time.sleep(3)
    rec = s.recorders()
    assert rec[low] == set()  # Low waits: no channel left
    per_node = {sid: sum(sid in r for r in rec.values()) for sid in (s.ids["h1"], s.ids["h2"])}
    assert per_node == {s.ids["h1"]: 2, s.ids["h2"]: 3}
    view = s.ok(h1, "GET", "/api/v1/failover")
    low_row = next(c for c in view["cameras"] if c["id"] == low)
    assert low_row["planned_server_id"] is None and "channel" in low_row["unplaced_reason"]
    # max cameras above the licensed channels (16) or 128 is refused and changes nothing
    answer = s.call(h1, "PUT", f"/api/v1/servers/{s.ids['h1']}/failover",
                    json={"enabled": True, "max_cameras": 17})  # fmt: skip
    assert answer.status_code == 422 and "licensed" in answer.text
    answer = s.call(h1, "PUT", f"/api/v1/servers/{s.ids['h1']}/failover",
                    json={"enabled": True, "max_cameras": 129})  # fmt: skip
    assert answer.status_code == 422
    assert (
        next(x for x in s.ok(h1, "GET", "/api/v1/servers") if x["id"] == s.ids["h1"])["max_cameras"]
        == 2
    )


def test_never_priority_waits_for_its_home(steady: System) -> None:
    s = steady
    _h1, _h2, h3 = s.nodes
    never, other = s.homes(h3)
    s.set_priority([never], "never")
    time.sleep(1)
    s.kill(h3)
    wait_for(lambda: len(s.recorders()[other]) == 1, TAKEOVER_BOUND_S, "the Medium camera taken")
    time.sleep(2)
    assert s.recorders()[never] == set()


def test_partition_each_side_records_then_heal_converges(steady: System) -> None:
    s = steady
    h1, h2, h3 = s.nodes
    start = now()
    h3.block(h1)
    h3.block(h2)  # h3 alone; all three still reach the camera host
    # each side records what it can: h1/h2 take h3's cameras, h3 takes theirs
    wait_for(
        lambda: all(len(r) == 2 for r in s.recorders().values()),
        TAKEOVER_BOUND_S,
        "every camera recorded on both sides",
    )
    time.sleep(3)  # a partition of a few seconds: each side has closed fragments on disk
    h3.clear_rules()
    healed_at = time.monotonic()
    healed_s = (now() - start).total_seconds()
    wait_for(lambda: all(len(r) == 1 for r in s.recorders().values()), HEAL_BOUND_S,
             "one recorder per camera after healing")  # fmt: skip
    print(f"converged {time.monotonic() - healed_at:.1f} s after healing")
    s.wait_steady(10)
    time.sleep(3)
    names = {node_id: name for name, node_id in s.ids.items()}
    for camera_id in s.cameras:  # no period lost on either side, and no third recorder
        periods = s.timeline(camera_id, start, now())
        # video a server downloaded afterwards from the camera's own storage to fill a
        # hole ("edge") is not a recording: only live periods say who recorded
        live = [p for p in periods if p.get("source", "live") == "live"]
        who = [
            (names.get(p["server_id"]), _seconds_after(p["start"], start),
             _seconds_after(p["end"], start))
            for p in live
        ]  # fmt: skip
        assert len({p["server_id"] for p in live}) == 2, (
            f"{s.cameras[camera_id]['name']} (home {names[s.cameras[camera_id]['home_server_id']]})"
            f" cut at 0 s, healed at {healed_s:.2f} s: {who}"
        )
        assert s.holes(camera_id, start, now() - timedelta(seconds=3)) == []


def _seconds_after(stamp: str, start: datetime) -> float:
    return round((datetime.fromisoformat(stamp.replace("Z", "+00:00")) - start).total_seconds(), 2)


def test_two_failures_in_a_row_then_failure_during_failback(steady: System) -> None:
    s = steady
    h1, h2, h3 = s.nodes
    s.kill(h3)
    wait_for(lambda: all(len(r) == 1 for r in s.recorders().values()), TAKEOVER_BOUND_S,
             "h3's cameras taken")  # fmt: skip
    s.kill(h2)
    wait_for(lambda: all(r == {s.ids["h1"]} for r in s.recorders().values()), TAKEOVER_BOUND_S,
             "every camera on h1")  # fmt: skip
    s.start(h3)
    s.kill(h1)  # the node holding everything dies while h3 comes back
    wait_for(lambda: all(r == {s.ids["h3"]} for r in s.recorders().values()), TAKEOVER_BOUND_S,
             "every camera on h3")  # fmt: skip


def test_camera_unreachable_from_backup_keeps_trying_and_reports(steady: System) -> None:
    s = steady
    h1, h2, h3 = s.nodes
    s.settings(h1, enabled=False, max_cameras=16)  # h2 is the only backup
    time.sleep(1)
    h2.block(s.camera_host)
    h2_id = s.ids["h2"]
    own_h2 = s.homes(h2)
    moved = s.homes(h3)
    s.kill(h3)

    def trying() -> bool:
        cams = {c["id"]: c for c in s.ok(h2, "GET", "/api/v1/cameras")}
        return all(
            cams[c]["status"]["state"] in ("connecting", "reconnecting", "error")
            and cams[c]["status"]["last_error"]
            for c in moved + own_h2
        )

    wait_for(trying, TAKEOVER_BOUND_S, "h2 trying h3's cameras and reporting the error")
    h2.clear_rules()
    wait_for(lambda: all(s.recorders()[c] == {h2_id} for c in moved), TAKEOVER_BOUND_S,
             "h2 recording once the cameras are reachable")  # fmt: skip
