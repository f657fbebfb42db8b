from recorder._nal import parameter_sets

SPS = b"\x67\x42\x00\x1e\xab\x40"
PPS = b"\x68\xce\x38\x80"
IDR = b"\x65\x88\x84\x00\x00\x03\x00\x01"  # emulation-prevented zeros inside
SEI = b"\x06\x05\x01\xff\x80"


def test_h264_parameter_sets_before_first_slice() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x01" + SEI
    data += b"\x00\x00\x01" + IDR + b"\x00\x00\x01" + b"\x67\x99"  # SPS after a slice: ignored
    assert parameter_sets(data, "h264") == b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS


def test_h264_keyframe_without_parameter_sets_and_non_annex_b() -> None:
    assert parameter_sets(b"\x00\x00\x00\x01" + IDR, "h264") is None
    assert parameter_sets(b"\x00\x00\x00\x09" + IDR, "h264") is None  # length-prefixed
    assert parameter_sets(b"", "h264") is None
    assert parameter_sets(b"\x00\x00\x01", "h264") is None
    assert parameter_sets(b"\x00\x00\x00\x01" + SPS, "mpeg4") is None


def test_hevc_vps_sps_pps() -> None:
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc1"
    idr = b"\x26\x01\xaf"  # IDR_W_RADL (19)
    data = b"".join(b"\x00\x00\x00\x01" + n for n in (vps, sps, pps, idr))
    expected = b"".join(b"\x00\x00\x00\x01" + n for n in (vps, sps, pps))
    assert parameter_sets(data, "hevc") == expected


def test_changed_resolution_gives_different_bytes() -> None:
    a = parameter_sets(b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS, "h264")
    b = parameter_sets(b"\x00\x00\x00\x01" + SPS[:-1] + b"\x41" + b"\x00\x00\x01" + PPS, "h264")
    assert a and b and a != b
