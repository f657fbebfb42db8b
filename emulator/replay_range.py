"""RTSP replay request headers (ONVIF Streaming, RFC 2326), pure code.

- `parse_range`: `Range: clock=20261202T101500Z-20261202T101600.25Z` (absolute UTC,
  ISO 8601 compact form, fractions allowed, open end allowed) or `npt=3.5-10`
  (seconds from the start of the recorded data, for clients that cannot send clock
  ranges). Anything else raises `RangeError` (answered 457 Invalid Range).
- `format_clock`: a UNIX time in the compact form a PLAY answer and SDP use.
- `parse_rate_control`, `unsupported_requirements`: the Rate-Control and Require headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

ONVIF_REPLAY_TAG = "onvif-replay"
SUPPORTED_REQUIREMENTS = frozenset({ONVIF_REPLAY_TAG})

_CLOCK = re.compile(r"^(\d{8})T(\d{6})(?:[.,](\d{1,9}))?Z$")
_NPT_TIME = re.compile(r"^\d{1,9}(?:\.\d{1,9})?$")


class RangeError(ValueError):
    """A Range header the server cannot honour."""


@dataclass(frozen=True)
class RequestedRange:
    kind: str  # "clock" (UNIX seconds) or "npt" (seconds from the first recorded frame)
    start: float | None  # None: from where the stream is (resume)
    end: float | None  # None: open end


def parse_clock(text: str) -> float:
    """`20261202T101500Z` or `20261202T101500.123Z` -> UNIX seconds."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise RangeError(f"not a clock time: {text!r}")
    date, time, fraction = match.groups()
    try:
        moment = datetime.strptime(date + time, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise RangeError(f"not a valid date and time: {text!r}") from None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def format_clock(unix_time: float) -> str:
    """UNIX seconds -> `20261202T101500.120Z` (milliseconds)."""
    moment = datetime.fromtimestamp(unix_time, UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def _pair(value: str) -> tuple[str, str]:
    start, dash, end = value.partition("-")
    if not dash or "-" in end:
        raise RangeError("a range is START-END or START-")
    return start.strip(), end.strip()


def parse_range(header: str) -> RequestedRange:
    """The Range header of a replay PLAY (the first range when several are listed)."""
    value = header.split(";")[0].strip()  # ";time=" (when to start) is not supported
    unit, equals, spec = value.partition("=")
    unit = unit.strip().lower()
    if not equals:
        raise RangeError("Range needs a unit: clock= or npt=")
    start_text, end_text = _pair(spec)
    if unit == "clock":
        if not start_text:
            raise RangeError("a clock range needs a start")
        start = parse_clock(start_text)
        end = parse_clock(end_text) if end_text else None
    elif unit == "npt":
        if start_text == "now":
            raise RangeError("npt=now- is live, not a replay")
        for text in (start_text, end_text):
            if text and not _NPT_TIME.match(text):
                raise RangeError(f"not an npt time: {text!r}")
        start = float(start_text) if start_text else 0.0
        end = float(end_text) if end_text else None
    else:
        raise RangeError(f"unsupported range unit {unit!r}")
    if end is not None and end < start:
        raise RangeError("the range ends before it starts")
    return RequestedRange(unit, start, end)


def parse_rate_control(header: str | None) -> bool:
    """Rate-Control: yes (default, real time) or no (as fast as the client reads)."""
    if header is None:
        return True
    value = header.strip().lower()
    if value not in ("yes", "no"):
        raise ValueError("Rate-Control must be yes or no")
    return value == "yes"


def requirements(header: str | None) -> list[str]:
    return [tag.strip() for tag in (header or "").split(",") if tag.strip()]


def unsupported_requirements(header: str | None) -> list[str]:
    """Feature tags of a Require header this server does not support (answered 551)."""
    return [tag for tag in requirements(header) if tag.lower() not in SUPPORTED_REQUIREMENTS]
