"""node.timefmt writes exactly what the per-module formatters it replaced wrote, and
parses what they parsed."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.timefmt import parse_utc_iso, utc_iso

MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min]),
)


@given(MOMENTS)
def test_auto_precision_matches_the_old_expression(moment: datetime) -> None:
    assert utc_iso(moment) == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@given(MOMENTS)
def test_milliseconds_match_the_old_expression(moment: datetime) -> None:
    old = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert utc_iso(moment, timespec="milliseconds") == old


@given(st.floats(min_value=0, max_value=7e9, allow_nan=False))
def test_unix_seconds_match_the_old_expression(unix_s: float) -> None:
    old = (
        datetime.fromtimestamp(unix_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    assert utc_iso(unix_s, timespec="milliseconds") == old


def test_known_strings() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert utc_iso(moment) == "2024-05-01T12:00:00.123456Z"
    assert utc_iso(moment, timespec="milliseconds") == "2024-05-01T12:00:00.123Z"
    assert utc_iso(moment.replace(microsecond=0)) == "2024-05-01T12:00:00Z"
    assert utc_iso(1_700_000_000.5, timespec="milliseconds") == "2023-11-14T22:13:20.500Z"
    assert utc_iso(1_700_000_000) == "2023-11-14T22:13:20Z"
    east = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc_iso(east) == "2024-05-01T12:00:00Z"


@given(MOMENTS)
def test_parse_inverts_format(moment: datetime) -> None:
    parsed = parse_utc_iso(utc_iso(moment))
    assert parsed == moment and parsed.tzinfo is UTC


def test_parse_offsets_and_naive_times() -> None:
    assert parse_utc_iso("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="offset"):
        parse_utc_iso("2024-05-01T12:00:00")
    naive = parse_utc_iso("2024-05-01T12:00:00", naive_is_utc=True)
    assert naive == datetime(2024, 5, 1, 12, tzinfo=UTC) and naive.tzinfo is UTC


@pytest.mark.parametrize("bad", ["", "yesterday", "2024-13-01T00:00:00Z", "12:00Z", None, 5])
def test_parse_refuses_what_is_not_iso(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_utc_iso(bad)  # type: ignore[arg-type]


def test_timefmt_imports_nothing_of_node() -> None:
    path = Path(__file__).resolve().parents[3] / "node" / "timefmt.py"
    for item in ast.walk(ast.parse(path.read_text())):
        if isinstance(item, ast.ImportFrom):
            assert item.level == 0 and not (item.module or "").startswith("node")
        elif isinstance(item, ast.Import):
            assert not any(alias.name.startswith("node") for alias in item.names)
