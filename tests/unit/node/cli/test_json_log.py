"""--log-format json: one object per line, camera and server ids where one is named."""

from __future__ import annotations

import io
import json
import logging

from node.cli._logging import configure_logging

CAMERA = "0b4d3c1e-5f6a-4b7c-8d9e-0a1b2c3d4e5f"
SERVER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def test_json_lines_carry_the_ids_they_concern() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        tagger = configure_logging("info", "json", stream)
        tagger.known = lambda: ({CAMERA}, {SERVER})
        log = logging.getLogger("camkeep.test")
        log.info("camera %s: attempt ended", CAMERA)
        log.warning("server %s is dead", SERVER)
        log.info("event", extra={"camera_id": "cam-x", "server_id": "srv-y"})
        log.info("nothing in particular")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["camera_id"] == CAMERA and "server_id" not in lines[0]
    assert lines[1]["server_id"] == SERVER and lines[1]["level"] == "warning"
    assert (lines[2]["camera_id"], lines[2]["server_id"]) == ("cam-x", "srv-y")
    assert "camera_id" not in lines[3] and lines[3]["message"] == "nothing in particular"
    assert all(line["time"].endswith("Z") for line in lines)
