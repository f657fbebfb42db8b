"""Gossip membership between three test hosts, one gossip_peer.py process per host
(real UDP across the bridge): kill -9 is declared dead within the bound; 20 % loss on
one link for 20 s declares nobody dead (SWIM indirect probes)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from pathlib import Path

import netns
import pytest

from node.membership import MembershipConfig

ROOT = Path(__file__).resolve().parents[2]
PEER = str(ROOT / "tests" / "integration" / "gossip_peer.py")
PORT = 7480
SECRET_HEX = b"multihost gossip system secret!!".hex()
CONFIG = MembershipConfig()  # gossip_peer.py runs with the defaults
DEAD_MARGIN_S = 3.0  # generous: a busy 2-core machine
CONVERGE_TIMEOUT_S = 30.0
LOSS_PERIOD_S = 20.0


def lines(host: netns.Host, proc) -> list[dict]:
    out = []
    for line in host.log(proc).splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):  # a line cut short while being written
                out.append(json.loads(line))
    return out


def latest_status(host: netns.Host, proc) -> dict:
    for line in reversed(lines(host, proc)):
        if line["event"] == "members":
            return line
    return {}


def latest_members(host: netns.Host, proc) -> dict:
    return latest_status(host, proc).get("members", {})


def member_events(host: netns.Host, proc, kind: str | None = None) -> list[dict]:
    return [
        line
        for line in lines(host, proc)
        if line["event"] == "member" and (kind is None or line["kind"] == kind)
    ]


def start_peers(net: netns.Lan, secrets: dict[str, str] | None = None) -> dict[str, object]:
    seed = f"{net.hosts[0].address}:{PORT}"
    procs = {}
    for host in net.hosts:
        secret = (secrets or {}).get(host.name, SECRET_HEX)
        argv = [sys.executable, PEER, "--node-id", f"node-{host.name}"]
        argv += ["--listen", f"{host.address}:{PORT}", "--secret-hex", secret]
        argv += ["--channels", str(host.index), "--data", str(host.data_dir())]
        if host is not net.hosts[0]:
            argv += ["--peer", seed]
        procs[host.name] = host.popen(argv, log_name="gossip")
    return procs


def udp_delivered(sender: netns.Host, receiver: netns.Host, count: int) -> int:
    """Datagrams out of `count` sent from sender that reach receiver (a spare port)."""
    rx = receiver.call(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.call(rx.bind, (receiver.address, PORT + 1))
        rx.settimeout(0.5)

        def send() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for i in range(count):
                    tx.sendto(b"probe %d" % i, (receiver.address, PORT + 1))
                    time.sleep(0.001)

        sender.call(send)
        got = 0
        with contextlib.suppress(TimeoutError):
            while True:
                rx.recv(100)
                got += 1
        return got
    finally:
        rx.close()


def converged(net: netns.Lan, procs: dict, hosts: list[netns.Host]) -> bool:
    """Every host in `hosts` sees every other one alive, with its load."""
    for host in hosts:
        members = latest_members(host, procs[host.name])
        for other in hosts:
            view = members.get(f"node-{other.name}")
            if view is None or view["state"] != "alive":
                return False
            if other is not host and (view["load"] or {}).get("channels_used") != other.index:
                return False
    return True


def test_kill9_is_declared_dead_within_the_bound(lan) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    procs = start_peers(net)
    netns.wait_until(
        lambda: converged(net, procs, [h1, h2, h3]), CONVERGE_TIMEOUT_S, what="three alive"
    )
    killed_at = time.time()
    h3.kill9(procs["h3"])
    bound = CONFIG.detection_bound_s + DEAD_MARGIN_S
    for host in (h1, h2):
        dead = netns.wait_until(
            lambda host=host: [
                e
                for e in member_events(host, procs[host.name], "dead")
                if e["node_id"] == "node-h3"
            ],
            bound + 5,
            what=f"{host.name} to declare node-h3 dead",
        )
        took = dead[0]["wall"] - killed_at
        print(f"{host.name} declared node-h3 dead {took:.2f} s after kill -9")
        assert took <= bound, f"{host.name}: {took:.2f} s > {bound} s"
    for host, other in ((h1, h2), (h2, h1)):
        assert latest_members(host, procs[host.name])[f"node-{other.name}"]["state"] == "alive"
        assert member_events(host, procs[host.name], "dead")[0]["node_id"] == "node-h3"


@pytest.mark.slow
def test_20_percent_loss_on_one_link_declares_nobody_dead(lan, nft_available) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    procs = start_peers(net)
    netns.wait_until(
        lambda: converged(net, procs, [h1, h2, h3]), CONVERGE_TIMEOUT_S, what="three alive"
    )
    before = {h.name: len(member_events(h, procs[h.name])) for h in net.hosts}
    rule = h3.drop_incoming_percent(20, from_host=h1)  # one lossy link: h1 -> h3
    delivered = udp_delivered(h1, h3, 300)
    assert 180 <= delivered <= 280, f"the loss rule lets {delivered}/300 through"
    assert udp_delivered(h2, h3, 100) == 100  # the other link is clean
    time.sleep(LOSS_PERIOD_S)
    h3.remove_rule(rule)
    time.sleep(1.0)  # the last status lines are written
    suspicions = 0
    for host in net.hosts:
        events = member_events(host, procs[host.name])[before[host.name] :]
        assert not [e for e in events if e["kind"] in ("dead", "left")], (host.name, events)
        suspicions += sum(e["kind"] == "suspect" for e in events)
    print(f"20 % loss h1->h3 for {LOSS_PERIOD_S:.0f} s: {suspicions} suspicions, no dead")
    assert converged(net, procs, [h1, h2, h3])
    for host in net.hosts:
        assert procs[host.name].poll() is None, f"{host.name}'s peer exited"


def test_a_host_with_another_secret_is_never_seen(lan) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    outsider = b"not the system secret".hex()
    procs = start_peers(net, secrets={"h3": outsider})  # h3 seeds h1 like the others
    netns.wait_until(lambda: converged(net, procs, [h1, h2]), CONVERGE_TIMEOUT_S, what="h1+h2")
    netns.wait_until(
        lambda: latest_status(h1, procs["h1"]).get("rejected", {}).get("bad_mac", 0) >= 3,
        10,
        what="h1 to reject h3's datagrams",
    )
    time.sleep(2 * CONFIG.reconnect_interval_s)
    for host in (h1, h2):
        assert "node-h3" not in latest_members(host, procs[host.name])
        assert not [e for e in member_events(host, procs[host.name]) if e["node_id"] == "node-h3"]
    assert set(latest_members(h3, procs["h3"])) == {"node-h3"}
    assert member_events(h3, procs["h3"]) == []
