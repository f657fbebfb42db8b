"""A camera's recorded periods and the export of a range as one MP4."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from node.api.errors import ApiError
from node.api.models import GapOut, PeriodOut, PeriodsOut
from node.api.query_range import IsoTime, query_range
from node.api.security import Node, Viewer
from node.recordings import MergeError, export_merged, merged_timeline
from recorder import RecorderError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["recordings"])

MAX_EXPORT = timedelta(hours=24)


@router.get(
    "/cameras/{camera_id}/recordings", response_model=PeriodsOut, response_model_exclude_none=True
)
async def recordings(
    camera_id: str, start: IsoTime, end: IsoTime, node: Node, _caller: Viewer
) -> PeriodsOut:
    start, end = query_range(start, end)
    if node.state.camera(camera_id) is None:
        raise ApiError(404, f"no camera {camera_id!r}")
    # every live server's periods, merged, and the gaps between them with the reason
    timeline = await merged_timeline(node, camera_id, start, end)
    return PeriodsOut(
        periods=[
            PeriodOut(
                start=p.start, end=p.end, server_id=p.server_id, overlap=p.overlap, source=p.source
            )
            for p in timeline.periods
        ],
        gaps=[GapOut(start=g.start, end=g.end, reason=g.reason) for g in timeline.gaps],
        unreachable_servers=timeline.unreachable or None,
    )


@router.get(
    "/cameras/{camera_id}/export",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}, "description": "the range as one MP4"}},
)
async def export(
    camera_id: str, start: IsoTime, end: IsoTime, node: Node, _caller: Viewer
) -> FileResponse:
    start, end = query_range(start, end)
    if end - start > MAX_EXPORT:
        raise ApiError(422, f"export at most {MAX_EXPORT.total_seconds() / 3600:g} hours at once")
    camera = node.state.camera(camera_id)
    if camera is None:
        raise ApiError(404, f"no camera {camera_id!r}")
    out_path = node.tmp_dir / f"export-{uuid.uuid4().hex}.mp4"
    try:  # one MP4 across every server holding a piece of the range
        await export_merged(node, camera_id, start, end, out_path)
    except (RecorderError, MergeError) as error:
        out_path.unlink(missing_ok=True)
        raise ApiError(404, f"nothing to export: {error}") from None
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    filename = f"{camera['name']}-{start:%Y%m%dT%H%M%SZ}.mp4".replace('"', "")
    return FileResponse(
        out_path,
        media_type="video/mp4",
        filename=filename,
        background=BackgroundTask(out_path.unlink, missing_ok=True),
    )


@router.get("/gapfill")
async def gapfill_status(node: Node, _caller: Viewer) -> dict[str, Any]:
    """Gap fill on this server: the fills it finished lately (gap length, how long the
    download took), the cameras it is about to check, the servers it counts as lost."""
    return node.gapfill.status()
