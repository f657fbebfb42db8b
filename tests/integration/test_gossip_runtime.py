"""GossipRuntime over real UDP sockets on 127.0.0.1: joining from one seed, load
figures, death of an abruptly stopped member, restart, rejection of forged, replayed
and garbage datagrams, separate systems, identity change."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from node.config import GossipConfig
from node.membership import (
    MAGIC,
    GossipCodec,
    GossipRuntime,
    LoadSampler,
    MemberEvent,
    MembershipConfig,
    membership_config,
    parse_address,
    peer_address,
)

HOST = "127.0.0.1"
SYSTEM = "sys-it"
SECRET = b"integration test system secret!!"
CONFIG = MembershipConfig()  # the defaults: what a node runs with
DEAD_MARGIN_S = 3.0  # generous: two busy cores shared with other test runs
JOIN_TIMEOUT_S = 10.0

pytestmark = pytest.mark.timeout(120)


class Member:
    """One runtime plus what it saw."""

    def __init__(self, runtime: GossipRuntime) -> None:
        self.rt = runtime
        self.events: list[MemberEvent] = []
        runtime.set_event_callback(self.events.append)

    @property
    def node_id(self) -> str:
        return self.rt.node_id

    def states(self) -> dict[str, str]:
        return {k: v.state for k, v in self.rt.members().items() if k != self.node_id}

    def first(self, kind: str, node_id: str, after: float = 0.0) -> MemberEvent | None:
        return next(
            (e for e in self.events if e.kind == kind and e.node_id == node_id and e.at >= after),
            None,
        )


@pytest.fixture
async def make_member(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    """`await make_member(node_id, port=0, system=SYSTEM, secret=SECRET, channels=0)`;
    every runtime is stopped at the end of the test."""
    made: list[GossipRuntime] = []

    async def make(
        node_id: str,
        *,
        port: int = 0,
        system: str = SYSTEM,
        secret: bytes = SECRET,
        channels: int = 0,
        config: MembershipConfig = CONFIG,
    ) -> Member:
        sampler = LoadSampler(tmp_path, channels_used=lambda: channels)
        rt = GossipRuntime(
            node_id,
            system,
            secret,
            host=HOST,
            port=port,
            config=config,
            load_provider=sampler.sample,
        )
        member = Member(rt)
        made.append(rt)
        await rt.start()
        return member

    try:
        yield make
    finally:
        for rt in made:
            await rt.stop(graceful=False)


async def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def all_alive(members: list[Member]) -> bool:
    ids = {m.node_id for m in members}
    return all(m.states() == {o: "alive" for o in ids - {m.node_id}} for m in members)


async def two(make_member) -> tuple[Member, Member]:
    """node-a and node-b, b told of a, both seeing each other alive."""
    a = await make_member("node-a")
    b = await make_member("node-b")
    b.rt.add_peer(a.rt.address)
    await wait_until(lambda: all_alive([a, b]), JOIN_TIMEOUT_S, "a and b alive")
    return a, b


async def three(make_member, config: MembershipConfig = CONFIG) -> list[Member]:
    a = await make_member("node-a", channels=1, config=config)
    b = await make_member("node-b", channels=2, config=config)
    c = await make_member("node-c", channels=3, config=config)
    b.rt.add_peer(a.rt.address)  # one seed address is enough
    c.rt.add_peer(a.rt.address)
    await wait_until(lambda: all_alive([a, b, c]), JOIN_TIMEOUT_S, "three alive members")
    return [a, b, c]


async def test_three_runtimes_find_each_other_with_load(make_member) -> None:
    members = await three(make_member)

    def loads_known() -> bool:
        for m in members:
            for other in members:
                view = m.rt.members()[other.node_id]
                expected = int(other.node_id[-1:].translate(str.maketrans("abc", "123")))
                if view.load is None or view.load.channels_used != expected:
                    return False
        return True

    await wait_until(loads_known, JOIN_TIMEOUT_S, "every member's load at every member")
    view = members[0].rt.members()["node-c"]
    assert view.load is not None and view.load.disk_free_bytes > 0
    assert 0 <= view.load.cpu_percent <= 100 and 0 < view.load.mem_percent <= 100
    assert view.address == members[2].rt.address
    for m in members:
        stats = m.rt.stats()
        assert stats["rejected"] == {}, stats  # honest traffic is never rejected
        assert stats["accepted"] > 0 and stats["sent"] > 0


@pytest.mark.parametrize(
    "config",
    [CONFIG, membership_config(GossipConfig(dead_after_s=1.5))],
    ids=["default-2s", "configured-1.5s"],
)
async def test_abrupt_stop_is_dead_within_bound_and_restart_is_alive(
    make_member, config: MembershipConfig
) -> None:
    a, b, c = await three(make_member, config)
    port = c.rt.port
    killed_at = time.monotonic()
    await c.rt.stop(graceful=False)  # socket closed, no leave message
    bound = config.detection_bound_s + DEAD_MARGIN_S
    for m in (a, b):
        await wait_until(lambda m=m: m.first("dead", "node-c", killed_at), bound + 2, "dead")
        took = m.first("dead", "node-c", killed_at).at - killed_at  # type: ignore[union-attr]
        print(f"{m.node_id} declared node-c dead after {took:.2f} s")
        assert took <= bound, f"{m.node_id} took {took:.2f} s to declare node-c dead"
    assert a.states()["node-b"] == "alive" and b.states()["node-a"] == "alive"
    old_epoch = a.rt.members()["node-c"].epoch

    c2 = await make_member("node-c", port=port, channels=3, config=config)  # same address
    c2.rt.add_peer(a.rt.address)
    await wait_until(lambda: all_alive([a, b, c2]), JOIN_TIMEOUT_S, "node-c alive again")
    assert a.rt.members()["node-c"].epoch > old_epoch
    assert a.first("alive", "node-c", killed_at) is not None


async def test_graceful_stop_is_seen_as_left(make_member) -> None:
    a, b, c = await three(make_member)
    await c.rt.stop(graceful=True)
    for m in (a, b):
        await wait_until(lambda m=m: m.states().get("node-c") == "left", 5, "node-c left")
    assert a.first("dead", "node-c") is None


class RawPeer:
    """A plain UDP socket playing the attacker: it can capture what a member sends to it
    (after being added as a peer) and send anything anywhere."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.address = f"{HOST}:{self.sock.getsockname()[1]}"

    async def capture(self, count: int, timeout_s: float) -> list[bytes]:
        loop = asyncio.get_running_loop()
        got: list[bytes] = []
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                data, _ = await loop.sock_recvfrom(self.sock, 65535)
                got.append(data)
        return got

    def send(self, data: bytes, address: str) -> None:
        self.sock.sendto(data, parse_address(address))

    def close(self) -> None:
        self.sock.close()


def snapshot(m: Member) -> dict[str, tuple]:
    return {k: (v.state, v.epoch, v.incarnation) for k, v in m.rt.members().items()}


async def test_forged_replayed_and_garbage_datagrams_are_rejected_and_change_nothing(
    make_member, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = await two(make_member)
    eve = RawPeer()
    try:
        a.rt.add_peer(eve.address)  # a will send its sync requests to eve: capture them
        captured = await eve.capture(2, timeout_s=5)
        before_a, before_b = snapshot(a), snapshot(b)
        events_before = len(a.events), len(b.events)
        caplog.set_level(logging.WARNING, logger="node.membership._runtime")

        rng = random.Random(4)
        forger = GossipCodec(SYSTEM, "node-a", b"not the system secret")
        insider = GossipCodec(SYSTEM, "mallory", SECRET)  # right key, broken payload
        now_ms = time.time_ns() // 1_000_000
        received_before = b.rt.stats()["received"], b.rt.stats().get("accepted", 0)
        sent = 0

        async def send(data: bytes, to: Member = b) -> None:
            nonlocal sent
            eve.send(data, to.rt.address)
            sent += 1
            if sent % 20 == 0:  # paced: loopback drops what overflows a socket buffer
                await asyncio.sleep(0.005)

        for _ in range(300):  # random bytes of every size up to beyond the limit
            await send(rng.randbytes(rng.choice([0, 1, 5, 40, 100, 1399, 1401, 3000])))
        for _ in range(50):
            await send(b"XXXX" + rng.randbytes(60))  # bad_magic
            await send(MAGIC + rng.randbytes(32) + b'{"v":1}')  # bad_mac
        for i in range(20):
            payload = {"me": {"n": "node-a", "a": eve.address, "e": 1, "i": 99, "s": "a"}}
            await send(forger.encode("gossip", payload, incarnation=i, now_ms=now_ms))
        tampered = bytearray(captured[0])
        tampered[-3] ^= 0x01
        await send(bytes(tampered))  # bad_mac
        await send(MAGIC + bytes(2000))  # too_large
        await send(insider.encode("ping", {"x": 1}, incarnation=0, now_ms=now_ms))
        await send(captured[1])  # a's genuine datagram: accepted once...
        await send(captured[1])  # ...refused as replayed the second time
        await send(captured[1])
        await send(captured[0], to=a)  # a's own datagram reflected back to it: from_self

        def all_counted() -> bool:
            rb, ra = b.rt.stats()["rejected"], a.rt.stats()["rejected"]
            return (
                rb.get("bad_magic", 0) >= 50
                and rb.get("bad_mac", 0) >= 71
                and rb.get("too_large", 0) >= 1
                and rb.get("malformed_payload", 0) == 1
                and rb.get("replayed", 0) == 2
                and ra.get("from_self", 0) == 1
            )

        await wait_until(all_counted, 5, f"rejections counted: {b.rt.stats()['rejected']}")
        stats = b.rt.stats()
        received = stats["received"] - received_before[0]
        accepted = stats.get("accepted", 0) - received_before[1]
        assert sum(stats["rejected"].values()) == received - accepted  # each one accounted for
        assert received >= sent - 1 - 10  # loopback loses next to nothing when paced
        assert snapshot(a) == before_a and snapshot(b) == before_b  # nothing changed
        assert (len(a.events), len(b.events)) == events_before
        assert "mallory" not in b.rt.members()
        bad_mac_lines = [r for r in caplog.records if "reason bad_mac" in r.getMessage()]
        assert len(bad_mac_lines) == 1  # rate-limited: one line, not 71

        # still fully working: a new member joins through b and everybody sees it
        c = await make_member("node-c")
        c.rt.add_peer(b.rt.address)
        await wait_until(lambda: all_alive([a, b, c]), JOIN_TIMEOUT_S, "c joins after the attack")
    finally:
        eve.close()


async def test_fuzzed_socket_keeps_working(make_member) -> None:
    """A flood of random datagrams, some built on captured ones, while membership runs."""
    a, b = await two(make_member)
    eve = RawPeer()
    try:
        a.rt.add_peer(eve.address)
        captured = await eve.capture(3, timeout_s=5)
        rng = random.Random(11)
        for i in range(3000):
            base = bytearray(rng.choice(captured))
            for _ in range(rng.randint(1, 4)):  # mutate a few bytes anywhere
                base[rng.randrange(len(base))] = rng.randrange(256)
            data = bytes(base) if i % 2 else rng.randbytes(rng.randrange(1500))
            eve.send(data, b.rt.address)
            if i % 200 == 0:
                await asyncio.sleep(0.01)  # let the loop breathe like a real flood would
        await asyncio.sleep(0.5)
        stats = b.rt.stats()
        assert sum(stats["rejected"].values()) >= 2900, stats
        assert (
            stats.get("internal_error", 0) == 0 and stats["rejected"].get("internal_error", 0) == 0
        )
        assert b.rt.running and a.rt.running
        assert all_alive([a, b])
    finally:
        eve.close()


async def test_nodes_with_another_secret_or_system_never_see_each_other(make_member) -> None:
    a = await make_member("node-a")
    b = await make_member("node-b", secret=b"another system's secret")  # same system id
    c = await make_member("node-c", system="sys-other")  # same secret, other system
    for m in (a, b, c):
        for other in (a, b, c):
            if other is not m:
                m.rt.add_peer(other.rt.address)
    await wait_until(
        lambda: (
            a.rt.stats()["rejected"].get("bad_mac", 0) >= 2
            and a.rt.stats()["rejected"].get("wrong_system", 0) >= 2
        ),
        10,
        "a to reject b's and c's datagrams",
    )
    await asyncio.sleep(CONFIG.reconnect_interval_s * 2)  # more rounds of trying
    for m in (a, b, c):
        assert m.states() == {}, (m.node_id, m.states())
        assert m.events == []


async def test_identity_change_stop_and_start_a_fresh_runtime(make_member) -> None:
    """b leaves system 1 for system 2 on the same port: system 1 sees it leave, system 2
    sees it join, and neither ever sees the other."""
    a, b = await two(make_member)
    c = await make_member("node-c", system="sys-2", secret=b"system two secret")

    port = b.rt.port
    await b.rt.stop(graceful=True)
    b2 = await make_member("node-b", port=port, system="sys-2", secret=b"system two secret")
    b2.rt.add_peer(c.rt.address)
    await wait_until(lambda: all_alive([b2, c]), JOIN_TIMEOUT_S, "b in system 2")
    await wait_until(lambda: a.states().get("node-b") == "left", 5, "a to see b leave")
    await asyncio.sleep(CONFIG.sync_interval_s)
    assert a.states() == {"node-b": "left"}
    assert c.states() == {"node-b": "alive"}
    assert "node-a" not in b2.rt.members()


async def test_start_twice_and_bad_bind_host_are_refused() -> None:
    with pytest.raises(RuntimeError):
        GossipRuntime("n", SYSTEM, SECRET, host="localhost", port=0)
    with pytest.raises(RuntimeError):
        GossipRuntime("n", SYSTEM, SECRET, host="0.0.0.0", port=0)  # no advertise address
    with pytest.raises(ValueError):
        GossipRuntime("bad id!", SYSTEM, SECRET, host=HOST, port=0)
    rt = GossipRuntime("n", SYSTEM, SECRET, host=HOST, port=0)
    await rt.start()
    try:
        with pytest.raises(RuntimeError):
            await rt.start()
    finally:
        await rt.stop()
    await rt.stop()  # idempotent


@pytest.mark.parametrize("with_load", [False, True])
async def test_idle_runtime_sleeps_between_deadlines(with_load: bool, tmp_path: Path) -> None:
    """The timer loop wakes only for deadlines (probe, gossip, sync, load), never spins."""
    provider = LoadSampler(tmp_path).sample if with_load else None
    rt = GossipRuntime("node-a", SYSTEM, SECRET, host=HOST, port=0, load_provider=provider)
    await rt.start()
    try:
        await asyncio.sleep(0.2)
        before = rt.stats()["timer_wakeups"]
        await asyncio.sleep(1.0)
        wakeups = rt.stats()["timer_wakeups"] - before
    finally:
        await rt.stop()
    # deadlines: probe 5/s, gossip 10/s, load 2/s, sync and reconnect ~1/s each
    assert 1 <= wakeups <= 60, wakeups


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:7480", ("127.0.0.1", 7480)),
        ("[::1]:7480", ("::1", 7480)),
        ("node.local:1", ("node.local", 1)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "127.0.0.1", ":7480", "h:0", "h:65536", "h:x", "[::1]7480"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_peer_address_forms() -> None:
    assert peer_address("http://10.0.0.2:7480") == "10.0.0.2:7480"
    assert peer_address("http://10.0.0.2:7480/api/v1") == "10.0.0.2:7480"
    assert peer_address("10.0.0.2:7481") == "10.0.0.2:7481"
    with pytest.raises(ValueError):
        peer_address("http://10.0.0.2")  # gossip needs the port


async def test_peer_given_before_start_as_url_with_a_hostname(make_member) -> None:
    a = await make_member("node-a")
    b = GossipRuntime("node-b", SYSTEM, SECRET, host=HOST, port=0, config=CONFIG)
    b.add_peer(f"http://localhost:{a.rt.port}")  # --peer form; resolved after start
    with pytest.raises(ValueError):
        b.add_peer("not an address")
    await b.start()
    try:
        await wait_until(lambda: a.states() == {"node-b": "alive"}, JOIN_TIMEOUT_S, "b joins a")
        assert b.members()["node-a"].state == "alive"
    finally:
        await b.stop()
