import struct
from pathlib import Path

from recorder._mp4boxes import repair_torn_tail, scan_file


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


HEAD = box(b"ftyp", b"isom") + box(b"moov", b"x" * 20)
FRAG = box(b"moof", b"m" * 12) + box(b"mdat", b"d" * 50)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "seg.mp4"
    path.write_bytes(data)
    return path


def test_complete_file_is_untouched(tmp_path: Path) -> None:
    data = HEAD + FRAG + FRAG + box(b"mfra", b"z" * 8)
    path = write(tmp_path, data)
    scan = repair_torn_tail(path)
    assert (scan.fragments, scan.torn, scan.valid_end) == (2, False, len(data))
    assert path.read_bytes() == data


def test_every_cut_inside_the_last_fragment_truncates_to_the_previous(tmp_path: Path) -> None:
    whole = HEAD + FRAG + FRAG
    for cut in range(len(HEAD + FRAG) + 1, len(whole)):
        path = write(tmp_path, whole[:cut])
        scan = repair_torn_tail(path)
        assert scan.fragments == 1, cut
        assert path.read_bytes() == HEAD + FRAG, cut
        assert not scan_file(path).torn


def test_header_only_and_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + b"\x00\x00")
    scan = repair_torn_tail(path)
    assert (scan.fragments, scan.valid_end) == (0, len(HEAD))
    path = write(tmp_path, b"garbage that is not an mp4 at all")
    assert repair_torn_tail(path).valid_end == 0
    assert path.read_bytes() == b"garbage that is not an mp4 at all"  # left alone


def test_64_bit_box_size(tmp_path: Path) -> None:
    mdat64 = struct.pack(">I4sQ", 1, b"mdat", 16 + 30) + b"d" * 30
    data = HEAD + box(b"moof", b"m") + mdat64
    assert scan_file(write(tmp_path, data)).fragments == 1
