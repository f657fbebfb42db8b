"""The start/end query parameters of the recording and failover routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

from node.api.errors import ApiError

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    """Refuse what pydantic would otherwise read as a time: a number of seconds since
    1970 ("0.5") or a date alone; the API's times are ISO 8601 date-times."""
    if isinstance(value, str) and not _ISO_TIME.match(value.strip()):
        raise ValueError("expected an ISO 8601 date and time, like 2026-01-31T12:00:00Z")
    return value


# a query parameter that is a time: ISO 8601, UTC when it has no zone
IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]


def as_utc(value: datetime) -> datetime:
    """A time without a zone is taken as UTC; one with a zone is converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def query_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both ends in UTC; a 422 when the range is empty or reversed."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ApiError(422, "end must be after start")
    return start, end
