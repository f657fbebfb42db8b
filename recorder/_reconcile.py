"""Start-up reconcile: the files are the truth, the index follows them.

- index rows whose file is gone are removed;
- files not in the index are probed and added;
- segments left open by a crash are cut at their last complete fragment (a torn tail
  is truncated), probed, and closed;
- segment files without a single complete fragment are deleted (nothing playable)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._index import SegmentIndex
from ._mp4boxes import repair_torn_tail
from ._naming import parse_segment_relpath
from ._segment_probe import SegmentProbe, probe_segment

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # rows whose file was gone
    repaired: list[str] = field(default_factory=list)  # torn tail truncated
    closed: list[str] = field(default_factory=list)  # left open by a crash, now closed
    deleted: list[str] = field(default_factory=list)  # files with nothing playable


def _torn_header(path: Path) -> bool:
    """Empty, or an ftyp box with an incomplete moov: a segment killed at birth."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    return len(head) == 0 or (len(head) == 8 and head[4:8] == b"ftyp")


def segment_files(recordings_dir: Path) -> dict[str, Path]:
    """relpath -> path of every file named like a segment."""
    found: dict[str, Path] = {}
    if not recordings_dir.is_dir():
        return found
    for path in recordings_dir.glob("*/*/*.mp4"):
        rel = path.relative_to(recordings_dir).as_posix()
        if parse_segment_relpath(rel) is not None and path.is_file():
            found[rel] = path
    return found


def reconcile(
    index: SegmentIndex,
    recordings_dir: Path,
    server_id: str,
    probe: Callable[[Path], SegmentProbe | None] = probe_segment,
) -> ReconcileReport:
    report = ReconcileReport()
    files = segment_files(recordings_dir)
    rows = {row.path: row for row in index.all()}
    gone = [row for rel, row in rows.items() if rel not in files]
    index.delete_ids(row.id for row in gone)
    report.removed = [row.path for row in gone]
    for rel, path in sorted(files.items()):
        row = rows.get(rel)
        if row is not None and not row.open and row.bytes == path.stat().st_size:
            continue  # closed cleanly and unchanged
        size_before = path.stat().st_size
        scan = repair_torn_tail(path)
        if scan.size != size_before:
            report.repaired.append(rel)
        if scan.valid_end == 0 and _torn_header(path):
            path.unlink(missing_ok=True)  # killed while writing its header: nothing in it
            if row is not None:
                index.delete_ids([row.id])
            report.deleted.append(rel)
            continue
        if scan.valid_end == 0:
            log.warning("reconcile: %s is not a camkeep segment, left alone", rel)
            if row is not None:
                index.delete_ids([row.id])
            continue
        if scan.fragments == 0:
            path.unlink(missing_ok=True)
            if row is not None:
                index.delete_ids([row.id])
            report.deleted.append(rel)
            continue
        info = probe(path)
        if info is None:
            log.warning("reconcile: %s cannot be read, left alone", rel)
            if row is not None:
                index.delete_ids([row.id])
            continue
        named_ms = int(parse_segment_relpath(rel)[1].timestamp() * 1000)
        if row is not None:
            start_ms = row.start_ms
        elif info.start_ms is not None and info.start_ms // 1000 == named_ms // 1000:
            start_ms = info.start_ms  # the file's tag adds the milliseconds to its name
        else:
            start_ms = named_ms
        index.insert(
            camera_id=rel.split("/", 1)[0],
            server_id=row.server_id if row is not None else server_id,
            start_ms=start_ms,
            end_ms=start_ms + info.duration_ms,
            path=rel,
            bytes_=path.stat().st_size,
            codec=info.codec,
            width=info.width,
            height=info.height,
            open_=False,
            edge=row.edge if row is not None else info.edge,
        )
        (report.added if row is None else report.closed).append(rel)
    return report
