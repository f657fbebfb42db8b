"""Which intervals of a camera's timeline to download from its own storage (pure).

Input: where video exists (the merged timeline of every reachable server, as disjoint
spans in UTC ms), when servers that may still hold video were lost, and what the
camera's storage holds. Output: the ranges to download and the gaps that stay.

- A *closed gap* is a hole after which video resumed: between two spans of the
  timeline, or, when a server was lost (dead, so its periods are not in the timeline),
  from the moment it was lost to the first span after it. A hole longer ago than the
  window, before the camera's first video, or still open (nothing recorded after it)
  is not a gap to fill.
- A lost server may hold video up to when it was lost: a hole that began before a
  loss starts at the loss, so the fill never downloads what that server holds.
- The camera's storage fills what it holds; the part of a gap older than its oldest
  frame stays a gap ("edge_overwritten"), a camera without storage leaves it all
  ("no_edge_storage"). Downloads reach `pad_ms` beyond each end of the gap (the
  times of live video are arrival times, a few hundred ms after capture) and are cut
  into pieces of `chunk_ms` so a long fill makes progress that survives a failure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

NO_EDGE_STORAGE = "no_edge_storage"
EDGE_OVERWRITTEN = "edge_overwritten"
NOT_ON_EDGE = "not_on_edge"  # the camera's storage has a hole there too


@dataclass(frozen=True, order=True)
class Span:
    start_ms: int
    end_ms: int

    @property
    def length_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class EdgeHolds:
    """The range the camera's own storage holds (UTC ms)."""

    earliest_ms: int
    latest_ms: int


@dataclass(frozen=True)
class Unfillable:
    span: Span
    reason: str


@dataclass(frozen=True)
class FillPlan:
    downloads: tuple[Span, ...]
    unfillable: tuple[Unfillable, ...]


def closed_gaps(
    coverage: Sequence[tuple[int, int]],
    *,
    window_start_ms: int,
    lost_at_ms: Sequence[int] = (),
    min_gap_ms: int = 200,
) -> list[Span]:
    """The closed gaps of a timeline (see the module's docstring); `coverage` is the
    sorted, disjoint spans where video exists."""
    spans = sorted((s, e) for s, e in coverage if e > window_start_ms and e > s)
    if not spans:
        return []
    holes: list[tuple[int, int]] = []
    first_start = spans[0][0]
    losses = sorted(t for t in lost_at_ms if window_start_ms <= t < first_start)
    if losses:
        holes.append((losses[-1], first_start))  # video resumed after a server was lost
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        if previous_end < window_start_ms:
            continue
        inside = [t for t in lost_at_ms if previous_end < t < next_start]
        holes.append((max([previous_end, *inside]), next_start))
    return [Span(s, e) for s, e in holes if e - s >= min_gap_ms]


def plan_fill(
    gaps: Sequence[Span], edge: EdgeHolds | None, *, pad_ms: int = 1000, chunk_ms: int = 60_000
) -> FillPlan:
    """Downloads (padded, clipped to what the camera holds, in chunks) and the parts
    of the gaps that cannot be filled."""
    if chunk_ms <= 0:
        raise ValueError("chunk_ms must be > 0")
    if edge is None:
        return FillPlan((), tuple(Unfillable(g, NO_EDGE_STORAGE) for g in gaps))
    downloads: list[Span] = []
    unfillable: list[Unfillable] = []
    for gap in sorted(gaps):
        if gap.start_ms < edge.earliest_ms:
            lost = Span(gap.start_ms, min(gap.end_ms, edge.earliest_ms))
            unfillable.append(Unfillable(lost, EDGE_OVERWRITTEN))
        start = max(gap.start_ms, edge.earliest_ms)
        end = min(gap.end_ms, edge.latest_ms)
        if end <= start:
            continue  # nothing of it held (yet): what is newer is asked again later
        start = max(start - pad_ms, edge.earliest_ms)
        end = min(end + pad_ms, edge.latest_ms)
        while start < end:
            piece_end = min(start + chunk_ms, end)
            downloads.append(Span(start, piece_end))
            start = piece_end
    return FillPlan(tuple(downloads), tuple(unfillable))


def subtract(gaps: Sequence[Span], known: Sequence[Span]) -> list[Span]:
    """The parts of `gaps` outside every span of `known` (gaps already judged)."""
    out: list[Span] = []
    for gap in gaps:
        pieces = [gap]
        for k in known:
            next_pieces = []
            for p in pieces:
                if k.end_ms <= p.start_ms or k.start_ms >= p.end_ms:
                    next_pieces.append(p)
                    continue
                if k.start_ms > p.start_ms:
                    next_pieces.append(Span(p.start_ms, k.start_ms))
                if k.end_ms < p.end_ms:
                    next_pieces.append(Span(k.end_ms, p.end_ms))
            pieces = next_pieces
        out.extend(pieces)
    return out
