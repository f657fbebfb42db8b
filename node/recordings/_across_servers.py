"""A camera's recordings across servers: fetch every server's periods, export one MP4.

    periods, unreachable = await merged_periods(node, camera_id, start, end)
    timeline = await merged_timeline(node, camera_id, start, end)  # + gaps and why
    await export_merged(node, camera_id, start, end, out_path)

Each live member is asked over signed HTTP (node.security's internode authentication, through
`node.http_client()`) for its LOCAL periods (`INTERNAL_PERIODS_PATH`) and, for an
export, for its local piece (`INTERNAL_EXPORT_PATH`); this node's own come from its
recorder. The merge itself is pure (`_merge.py`); the pieces are joined by PyAV in a
thread (`_concat.py`). A server that does not answer is
left out and named in `unreachable`: its video is still on its disk.

Periods downloaded from a camera's own storage (gap fill) are marked `source: "edge"`.
The gaps of a timeline are the holes between two stretches of video; each server's
answer also names the gaps its recorder noted (a fill working on them, or why the
camera's storage could not fill them), so every node gives the same reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from node.recordings._concat import ConcatError, concat_mp4
from node.recordings._merge import MergedPeriod, Piece, export_pieces, inner_gaps, merge_periods
from node.system import Server, SystemState
from node.timefmt import parse_utc_iso, utc_iso
from recorder import ExportError, GapRow, Period, RecorderError, RecorderService

log = logging.getLogger(__name__)

INTERNAL_PERIODS_PATH = "/api/v1/internal/cameras/{camera_id}/periods"
INTERNAL_EXPORT_PATH = "/api/v1/internal/cameras/{camera_id}/export"
PERIODS_TIMEOUT_S = 3.0
PIECE_TIMEOUT_S = 120.0
MAX_PERIODS_PER_SERVER = 100_000
MAX_GAPS_PER_SERVER = 10_000
NOT_RECORDED = "not_recorded"  # a hole nobody has tried (or could try) to fill
FILLING = "filling"  # a fill from the camera's storage is working on it


class RecordingsHost(Protocol):
    """What the merged recordings need from the node: its recorder, the servers of the
    system, their membership state, and the signed HTTP client to ask them."""

    node_id: str
    state: SystemState
    recorder: RecorderService

    def server_state(self, server_id: str) -> str: ...

    def http_client(self) -> httpx.AsyncClient: ...


class MergeError(Exception):
    """Nothing to export in that range on any reachable server."""


@dataclass(frozen=True)
class GapNote:
    """What a server's recorder knows of a gap: a fill is working on it ("pending"),
    filled it ("filled") or could not ("unfillable", with the reason)."""

    start: datetime
    end: datetime
    state: str
    reason: str


@dataclass(frozen=True)
class TimelineGap:
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class Timeline:
    periods: list[MergedPeriod]
    gaps: list[TimelineGap]
    unreachable: list[str]


def period_to_json(period: Period | MergedPeriod) -> dict[str, Any]:
    return {
        "start": utc_iso(period.start),
        "end": utc_iso(period.end),
        "server_id": period.server_id,
        "source": period.source,
    }


def gap_row_to_json(row: GapRow) -> dict[str, Any]:
    return {
        "start": utc_iso(_dt(row.start_ms)),
        "end": utc_iso(_dt(row.end_ms)),
        "state": row.state,
        "reason": row.reason,
    }


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _note(row: GapRow) -> GapNote:
    return GapNote(_dt(row.start_ms), _dt(row.end_ms), row.state, row.reason)


def parse_gap_notes(body: Any) -> list[GapNote]:
    """The gap notes of one server's internal answer (none when it sends none);
    ValueError when malformed."""
    items = body.get("gaps", []) if isinstance(body, dict) else []
    if not isinstance(items, list) or len(items) > MAX_GAPS_PER_SERVER:
        raise ValueError("'gaps' must be a list")
    notes = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("a gap must be an object")
        state, reason = item.get("state"), item.get("reason")
        if not isinstance(state, str) or not isinstance(reason, str):
            raise ValueError("a gap needs a state and a reason")
        start, end = _parse_time(item.get("start")), _parse_time(item.get("end"))
        if end > start:
            notes.append(GapNote(start, end, state[:32], reason[:64]))
    return notes


def parse_periods(body: Any, server_id: str) -> list[Period]:
    """Periods of one server's internal answer; ValueError when malformed. Every
    period is attributed to the server that answered, whatever it claims."""
    if not isinstance(body, dict) or not isinstance(body.get("periods"), list):
        raise ValueError("answer must be an object with a 'periods' list")
    items = body["periods"]
    if len(items) > MAX_PERIODS_PER_SERVER:
        raise ValueError("too many periods")
    periods = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("a period must be an object")
        start = _parse_time(item.get("start"))
        end = _parse_time(item.get("end"))
        source = "edge" if item.get("source") == "edge" else "live"
        if end > start:
            periods.append(Period(start=start, end=end, server_id=server_id, source=source))
    return periods


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("time must be an ISO 8601 string")
    return parse_utc_iso(value)


def live_peers(node: RecordingsHost) -> list[tuple[str, str]]:
    """(server id, url) of every other member that membership does not call dead."""
    out = []
    for server in map(Server.from_record, node.state.servers()):
        if server.id == node.node_id or server.url is None:
            continue
        if node.server_state(server.id) in ("alive", "suspect"):
            out.append((server.id, server.url))
    return out


def _path(template: str, camera_id: str) -> str:
    return template.format(camera_id=quote(camera_id, safe=""))


async def _remote_answer(
    node: RecordingsHost, server_id: str, url: str, camera_id: str, start: datetime, end: datetime
) -> tuple[list[Period], list[GapNote]]:
    answer = await node.http_client().get(
        url.rstrip("/") + _path(INTERNAL_PERIODS_PATH, camera_id),
        params={"start": utc_iso(start), "end": utc_iso(end)},
        timeout=PERIODS_TIMEOUT_S,
    )
    answer.raise_for_status()
    body = answer.json()
    return parse_periods(body, server_id), parse_gap_notes(body)


async def _gather(
    node: RecordingsHost, camera_id: str, start: datetime, end: datetime
) -> tuple[list[Period], list[GapNote], list[str]]:
    periods = list(await node.recorder.find_periods(camera_id, start, end))
    notes = [_note(row) for row in node.recorder.gaps(camera_id, start, end)]
    peers = live_peers(node)
    results = await asyncio.gather(
        *(_remote_answer(node, sid, url, camera_id, start, end) for sid, url in peers),
        return_exceptions=True,
    )
    unreachable = []
    for (server_id, url), result in zip(peers, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("recordings: no periods from %s (%s): %r", server_id, url, result)
            unreachable.append(server_id)
        else:
            periods.extend(result[0])
            notes.extend(result[1])
    return periods, notes, unreachable


async def merged_periods(
    node: RecordingsHost, camera_id: str, start: datetime, end: datetime
) -> tuple[list[MergedPeriod], list[str]]:
    """Every reachable server's periods of the camera in [start, end), merged; and the
    ids of live servers that did not answer."""
    periods, _, unreachable = await _gather(node, camera_id, start, end)
    return merge_periods(periods), unreachable


def gap_reason(start: datetime, end: datetime, notes: list[GapNote]) -> str:
    """Why [start, end) holds no video, from what the servers noted about it: the
    reason a fill could not fill it, else "filling" while one works on it, else
    "not_recorded"."""
    touching = [n for n in notes if n.start < end and n.end > start]
    unfillable = [n for n in touching if n.state == "unfillable"]
    if unfillable:
        return max(unfillable, key=lambda n: min(n.end, end) - max(n.start, start)).reason
    if any(n.state == "pending" for n in touching):
        return FILLING
    return NOT_RECORDED


async def merged_timeline(
    node: RecordingsHost, camera_id: str, start: datetime, end: datetime
) -> Timeline:
    """The merged periods, the gaps between them with their reasons, and the live
    servers that did not answer."""
    periods, notes, unreachable = await _gather(node, camera_id, start, end)
    merged = merge_periods(periods)
    holes = [TimelineGap(s, e, gap_reason(s, e, notes)) for s, e in inner_gaps(merged, start, end)]
    return Timeline(merged, holes, unreachable)


async def _fetch_piece(
    node: RecordingsHost, url: str, camera_id: str, piece: Piece, out: Path
) -> None:
    client = node.http_client()
    async with client.stream(
        "GET",
        url.rstrip("/") + _path(INTERNAL_EXPORT_PATH, camera_id),
        params={"start": utc_iso(piece.start), "end": utc_iso(piece.end)},
        timeout=PIECE_TIMEOUT_S,
    ) as answer:
        answer.raise_for_status()
        with out.open("wb") as file:
            async for chunk in answer.aiter_bytes():
                await asyncio.to_thread(file.write, chunk)


async def export_merged(
    node: RecordingsHost, camera_id: str, start: datetime, end: datetime, out_path: Path
) -> Path:
    """One MP4 of [start, end) from whichever servers hold it. Raises MergeError when
    no reachable server has video there."""
    periods, _ = await merged_periods(node, camera_id, start, end)
    pieces = export_pieces(periods, start, end)
    if not pieces:
        raise MergeError(f"no recordings of camera {camera_id!r} in that range")
    if all(p.server_id == node.node_id for p in pieces):
        try:  # all on this server: its own export already joins its segments
            return await node.recorder.export(camera_id, start, end, out_path)
        except RecorderError as exc:
            raise MergeError(str(exc)) from None
    urls = dict(live_peers(node))
    parts: list[Path] = []
    try:
        for index, piece in enumerate(pieces):
            part = out_path.with_name(f"{out_path.name}.{uuid.uuid4().hex[:8]}.{index}.mp4")
            try:
                if piece.server_id == node.node_id:
                    await node.recorder.export(camera_id, piece.start, piece.end, part)
                elif piece.server_id in urls:
                    await _fetch_piece(node, urls[piece.server_id], camera_id, piece, part)
                else:
                    continue
            except (RecorderError, ExportError, OSError, Exception) as exc:
                log.warning("export: piece from %s failed: %r", piece.server_id, exc)
                part.unlink(missing_ok=True)
                continue
            parts.append(part)
        if not parts:
            raise MergeError(f"no server could export camera {camera_id!r} in that range")
        try:
            return await asyncio.to_thread(concat_mp4, parts, out_path)
        except ConcatError as exc:
            raise MergeError(str(exc)) from None
    finally:
        for part in parts:
            with contextlib.suppress(OSError):
                part.unlink()
