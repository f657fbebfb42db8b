"""Which segments to delete (pure): maximum age, byte quota, minimum free space.
Oldest first; never a segment still being written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._model import RetentionPolicy


@dataclass(frozen=True)
class StoredSegment:
    key: int  # index row id
    start_ms: int
    end_ms: int
    bytes: int
    open: bool  # still being written: never deleted


@dataclass(frozen=True)
class RetentionChoice:
    delete: list[int]  # keys, oldest first
    short_bytes: int  # bytes still over the limits after deleting everything allowed

    @property
    def storage_full(self) -> bool:
        return self.short_bytes > 0


def choose_deletions(
    segments: Iterable[StoredSegment],
    policy: RetentionPolicy,
    *,
    now_ms: int,
    free_bytes: int | None = None,
    used_bytes: int | None = None,
) -> RetentionChoice:
    """`segments`: all segments of this node, in any order; `free_bytes` the free space
    of the disk.

    With `used_bytes` (their total size, e.g. a SUM in the index) given, `segments` must
    come oldest first (start, then key) and is read only as far as needed: up to the
    first segment that is neither too old nor needed to free space. A recorder that has
    run for months holds millions of segments; retention runs every few seconds and must
    not load them all each time. (A segment that starts later but ends earlier than one
    still kept waits for it: max age is then enforced at most one segment late.)"""
    ordered: Iterable[StoredSegment] = segments
    if used_bytes is None:
        ordered = sorted(segments, key=lambda s: (s.start_ms, s.key))
        used_bytes = sum(s.bytes for s in ordered)
    need = 0
    if policy.max_bytes is not None:
        need = max(need, used_bytes - policy.max_bytes)
    if policy.min_free_bytes is not None and free_bytes is not None:
        need = max(need, policy.min_free_bytes - free_bytes)
    cutoff_ms = None if policy.max_age_s is None else now_ms - int(policy.max_age_s * 1000)
    delete: list[int] = []
    freed = 0
    for seg in ordered:
        too_old = cutoff_ms is not None and seg.end_ms < cutoff_ms
        if not too_old and freed >= need:
            break  # everything after it is newer: neither too old nor needed
        if seg.open:
            continue
        delete.append(seg.key)
        freed += seg.bytes
    return RetentionChoice(delete, max(0, need - freed))
