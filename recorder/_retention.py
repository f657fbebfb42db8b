"""Which segments to delete (pure): maximum age, byte quota, minimum free space.
Oldest first; never a segment still being written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    segments: Sequence[StoredSegment],
    policy: RetentionPolicy,
    *,
    now_ms: int,
    free_bytes: int | None = None,
) -> RetentionChoice:
    """`segments` are all segments of this node; `free_bytes` the free space of the disk."""
    used = sum(s.bytes for s in segments)
    need = 0
    if policy.max_bytes is not None:
        need = max(need, used - policy.max_bytes)
    if policy.min_free_bytes is not None and free_bytes is not None:
        need = max(need, policy.min_free_bytes - free_bytes)
    oldest_first: Iterable[StoredSegment] = sorted(
        (s for s in segments if not s.open), key=lambda s: (s.start_ms, s.key)
    )
    cutoff_ms = None if policy.max_age_s is None else now_ms - int(policy.max_age_s * 1000)
    delete: list[int] = []
    freed = 0
    for seg in oldest_first:
        too_old = cutoff_ms is not None and seg.end_ms < cutoff_ms
        if too_old or freed < need:
            delete.append(seg.key)
            freed += seg.bytes
    return RetentionChoice(delete, max(0, need - freed))
