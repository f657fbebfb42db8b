"""Segment files after a crash, as start-up reconciliation repairs them:
`recorder._mp4boxes.scan_boxes` over `data` in memory, and `repair_torn_tail` on a
real file holding `data` (in /dev/shm when there is one, so it stays cheap). The
repaired file must be a prefix of `data` ending at the scan's `valid_end`, and
scanning it again finds nothing torn. No error is documented."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from recorder._mp4boxes import repair_torn_tail, scan_boxes, scan_file

_SHM = Path("/dev/shm")
_DIR = Path(tempfile.mkdtemp(prefix="fuzz-mp4-", dir=_SHM if _SHM.is_dir() else None))
atexit.register(shutil.rmtree, _DIR, True)
_FILE = _DIR / "segment.mp4"


def fuzz_one(data: bytes) -> None:
    scan = scan_boxes(lambda offset, n: data[offset : offset + n], len(data))
    assert 0 <= scan.valid_end <= len(data) and scan.fragments >= 0
    _FILE.write_bytes(data)
    repaired = repair_torn_tail(_FILE)
    after = _FILE.read_bytes()
    if scan.valid_end and scan.torn:
        assert after == data[: scan.valid_end] and not repaired.torn
        again = scan_file(_FILE)
        assert not again.torn and again.valid_end == scan.valid_end, (again, scan)
    else:
        assert after == data and repaired == scan
