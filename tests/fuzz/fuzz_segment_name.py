"""Recording file names as the index reconciliation reads them from the disk:
`recorder._naming.parse_segment_relpath` on `<camera>/<YYYY-MM-DD>/<HH-MM-SS>[_n].mp4`
(the bytes decoded as the file system does, `os.fsdecode`). A name it accepts must be
the one `segment_relpath` writes for that camera, start and collision number. No
error is documented: anything else gives None."""

from __future__ import annotations

import os
import re

from recorder._naming import parse_segment_relpath, segment_relpath

_COLLISION = re.compile(r"_([0-9]+)\.mp4\Z")


def fuzz_one(data: bytes) -> None:
    name = os.fsdecode(data)
    parsed = parse_segment_relpath(name)
    if parsed is None:
        return
    camera_id, start = parsed
    match = _COLLISION.search(name)
    collision = int(match[1]) if match else 0
    assert str(segment_relpath(camera_id, start, collision)) == name, name
