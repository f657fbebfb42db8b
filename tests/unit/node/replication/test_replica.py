"""Replicated records: LWW merge, tombstones, validation, anti-entropy convergence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.replication import Timestamp
from node.replication._records import (
    Record,
    ReplicaError,
    bucket_versions,
    differing_buckets,
    digest,
    digest_from_json,
    digest_to_json,
    merge,
    merge_all,
    newer,
    plan_sync,
    record_from_json,
    record_to_json,
    records_since,
    versions_from_json,
    versions_of,
    versions_to_json,
)


def rec(
    key: str, wall: int, value: dict | None = None, node: str = "a", kind: str = "camera"
) -> Record:
    return Record(kind, key, value, Timestamp(wall, 0, node))


def test_newer_remote_wins_only_with_greater_version() -> None:
    old, new = rec("k", 1, {"v": 1}), rec("k", 2, {"v": 2})
    assert newer(None, old)
    assert newer(old, new)
    assert not newer(new, old)
    assert not newer(new, new)


def test_tombstone_wins_by_version_and_late_old_update_does_not_resurrect() -> None:
    created, deleted = rec("k", 1, {"v": 1}), rec("k", 5, None)
    assert merge(created, deleted).deleted
    assert merge(deleted, rec("k", 3, {"v": 3})).deleted
    assert merge(deleted, rec("k", 6, {"v": 6})).value == {"v": 6}


def test_concurrent_edits_same_wall_break_tie_by_node_id() -> None:
    a = Record("camera", "k", {"from": "a"}, Timestamp(10, 0, "a"))
    b = Record("camera", "k", {"from": "b"}, Timestamp(10, 0, "b"))
    assert merge(a, b) == merge(b, a) == b


def test_merge_refuses_different_ids() -> None:
    with pytest.raises(ReplicaError):
        merge(rec("a", 1), rec("b", 2))


def test_json_round_trip_including_tombstone() -> None:
    for r in (rec("k", 1, {"name": "cam 1", "n": [1, 2]}), rec("k", 2, None)):
        assert record_from_json(record_to_json(r)) == r


GOOD = {
    "kind": "camera",
    "key": "k",
    "value": {},
    "version": {"wall_ms": 1, "counter": 0, "node_id": "a"},
}


@pytest.mark.parametrize(
    "patch",
    [
        {"kind": "Camera"},
        {"kind": ""},
        {"kind": 3},
        {"key": ""},
        {"key": "x" * 300},
        {"key": 5},
        {"value": []},
        {"value": "x"},
        {"value": {"f": float("nan")}},
        {"value": {"big": "x" * 70_000}},
        {"version": {"wall_ms": 1}},
        {"version": None},
        {"extra": 1},
    ],
)
def test_record_from_json_rejects_bad_input(patch: dict) -> None:
    with pytest.raises(ReplicaError):
        record_from_json({**GOOD, **patch})


def test_record_from_json_rejects_non_object() -> None:
    for data in (None, [], "x", 1):
        with pytest.raises(ReplicaError):
            record_from_json(data)


def test_digest_equal_iff_same_versions() -> None:
    recs = [rec(f"k{i}", i) for i in range(50)]
    assert digest(versions_of(recs)) == digest(versions_of(reversed(recs)))
    changed = [*recs[:-1], rec("k49", 99)]
    diff = differing_buckets(digest(versions_of(recs)), digest(versions_of(changed)))
    assert len(diff) == 1
    assert differing_buckets(digest({}), digest(versions_of(recs)))


def test_digest_and_versions_json_round_trip() -> None:
    versions = versions_of(
        [rec(f"k{i}", i, kind=kind) for i in range(20) for kind in ("user", "camera")]
    )
    d = digest(versions)
    assert digest_from_json(digest_to_json(d)) == d
    assert versions_from_json(versions_to_json(versions)) == versions


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"Camera": {}},
        {"camera": []},
        {"camera": {"x": [1, "0" * 64]}},
        {"camera": {"99": [1, "0" * 64]}},
        {"camera": {"²": [1, "0" * 64]}},  # str.isdigit() takes it, int() does not
        {"camera": {"1": [1, "zz"]}},
        {"camera": {"1": [-1, "0" * 64]}},
        {"camera": {"1": [1]}},
    ],
)
def test_digest_from_json_rejects_bad_input(data: object) -> None:
    with pytest.raises(ReplicaError):
        digest_from_json(data)


@pytest.mark.parametrize(
    "data", [None, {}, [[1, "k", {}]], [["camera", "k"]], [["camera", "k", {"wall_ms": 1}]]]
)
def test_versions_from_json_rejects_bad_input(data: object) -> None:
    with pytest.raises(ReplicaError):
        versions_from_json(data)


def test_records_since_is_ordered_and_filtered() -> None:
    recs = [rec("c", 3), rec("a", 1), rec("b", 2)]
    assert [r.key for r in records_since(recs, None)] == ["a", "b", "c"]
    assert [r.key for r in records_since(recs, Timestamp(1, 0, "a"))] == ["b", "c"]


def sync(a: dict, b: dict) -> None:
    """One anti-entropy round between two stores (dicts id -> Record), as two nodes do it."""
    va, vb = versions_of(a.values()), versions_of(b.values())
    buckets = differing_buckets(digest(va), digest(vb))
    remote = bucket_versions(vb, buckets)
    plan = plan_sync(va, remote, buckets)
    for rid in plan.send:
        if newer(b.get(rid), a[rid]):
            b[rid] = a[rid]
    for rid in plan.request:
        if newer(a.get(rid), b[rid]):
            a[rid] = b[rid]


record_ops = st.lists(
    st.tuples(
        st.integers(0, 2),  # node
        st.sampled_from(["k1", "k2", "k3", "k4"]),
        st.integers(0, 20),  # wall
        st.booleans(),  # delete?
    ),
    max_size=30,
)


@given(record_ops, st.randoms(use_true_random=False))
@settings(max_examples=150)
def test_property_anti_entropy_converges_to_lww_winner(ops: list, rnd: random.Random) -> None:
    stores: list[dict] = [{}, {}, {}]
    written: list[Record] = []
    for counter, (node, key, wall, delete) in enumerate(ops):
        r = Record(
            "camera", key, None if delete else {"w": wall}, Timestamp(wall, counter, f"n{node}")
        )
        written.append(r)
        stores[node][r.id] = merge(stores[node].get(r.id), r)
    pairs = [(0, 1), (1, 2), (0, 2)]
    rnd.shuffle(pairs)
    for i, j in pairs + pairs:
        sync(stores[i], stores[j])
    expected = merge_all(written)
    for s in stores:
        assert s == expected


def test_plan_sync_scoped_to_buckets_does_not_send_outside_scope() -> None:
    local = versions_of([rec(f"k{i}", 1) for i in range(40)])
    plan = plan_sync(local, {}, buckets=[])
    assert plan.send == [] and plan.request == []
    assert len(plan_sync(local, {}).send) == 40
