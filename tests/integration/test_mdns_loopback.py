"""mDNS peers over real multicast on loopback (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from discovery.mdns import MdnsError, MdnsPeers
from discovery.mdns_txt import SERVICE_TYPE, NodeInfo

LOOPBACK = ["127.0.0.1"]


def _node(label: str, port: int, system_id: str | None = None) -> NodeInfo:
    # unique per run: other tests on this machine may announce on loopback too
    return NodeInfo(f"{label}-{uuid.uuid4().hex[:10]}", f"Server {label}", port, "0.1.0", system_id)


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_two_peers_find_update_and_leave() -> None:
    events: list[tuple[str, str, str | None]] = []
    a = MdnsPeers(on_change=lambda e, p: events.append((e, p.node_id, p.system_id)))
    b = MdnsPeers()
    node_a, node_b = _node("a", 17480), _node("b", 17481)
    try:
        await asyncio.gather(a.start(LOOPBACK, node_a), b.start(LOOPBACK, node_b))
        await _until(lambda: node_b.node_id in a.peers() and node_a.node_id in b.peers())
        seen = a.peers()[node_b.node_id]
        assert (seen.name, seen.system_id, seen.url) == ("Server b", None, "http://127.0.0.1:17481")
        assert node_a.node_id not in a.peers()  # not itself

        joined = NodeInfo(node_b.node_id, node_b.name, node_b.api_port, "0.1.0", "sys-1")
        await b.update(joined)
        await _until(lambda: a.peers()[node_b.node_id].system_id == "sys-1")

        await b.stop()  # goodbye
        await _until(lambda: node_b.node_id not in a.peers())
    finally:
        await a.stop()
        await b.stop()
    mine = [e for e in events if e[1] == node_b.node_id]
    assert mine == [
        ("added", node_b.node_id, None),
        ("updated", node_b.node_id, "sys-1"),
        ("removed", node_b.node_id, "sys-1"),
    ]


async def _announce_raw(aiozc: AsyncZeroconf, label: str, props: dict, port: int = 1) -> None:
    info = AsyncServiceInfo(
        SERVICE_TYPE,
        f"{label}.{SERVICE_TYPE}",
        port=port,
        properties=props,
        server=f"{label}.local.",
        parsed_addresses=["127.0.0.1"],
    )
    await (await aiozc.async_register_service(info))


async def test_bad_and_hostile_records_are_ignored_with_one_log_line(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="discovery.mdns")
    peers = MdnsPeers()
    me, good = _node("me", 17482), _node("good", 17483)
    tag = uuid.uuid4().hex[:8]
    rogue = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    other = MdnsPeers()
    try:
        await peers.start(LOOPBACK, me)
        spoof = {"txtvers": "1", "id": good.node_id, "sys": "", "port": "1", "ver": "1",
                 "name": "spoof"}  # fmt: skip
        await asyncio.gather(
            _announce_raw(rogue, f"junk-{tag}", {"txtvers": "1", "id": f"junk-{tag}"}),
            _announce_raw(rogue, f"spoof-{tag}", spoof),
            _announce_raw(rogue, f"ctl-{tag}", {**spoof, "id": f"ctl-{tag}", "name": "a\x00b"}),
            other.start(LOOPBACK, good),
        )
        await _until(lambda: good.node_id in peers.peers())
        await _until(lambda: len([r for r in caplog.records if tag in r.getMessage()]) >= 3)
        await asyncio.sleep(0.5)  # zeroconf re-announces: still one line per record
        assert set(peers.peers()) >= {good.node_id}
        assert not any(tag in node_id for node_id in peers.peers())
        assert peers.peers()[good.node_id].name == good.name  # not the spoof
        lines = [m for r in caplog.records if tag in (m := r.getMessage()) and me.node_id in m]
        assert len(lines) == 3, lines
    finally:
        await other.stop()
        await peers.stop()
        await rogue.async_close()


async def test_start_refuses_implicit_interfaces_and_double_start() -> None:
    peers = MdnsPeers()
    with pytest.raises(MdnsError):
        await peers.start([], _node("x", 1))
    with pytest.raises(MdnsError):
        await peers.start(["0.0.0.0"], _node("x", 1))
    await peers.start(LOOPBACK, _node("x", 17484))
    try:
        with pytest.raises(MdnsError):
            await peers.start(LOOPBACK, _node("y", 1))
        with pytest.raises(MdnsError, match="node id"):
            await peers.update(_node("z", 1))
    finally:
        await peers.stop()
    await peers.stop()  # twice is fine
