"""Time range options of the recordings and export commands."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from node.cli._client import CliError
from node.timefmt import parse_utc_iso, utc_iso

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_range_arguments(parser: argparse.ArgumentParser, default_last: str) -> None:
    parser.add_argument("--start", help="start, ISO 8601 (UTC when no zone is given)")
    parser.add_argument("--end", help="end, ISO 8601 (default: now)")
    parser.add_argument(
        "--last",
        default=default_last,
        help="without --start: this long before the end: 90s, 10m, 2h, 1d (default %(default)s)",
    )


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise CliError(f"--last: {text!r} is not a duration like 90s, 10m, 2h or 1d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def parse_time(text: str, option: str) -> datetime:
    try:
        return parse_utc_iso(text.strip(), naive_is_utc=True)
    except ValueError:
        raise CliError(f"{option}: {text!r} is not an ISO 8601 time") from None


def time_range(args: argparse.Namespace) -> tuple[datetime, datetime]:
    end = parse_time(args.end, "--end") if args.end else datetime.now(UTC)
    start = parse_time(args.start, "--start") if args.start else end - parse_duration(args.last)
    if end <= start:
        raise CliError("the end must be after the start")
    return start, end


def range_params(start: datetime, end: datetime) -> dict[str, str]:
    """The range as the API's query takes it: UTC ISO 8601 with milliseconds."""
    return {
        "start": utc_iso(start, timespec="milliseconds"),
        "end": utc_iso(end, timespec="milliseconds"),
    }
