"""UTC times as text: `2024-05-01T12:00:00.123Z`, the form of every time in the API,
the CLI and the replicated records.

At the bottom of node: imports nothing of node, so every subpackage may use it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["auto", "milliseconds"]


def utc_iso(moment: datetime | float, *, timespec: Precision = "auto") -> str:
    """ISO 8601 in UTC with a "Z". `moment` is a datetime (an aware one is converted to
    UTC, a naive one is taken as local time, as datetime.astimezone does) or unix
    seconds. timespec "auto" writes microseconds only when there are any;
    "milliseconds" always writes exactly three digits (truncated, not rounded)."""
    if isinstance(moment, datetime):
        value = moment.astimezone(UTC)
    else:
        value = datetime.fromtimestamp(moment, UTC)
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc_iso(text: str, *, naive_is_utc: bool = False) -> datetime:
    """An aware UTC datetime from ISO 8601 text ("Z" or any offset). Text without an
    offset raises ValueError unless `naive_is_utc`; so does anything not ISO 8601."""
    if not isinstance(text, str):
        raise ValueError("time must be an ISO 8601 string")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        if not naive_is_utc:
            raise ValueError("time must carry its offset (UTC)")
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
