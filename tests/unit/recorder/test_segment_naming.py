from datetime import UTC, datetime, timedelta, timezone

import pytest

from recorder import InvalidCameraId
from recorder._naming import parse_segment_relpath, segment_relpath, validate_camera_id


def test_path_is_camera_date_time_in_utc() -> None:
    start = datetime(2026, 3, 1, 23, 59, 58, 700_000, tzinfo=timezone(timedelta(hours=-2)))
    assert str(segment_relpath("cam-1", start)) == "cam-1/2026-03-02/01-59-58.mp4"


def test_collision_suffix_and_round_trip() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rel = segment_relpath("door.cam_2", start, collision=3)
    assert str(rel) == "door.cam_2/2026-01-02/03-04-05_3.mp4"
    assert parse_segment_relpath(rel) == ("door.cam_2", start)
    assert parse_segment_relpath(segment_relpath("c", start)) == ("c", start)


@pytest.mark.parametrize(
    "rel",
    [
        "cam/2026-01-02/03-04-05.mkv",
        "cam/2026-13-02/03-04-05.mp4",
        "cam/2026-01-02/25-04-05.mp4",
        "cam/x/2026-01-02/03-04-05.mp4",
        "../2026-01-02/03-04-05.mp4",
        ".hidden/2026-01-02/03-04-05.mp4",
        "cam/2026-01-02/03-04-05.mp4.part",
    ],
)
def test_non_segment_paths_are_rejected(rel: str) -> None:
    assert parse_segment_relpath(rel) is None


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "-x", ".x", "a b", "x" * 129, "é", "a\n"])
def test_invalid_camera_ids(bad: str) -> None:
    with pytest.raises(InvalidCameraId):
        validate_camera_id(bad)
    with pytest.raises(InvalidCameraId):
        segment_relpath(bad, datetime(2026, 1, 1, tzinfo=UTC))
