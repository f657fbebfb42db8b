"""Top-level box scan of a fragmented MP4 and repair of a torn tail (pure Python, no av).

A segment on disk is `ftyp moov (moof mdat)* [mfra]`. A crash can leave the last
fragment incomplete; the file is valid again when cut at the end of the last whole
`moof`+`mdat` pair."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


@dataclass(frozen=True)
class FragmentScan:
    size: int  # file size
    valid_end: int  # offset after the last complete fragment (or moov); 0 if no moov
    fragments: int  # complete moof+mdat pairs
    torn: bool  # bytes after valid_end that are not a complete fragment or mfra


def scan_boxes(read_at, size: int) -> FragmentScan:
    """Scan top-level boxes. `read_at(offset, n)` returns up to n bytes at offset."""
    offset = 0
    seen_ftyp = seen_moov = False
    valid_end = 0
    fragments = 0
    pending_moof = False
    while offset + 8 <= size:
        head = read_at(offset, 16)
        length, kind = _HEADER.unpack_from(head)
        header_len = 8
        if length == 1:
            if len(head) < 16:
                break
            (length,) = _LARGE.unpack_from(head, 8)
            header_len = 16
        elif length == 0:
            length = size - offset
        if length < header_len or offset + length > size:
            break  # torn or garbage: stop here
        if kind == b"ftyp" and offset == 0:
            seen_ftyp = True
        elif kind == b"moov" and seen_ftyp:
            seen_moov = True
            valid_end = offset + length
        elif kind == b"moof" and seen_moov:
            pending_moof = True
        elif kind == b"mdat" and pending_moof:
            pending_moof = False
            fragments += 1
            valid_end = offset + length
        elif kind == b"mfra" and seen_moov and not pending_moof:
            valid_end = offset + length
        elif not seen_ftyp:
            break  # not an MP4 we wrote
        offset += length
    return FragmentScan(size, valid_end if seen_moov else 0, fragments, valid_end < size)


def scan_file(path: Path) -> FragmentScan:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size

        def read_at(offset: int, n: int) -> bytes:
            handle.seek(offset)
            return handle.read(n)

        return scan_boxes(read_at, size)


def repair_torn_tail(path: Path) -> FragmentScan:
    """Truncate `path` after its last complete fragment; returns the scan after repair.
    A file with no moov is left alone (valid_end == 0): the caller decides."""
    scan = scan_file(path)
    if scan.valid_end and scan.torn:
        with open(path, "r+b") as handle:
            handle.truncate(scan.valid_end)
            os.fsync(handle.fileno())
        return FragmentScan(scan.valid_end, scan.valid_end, scan.fragments, False)
    return scan
