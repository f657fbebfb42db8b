"""A camera's recordings across servers: fetch every server's periods, export one MP4.

    periods, unreachable = await merged_periods(node, camera_id, start, end)
    await export_merged(node, camera_id, start, end, out_path)

Each live member is asked over signed HTTP (node.security's internode authentication, through
`node.http_client()`) for its LOCAL periods (`INTERNAL_PERIODS_PATH`) and, for an
export, for its local piece (`INTERNAL_EXPORT_PATH`); this node's own come from its
recorder. The merge itself is pure (`_merge.py`); the pieces are joined by PyAV in a
thread (`_concat.py`). A server that does not answer is
left out and named in `unreachable`: its video is still on its disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from node.recordings._concat import ConcatError, concat_mp4
from node.recordings._merge import MergedPeriod, Piece, export_pieces, merge_periods
from node.system import Server, SystemState
from node.timefmt import parse_utc_iso, utc_iso
from recorder import ExportError, Period, RecorderError, RecorderService

log = logging.getLogger(__name__)

INTERNAL_PERIODS_PATH = "/api/v1/internal/cameras/{camera_id}/periods"
INTERNAL_EXPORT_PATH = "/api/v1/internal/cameras/{camera_id}/export"
PERIODS_TIMEOUT_S = 3.0
PIECE_TIMEOUT_S = 120.0
MAX_PERIODS_PER_SERVER = 100_000


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


def period_to_json(period: Period | MergedPeriod) -> dict[str, Any]:
    return {
        "start": utc_iso(period.start),
        "end": utc_iso(period.end),
        "server_id": period.server_id,
    }


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
        if end > start:
            periods.append(Period(start=start, end=end, server_id=server_id))
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


async def _remote_periods(
    node: RecordingsHost, server_id: str, url: str, camera_id: str, start: datetime, end: datetime
) -> list[Period]:
    answer = await node.http_client().get(
        url.rstrip("/") + _path(INTERNAL_PERIODS_PATH, camera_id),
        params={"start": utc_iso(start), "end": utc_iso(end)},
        timeout=PERIODS_TIMEOUT_S,
    )
    answer.raise_for_status()
    return parse_periods(answer.json(), server_id)


async def merged_periods(
    node: RecordingsHost, camera_id: str, start: datetime, end: datetime
) -> tuple[list[MergedPeriod], list[str]]:
    """Every reachable server's periods of the camera in [start, end), merged; and the
    ids of live servers that did not answer."""
    periods = list(await node.recorder.find_periods(camera_id, start, end))
    peers = live_peers(node)
    results = await asyncio.gather(
        *(_remote_periods(node, sid, url, camera_id, start, end) for sid, url in peers),
        return_exceptions=True,
    )
    unreachable = []
    for (server_id, url), result in zip(peers, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("recordings: no periods from %s (%s): %r", server_id, url, result)
            unreachable.append(server_id)
        else:
            periods.extend(result)
    return merge_periods(periods), unreachable


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
