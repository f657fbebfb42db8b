"""Replicated records: last-writer-wins merge and anti-entropy, as pure functions.

Every piece of replicated node state (users, servers, cameras, system, failover
settings) is a `Record` keyed by (kind, key) and versioned by a hybrid-logical-clock
`Timestamp`. A remote record replaces the local one iff its version is greater
(`newer`); a delete is a tombstone (`value is None`) that wins the same way, so a late
update cannot resurrect a deleted record unless it was written after the delete.

Anti-entropy (a node that was away catches up, concurrent edits converge):

1. A sends `digest(its versions)`: per kind, a few buckets of (count, hash of the
   (key, version) pairs whose key hashes into that bucket).
2. B answers with `bucket_versions(its versions, differing_buckets(B's digest, A's))`:
   the (kind, key) -> version map of only the buckets that differ.
3. A runs `plan_sync(its versions, B's map, buckets=...)`: which of its records to send
   to B (A's are newer or B lacks them) and which (kind, key) to request from B.
   B does the same with A's map, or A simply sends and requests in one round.

Functions take "versions" as `Mapping[(kind, key), Timestamp]`, so a store can build
them from an index without loading values. No sqlite, no asyncio, no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from node.digits import is_digits
from node.replication._hlc import Timestamp, TimestampError, timestamp_from_json, timestamp_to_json

# kinds are identifiers ("system", "user", "camera", "failover_settings" ...)
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_KEY_LEN = 256
# One record's JSON value; configuration records are small. Bound what a peer can make
# us store.
MAX_VALUE_BYTES = 64 * 1024
# Buckets per kind in a digest: 2 hex digits of the key hash. Small enough to ship in
# one message, fine enough that a few changed keys only exchange a few buckets.
DIGEST_BUCKETS = 16

RecordId = tuple[str, str]  # (kind, key)
Versions = Mapping[RecordId, Timestamp]


class ReplicaError(ValueError):
    """A record or digest from outside is malformed."""


@dataclass(frozen=True)
class Record:
    kind: str
    key: str
    value: dict[str, Any] | None  # None = tombstone (deleted)
    version: Timestamp

    @property
    def id(self) -> RecordId:
        return (self.kind, self.key)

    @property
    def deleted(self) -> bool:
        return self.value is None


def newer(local: Record | None, remote: Record) -> bool:
    """True iff `remote` should replace `local` (its version is strictly greater)."""
    return local is None or remote.version > local.version


def merge(local: Record | None, remote: Record) -> Record:
    """The record that wins between `local` and `remote` (same id)."""
    if local is not None and local.id != remote.id:
        raise ReplicaError(f"cannot merge {local.id} with {remote.id}")
    return remote if newer(local, remote) else local  # type: ignore[return-value]


def merge_all(records: Iterable[Record]) -> dict[RecordId, Record]:
    """The winning record per id of any collection, in any order (commutative)."""
    winners: dict[RecordId, Record] = {}
    for record in records:
        if newer(winners.get(record.id), record):
            winners[record.id] = record
    return winners


# --------------------------------------------------------------------------- JSON


def _check_id(kind: Any, key: Any) -> None:
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ReplicaError(f"kind must match {KIND_PATTERN.pattern}")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LEN or not key.isprintable():
        raise ReplicaError(f"key must be a printable str of 1..{MAX_KEY_LEN} characters")


def validate_record(record: Record) -> Record:
    """Return `record` if it is well formed, else raise ReplicaError."""
    _check_id(record.kind, record.key)
    try:
        timestamp_from_json(timestamp_to_json(record.version))
    except (TimestampError, AttributeError) as exc:
        raise ReplicaError(f"bad version: {exc}") from None
    if record.value is not None:
        if not isinstance(record.value, dict):
            raise ReplicaError("value must be an object or null")
        try:
            encoded = json.dumps(record.value, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ReplicaError(f"value is not plain JSON: {exc}") from None
        if len(encoded.encode()) > MAX_VALUE_BYTES:
            raise ReplicaError(f"value larger than {MAX_VALUE_BYTES} bytes")
    return record


def record_to_json(r: Record) -> dict[str, Any]:
    return {"kind": r.kind, "key": r.key, "value": r.value, "version": timestamp_to_json(r.version)}


def record_from_json(d: Any) -> Record:
    """Parse and validate a record's JSON object; raise ReplicaError on anything wrong."""
    if not isinstance(d, Mapping):
        raise ReplicaError("record must be an object")
    if set(d) != {"kind", "key", "value", "version"}:
        raise ReplicaError("record needs exactly kind, key, value, version")
    try:
        version = timestamp_from_json(d["version"])
    except TimestampError as exc:
        raise ReplicaError(f"bad version: {exc}") from None
    value = d["value"]
    if value is not None and not isinstance(value, dict):
        raise ReplicaError("value must be an object or null")
    return validate_record(Record(d["kind"], d["key"], value, version))


# ------------------------------------------------------------------ anti-entropy


@dataclass(frozen=True)
class BucketSummary:
    count: int
    hash_hex: str  # sha256 over the bucket's sorted (key, version) pairs


# kind -> bucket index -> summary; empty buckets are absent
Digest = dict[str, dict[int, BucketSummary]]


def versions_of(records: Iterable[Record]) -> dict[RecordId, Timestamp]:
    return {r.id: r.version for r in records}


def bucket_of(key: str) -> int:
    """Stable bucket of a key (same on every node and Python run)."""
    return hashlib.sha256(key.encode()).digest()[0] % DIGEST_BUCKETS


def digest(versions: Versions) -> Digest:
    """Summarise a node's records per kind and bucket (count + hash)."""
    grouped: dict[str, dict[int, list[tuple[str, Timestamp]]]] = {}
    for (kind, key), version in versions.items():
        grouped.setdefault(kind, {}).setdefault(bucket_of(key), []).append((key, version))
    result: Digest = {}
    for kind, buckets in grouped.items():
        result[kind] = {}
        for index, entries in buckets.items():
            h = hashlib.sha256()
            for key, v in sorted(entries):
                h.update(f"{len(key)}:{key}|{v.wall_ms}.{v.counter}@{v.node_id}\n".encode())
            result[kind][index] = BucketSummary(len(entries), h.hexdigest())
    return result


def differing_buckets(local: Digest, remote: Digest) -> set[tuple[str, int]]:
    """(kind, bucket) pairs whose contents differ between the two digests."""
    out: set[tuple[str, int]] = set()
    for kind in local.keys() | remote.keys():
        mine, theirs = local.get(kind, {}), remote.get(kind, {})
        for index in mine.keys() | theirs.keys():
            if mine.get(index) != theirs.get(index):
                out.add((kind, index))
    return out


def bucket_versions(
    versions: Versions, buckets: Iterable[tuple[str, int]]
) -> dict[RecordId, Timestamp]:
    """The versions of the records that fall into the given buckets."""
    wanted = set(buckets)
    return {rid: v for rid, v in versions.items() if (rid[0], bucket_of(rid[1])) in wanted}


@dataclass(frozen=True)
class SyncPlan:
    send: list[RecordId]  # ours is newer or theirs is missing: send our record
    request: list[RecordId]  # theirs is newer or ours is missing: ask for theirs


def plan_sync(
    local: Versions,
    remote: Versions,
    buckets: Iterable[tuple[str, int]] | None = None,
) -> SyncPlan:
    """Compare our versions with a peer's; restrict to `buckets` when the peer sent only
    those (records of ours outside them are not known to differ)."""
    scope = None if buckets is None else set(buckets)

    def in_scope(rid: RecordId) -> bool:
        return scope is None or (rid[0], bucket_of(rid[1])) in scope

    send = [
        rid for rid, v in local.items() if in_scope(rid) and (rid not in remote or v > remote[rid])
    ]
    request = [rid for rid, v in remote.items() if rid not in local or v > local[rid]]
    return SyncPlan(sorted(send), sorted(request))


def records_since(records: Iterable[Record], since: Timestamp | None) -> list[Record]:
    """Records written after `since` (all when None), oldest first: a cheap push of
    recent changes before falling back to digests."""
    chosen = [r for r in records if since is None or r.version > since]
    return sorted(chosen, key=lambda r: r.version)


# ---------------------------------------------------------------- digest JSON


def digest_to_json(d: Digest) -> dict[str, Any]:
    return {
        kind: {str(i): [s.count, s.hash_hex] for i, s in sorted(buckets.items())}
        for kind, buckets in sorted(d.items())
    }


def digest_from_json(data: Any) -> Digest:
    """Parse a digest from its JSON form; raise ReplicaError on anything wrong."""
    if not isinstance(data, Mapping):
        raise ReplicaError("digest must be an object")
    out: Digest = {}
    for kind, buckets in data.items():
        _check_id(kind, "x")
        if not isinstance(buckets, Mapping):
            raise ReplicaError("digest buckets must be an object")
        out[kind] = {}
        for index_text, pair in buckets.items():
            if not is_digits(index_text):
                raise ReplicaError("bucket index must be a decimal string")
            index = int(index_text)
            if index >= DIGEST_BUCKETS:
                raise ReplicaError("bucket index out of range")
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ReplicaError("bucket must be [count, hash]")
            count, hash_hex = pair
            if type(count) is not int or count < 0:
                raise ReplicaError("bucket count must be a non-negative int")
            if not (isinstance(hash_hex, str) and re.fullmatch(r"[0-9a-f]{64}", hash_hex)):
                raise ReplicaError("bucket hash must be 64 hex digits")
            out[kind][index] = BucketSummary(count, hash_hex)
    return out


def versions_to_json(versions: Versions) -> list[list[Any]]:
    return [[k, key, timestamp_to_json(v)] for (k, key), v in sorted(versions.items())]


def versions_from_json(data: Any) -> dict[RecordId, Timestamp]:
    """Parse `[[kind, key, version], ...]`; raise ReplicaError on anything wrong."""
    if not isinstance(data, list):
        raise ReplicaError("versions must be a list")
    out: dict[RecordId, Timestamp] = {}
    for item in data:
        if not (isinstance(item, list) and len(item) == 3):
            raise ReplicaError("each version must be [kind, key, version]")
        kind, key, version = item
        _check_id(kind, key)
        try:
            out[(kind, key)] = timestamp_from_json(version)
        except TimestampError as exc:
            raise ReplicaError(f"bad version: {exc}") from None
    return out
