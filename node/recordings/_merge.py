"""One timeline per camera from the periods every server holds (pure).

A camera's video can sit on several servers: its home, the backup that recorded it
during a failure, and, for a moment, both (make-before-break at failback, or both
sides of a partition). How the merged timeline presents that:

- **Every period is kept**, as each server reports it, naming the server that holds
  it: no video is hidden, and a client can fetch each piece from where it lives.
  Periods are sorted by (start, end, server id); exact duplicates (a server asked
  twice) are dropped. `overlap` marks a period that overlaps one held by another
  server, so a player knows two copies exist there.
- `coverage()` gives the union (where any video exists) and `gaps()` its complement
  inside a range: "where is every minute of video" in two calls.
- `export_pieces()` picks ONE server for every instant of a range, for an export
  that plays as a single continuous file: it stays on the server it is using as long
  as that server covers, and otherwise switches to the candidate that reaches
  furthest, so overlaps are used once and switches are few.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from recorder import Period

MIN_PIECE = timedelta(milliseconds=200)  # shorter export pieces are not worth a fetch


@dataclass(frozen=True, order=True)
class MergedPeriod:
    start: datetime
    end: datetime
    server_id: str
    overlap: bool = False
    source: str = "live"  # "edge": downloaded from the camera's own storage


@dataclass(frozen=True)
class Piece:
    """Export [start, end) of the camera from server `server_id`."""

    server_id: str
    start: datetime
    end: datetime


def _clip(periods: Iterable[Period], start: datetime, end: datetime) -> list[Period]:
    out = []
    for p in periods:
        s, e = max(p.start, start), min(p.end, end)
        if e > s:
            out.append(Period(start=s, end=e, server_id=p.server_id))
    return out


def merge_periods(periods: Iterable[Period]) -> list[MergedPeriod]:
    """Every server's periods as one sorted timeline, overlaps between servers marked."""
    unique = sorted({(p.start, p.end, p.server_id, p.source) for p in periods if p.end > p.start})
    merged = []
    for i, (start, end, server_id, source) in enumerate(unique):
        overlap = False
        # sorted by start: only neighbours starting before `end` can overlap
        for j in range(len(unique)):
            s2, e2, sid2, _ = unique[j]
            if j == i or sid2 == server_id:
                continue
            if s2 >= end:
                break
            if e2 > start:
                overlap = True
                break
        merged.append(MergedPeriod(start, end, server_id, overlap, source))
    return merged


def coverage(periods: Iterable[Period | MergedPeriod]) -> list[tuple[datetime, datetime]]:
    """The union of the periods: where any server holds video, sorted, disjoint."""
    spans: list[tuple[datetime, datetime]] = []
    for start, end in sorted((p.start, p.end) for p in periods if p.end > p.start):
        if spans and start <= spans[-1][1]:
            if end > spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def inner_gaps(
    periods: Iterable[Period | MergedPeriod], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The holes of [start, end) between two stretches of video: where a recording
    stopped and started again (not before the first video nor after the last)."""
    spans = coverage(periods)
    holes = []
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        s, e = max(previous_end, start), min(next_start, end)
        if e > s:
            holes.append((s, e))
    return holes


def gaps(
    periods: Iterable[Period | MergedPeriod], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) that no server's video covers."""
    holes = []
    cursor = start
    for s, e in coverage(periods):
        if e <= cursor:
            continue
        if s >= end:
            break
        if s > cursor:
            holes.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def export_pieces(
    periods: Sequence[Period | MergedPeriod], start: datetime, end: datetime
) -> list[Piece]:
    """One server per instant of [start, end): the pieces to fetch and join, in order.

    Gaps (no server holds video) are skipped; the joined file closes them up, as a
    single server's export does across its own gaps."""
    clipped = _clip(
        (Period(start=p.start, end=p.end, server_id=p.server_id) for p in periods), start, end
    )
    pieces: list[Piece] = []
    cursor = start
    current: str | None = None
    while cursor < end:
        live = [p for p in clipped if p.start <= cursor < p.end]
        if not live:
            later = [p.start for p in clipped if p.start > cursor]
            if not later:
                break
            cursor, current = min(later), None
            continue
        same = [p for p in live if p.server_id == current]
        # furthest-reaching first; ties to the smallest server id
        chosen = min(same or live, key=lambda p: (-(p.end - start), p.server_id))
        current = chosen.server_id
        if pieces and pieces[-1].server_id == current and pieces[-1].end == cursor:
            pieces[-1] = Piece(current, pieces[-1].start, chosen.end)
        else:
            pieces.append(Piece(current, cursor, chosen.end))
        cursor = chosen.end
    return [p for p in pieces if p.end - p.start >= MIN_PIECE] or pieces[:1]
