"""Segment file names: recordings/<camera id>/<YYYY-MM-DD>/<HH-MM-SS>.mp4 (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import PurePosixPath

from ._model import InvalidCameraId

_CAMERA_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# <HH-MM-SS>.mp4, or <HH-MM-SS>_<n>.mp4 when two segments start in the same second; only
# the forms segment_relpath writes (ASCII digits, n without leading zeros), so that one
# file name maps to one (camera, start, n).
_SEGMENT = re.compile(
    r"(?P<cam>[^/]+)/(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})/(?P<time>[0-9]{2}-[0-9]{2}-[0-9]{2})"
    r"(?:_(?P<n>[1-9][0-9]{0,3}))?\.mp4"
)


def validate_camera_id(camera_id: str) -> str:
    if not isinstance(camera_id, str) or not _CAMERA_ID.fullmatch(camera_id):
        raise InvalidCameraId(
            f"camera id {camera_id!r} must be 1-128 characters of letters, digits, '.', '_', '-'"
            " and not start with '.' or '-'"
        )
    return camera_id


def segment_relpath(camera_id: str, start: datetime, collision: int = 0) -> PurePosixPath:
    """Path of a segment relative to the recordings folder; `collision` > 0 adds `_n`."""
    validate_camera_id(camera_id)
    utc = start.astimezone(UTC)
    stem = f"{utc:%H-%M-%S}" + (f"_{collision}" if collision else "")
    # The year is written with four digits as the parser reads it (strftime's %Y
    # does not pad years before 1000).
    return PurePosixPath(camera_id, f"{utc.year:04d}-{utc:%m-%d}", stem + ".mp4")


def parse_segment_relpath(relpath: str | PurePosixPath) -> tuple[str, datetime] | None:
    """(camera id, start to the second) of a segment path, or None if it is not one."""
    match = _SEGMENT.fullmatch(str(relpath))
    if match is None or not _CAMERA_ID.fullmatch(match["cam"]):
        return None
    try:
        start = datetime.strptime(f"{match['date']} {match['time']}", "%Y-%m-%d %H-%M-%S")
    except ValueError:
        return None
    return match["cam"], start.replace(tzinfo=UTC)
