"""Merge recorded segments into continuous periods (pure)."""

from __future__ import annotations

from collections.abc import Iterable

GAP_TOLERANCE_MS = 1500  # segments closer than this are one period


def merge_spans(
    spans: Iterable[tuple[int, int]],
    start_ms: int,
    end_ms: int,
    gap_tolerance_ms: int = GAP_TOLERANCE_MS,
) -> list[tuple[int, int]]:
    """(start, end) spans in ms -> merged spans clipped to [start_ms, end_ms]."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if e <= start_ms or s >= end_ms or e <= s:
            continue
        s, e = max(s, start_ms), min(e, end_ms)
        if merged and s - merged[-1][1] <= gap_tolerance_ms:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]
