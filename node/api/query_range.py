"""The start/end query parameters of the recording and failover routes."""

from __future__ import annotations

from datetime import UTC, datetime

from node.api.errors import ApiError


def as_utc(value: datetime) -> datetime:
    """A time without a zone is taken as UTC; one with a zone is converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def query_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both ends in UTC; a 422 when the range is empty or reversed."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ApiError(422, "end must be after start")
    return start, end
