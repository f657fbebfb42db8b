"""mDNS between three test hosts, one participant process per host (real multicast
across the bridge)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import netns

PARTICIPANT = str(Path(__file__).with_name("mdns_participant.py"))
DISCOVERY_TIMEOUT_S = 10.0


def _events(host: netns.Host, proc) -> list[dict]:
    events = []
    for line in host.log(proc).splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def _peers_seen(host: netns.Host, proc) -> dict[str, dict]:
    """The peer set as the participant's event stream describes it now."""
    peers: dict[str, dict] = {}
    for event in _events(host, proc):
        if event["event"] in ("added", "updated"):
            peers[event["node_id"]] = event
        elif event["event"] == "removed":
            peers.pop(event["node_id"], None)
    return peers


def test_three_hosts_find_each_other_update_and_leave(lan) -> None:
    net = lan(3)
    ids = {h.name: f"node-{h.name}" for h in net.hosts}
    procs = {
        h.name: h.popen([sys.executable, PARTICIPANT, h.address, ids[h.name]], log_name="mdns")
        for h in net.hosts
    }
    h1, h2, h3 = net.hosts

    for host in net.hosts:
        others = {ids[o.name] for o in net.hosts if o is not host}
        seen = netns.wait_until(
            lambda host=host, others=others: (
                (p := _peers_seen(host, procs[host.name])).keys() == others and p
            ),
            DISCOVERY_TIMEOUT_S,
            what=f"{host.name} to see {others}",
        )
        for other in net.hosts:
            if other is not host:
                assert seen[ids[other.name]]["url"] == f"http://{other.address}:7480"

    procs["h1"].send_signal(signal.SIGUSR1)  # h1 joins a system: re-announce
    for host in (h2, h3):
        netns.wait_until(
            lambda host=host: (
                _peers_seen(host, procs[host.name])[ids["h1"]]["system_id"] == "sys-joined"
            ),
            DISCOVERY_TIMEOUT_S,
            what=f"{host.name} to see h1's system id",
        )

    assert h3.terminate(procs["h3"]) == 0  # goodbye
    for host in (h1, h2):
        netns.wait_until(
            lambda host=host: ids["h3"] not in _peers_seen(host, procs[host.name]),
            DISCOVERY_TIMEOUT_S,
            what=f"{host.name} to drop h3",
        )
    assert ids["h2"] in _peers_seen(h1, procs["h1"])


def test_a_killed_participant_expires_with_its_ttl(lan) -> None:
    net = lan(2)
    h1, h2 = net.hosts
    ttl = "3"  # short record TTL so a silent peer goes in seconds
    p1 = h1.popen([sys.executable, PARTICIPANT, h1.address, "node-1", ttl], log_name="mdns")
    p2 = h2.popen([sys.executable, PARTICIPANT, h2.address, "node-2", ttl], log_name="mdns")
    netns.wait_until(lambda: "node-2" in _peers_seen(h1, p1), DISCOVERY_TIMEOUT_S, what="h1->h2")
    h2.kill9(p2)  # no goodbye
    netns.wait_until(lambda: "node-2" not in _peers_seen(h1, p1), 15, what="h2 to expire")
    # the same node restarted (log h2-mdns-2.log) is found again, although h1 still
    # caches its PTR record
    p2 = h2.popen([sys.executable, PARTICIPANT, h2.address, "node-2", ttl], log_name="mdns")
    netns.wait_until(lambda: "node-2" in _peers_seen(h1, p1), 15, what="h2 to come back")


def test_discovery_works_through_20_percent_loss(lan, nft_available) -> None:
    net = lan(2)
    h1, h2 = net.hosts
    h1.drop_incoming_percent(20)  # every packet into h1, from anyone
    h2.drop_incoming_percent(20)
    p1 = h1.popen([sys.executable, PARTICIPANT, h1.address, "node-1"], log_name="mdns")
    p2 = h2.popen([sys.executable, PARTICIPANT, h2.address, "node-2"], log_name="mdns")
    netns.wait_until(lambda: "node-2" in _peers_seen(h1, p1), 20, what="h1 to see h2")
    netns.wait_until(lambda: "node-1" in _peers_seen(h2, p2), 20, what="h2 to see h1")
