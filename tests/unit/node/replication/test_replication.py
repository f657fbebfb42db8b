"""Replicator: push of local writes, anti-entropy both ways, convergence of concurrent
edits, tombstones, malformed peers. Two real stores (SQLite in tmp), the HTTP between
them replaced by direct calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from node.replication import HybridClock, Record, RecordStore, ReplicaError, connect
from node.replication._sync import FETCH_PATH, RECORDS_PATH, SYNC_PATH, Replicator, parse_records


class Wall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Peer:
    """One node: a store, a replicator, and the routes a peer would call."""

    def __init__(self, tmp: Path, name: str, wall: Wall, network: dict[str, Peer]) -> None:
        self.name = name
        self.store = RecordStore(connect(tmp / f"{name}.db"), HybridClock(name, wall))
        self.network = network
        self.calls: list[str] = []
        self.replicator = Replicator(
            self.store,
            post=self.post,
            targets=lambda: [(n, n) for n in network if n != name],
            apply=self.apply,
            interval_s=3600,
        )
        network[name] = self

    async def apply(self, records: list[Record]) -> int:
        return sum(1 for r in records if self.store.apply_remote(r))

    async def post(self, url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(path)
        other = self.network[url]
        if path == RECORDS_PATH:
            return {"applied": await other.apply(parse_records(body["records"]))}
        if path == SYNC_PATH:
            return other.replicator.answer_sync(body)
        if path == FETCH_PATH:
            return other.replicator.answer_fetch(body)
        raise AssertionError(path)


def state(store: RecordStore) -> dict:
    return {(r.kind, r.key): (r.value, r.version) for r in store.all_since(None)}


async def test_anti_entropy_converges_both_ways(tmp_path: Path) -> None:
    net: dict[str, Peer] = {}
    wa, wb = Wall(1000), Wall(1000)
    a, b = Peer(tmp_path, "a", wa, net), Peer(tmp_path, "b", wb, net)
    a.store.put("user", "ann", {"role": "admin"})
    b.store.put("camera", "c1", {"name": "one"})
    a.store.put("camera", "c2", {"name": "two"})
    b.store.put("camera", "c2", {"name": "deux"})  # concurrent edit: b's version wins (node id)
    wb.ms = 1005
    b.store.put("user", "bob", {"role": "viewer"})
    b.store.delete("user", "bob")  # a tombstone travels too
    sent, received = await a.replicator.sync_with("b")
    assert sent >= 1 and received >= 2
    assert state(a.store) == state(b.store)
    assert a.store.get("camera", "c2") == {"name": "deux"}
    assert a.store.get_record("user", "bob").deleted
    # nothing left to exchange: a second round moves no record
    assert await a.replicator.sync_with("b") == (0, 0)


async def test_push_reaches_every_target(tmp_path: Path) -> None:
    net: dict[str, Peer] = {}
    a = Peer(tmp_path, "a", Wall(1), net)
    b, c = Peer(tmp_path, "b", Wall(1), net), Peer(tmp_path, "c", Wall(1), net)
    records = [a.store.put("user", f"u{i}", {"i": i}) for i in range(3)]
    a.replicator.queue_push(records[:2])
    a.replicator.queue_push(records[2:])  # coalesced with the first batch
    await asyncio.sleep(0.05)
    for peer in (b, c):
        assert [r.key for r in peer.store.list("user")] == ["u0", "u1", "u2"]
    assert a.calls.count(RECORDS_PATH) == 2  # one call per target
    assert a.replicator.stats["pushed"] == 2
    await a.replicator.stop()


async def test_push_to_a_failing_peer_is_counted_not_raised(tmp_path: Path) -> None:
    net: dict[str, Peer] = {}
    a = Peer(tmp_path, "a", Wall(1), net)
    Peer(tmp_path, "b", Wall(1), net)

    async def broken(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("peer away")

    a.replicator._post = broken
    await a.replicator.push_now([a.store.put("user", "x", {})])
    assert a.replicator.stats["push_failed"] == 1


def test_answers_refuse_malformed_requests(tmp_path: Path) -> None:
    net: dict[str, Peer] = {}
    a = Peer(tmp_path, "a", Wall(1), net)
    for bad in (None, [], {"digest": "x"}, {"digest": {"user": {"99": [1, "00"]}}}):
        with pytest.raises(ReplicaError):
            a.replicator.answer_sync(bad)
    for bad in (None, {"ids": "x"}, {"ids": [[1, 2]]}, {"ids": [["a"]] * 1000}):
        with pytest.raises(ReplicaError):
            a.replicator.answer_fetch(bad)
    with pytest.raises(ReplicaError):
        parse_records([{"kind": "BAD", "key": "x", "value": None, "version": {}}])


async def test_bad_sync_answer_is_a_replica_error(tmp_path: Path) -> None:
    net: dict[str, Peer] = {}
    a = Peer(tmp_path, "a", Wall(1), net)

    async def liar(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"versions": [["user", "x", "not a version"]], "buckets": []}

    a.replicator._post = liar
    with pytest.raises(ReplicaError):
        await a.replicator.sync_with("b")
