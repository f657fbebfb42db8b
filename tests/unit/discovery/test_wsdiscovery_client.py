"""WS-Discovery client messages: Probe building, hardened ProbeMatches parsing, merge."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from discovery.wsdiscovery_client import (
    MAX_DATAGRAM_BYTES,
    BadDiscoveryMessage,
    DiscoveredCamera,
    build_probe,
    merge,
    parse_probe_matches,
)
from emulator.camera import CameraSpec
from emulator.wsdiscovery_messages import (
    AppSequence,
    build_hello,
    build_probe_matches,
    parse_message,
)
from emulator.wsdiscovery_messages import Probe as EmulatorProbe

MID = "urn:uuid:11111111-2222-3333-4444-555555555555"
SEQ = AppSequence(1, 1)
CAMERA = CameraSpec(3, "Front door", "10.0.0.7", 554, 8002, model="X 1", location="hall/east")

_ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
    "<s:Header><a:RelatesTo>{relates}</a:RelatesTo></s:Header>"
    "<s:Body><d:ProbeMatches>{matches}</d:ProbeMatches></s:Body></s:Envelope>"
)


def _match(endpoint: str, xaddrs: str, scopes: str = "", version: str = "1") -> str:
    return (
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{endpoint}</a:Address>"
        f"</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs>"
        f"<d:MetadataVersion>{version}</d:MetadataVersion></d:ProbeMatch>"
    )


def _answer(*matches: str, relates: str = MID) -> bytes:
    return _ENVELOPE.format(relates=relates, matches="".join(matches)).encode()


def test_probe_is_a_probe_for_video_transmitters() -> None:
    parsed = parse_message(build_probe(MID))  # the emulator's parser understands it
    assert isinstance(parsed, EmulatorProbe)
    assert parsed.message_id == MID
    assert parsed.types == {("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")}


def test_parses_the_emulators_probe_matches() -> None:
    [camera] = parse_probe_matches(build_probe_matches(CAMERA, MID, SEQ), MID, "10.0.0.7")
    assert camera.endpoint == f"urn:uuid:{CAMERA.uuid}"
    assert camera.xaddrs == ("http://10.0.0.7:8002/onvif/device_service",)
    assert (camera.name, camera.hardware, camera.location) == ("Front door", "X 1", "hall/east")
    assert "dn:NetworkVideoTransmitter" in camera.types
    assert camera.source == "10.0.0.7"
    assert camera.metadata_version == 1


def test_several_matches_and_filtering_of_fields() -> None:
    data = _answer(
        _match("urn:uuid:a", "http://10.0.0.1/onvif/device_service ftp://x/ http://h:99999/ x"),
        _match("urn:uuid:b", "https://[fe80::1]:443/d", "onvif://www.onvif.org/name/%E2%9C%93"),
        _match("", "http://10.0.0.3/"),  # no endpoint: skipped
        _match("urn:uuid:c", "http://10.0.0.4/", version="many"),
        _match("urn:uuid:d", "http://10.0.0.5/", version="²"),  # isdigit(), but not int()
    )
    cams = parse_probe_matches(data, MID)
    assert [c.endpoint for c in cams] == ["urn:uuid:a", "urn:uuid:b", "urn:uuid:c", "urn:uuid:d"]
    assert cams[0].xaddrs == ("http://10.0.0.1/onvif/device_service",)
    assert cams[1].name == "✓"
    assert cams[0].name is None
    assert cams[2].metadata_version is None and cams[3].metadata_version is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_answer(_match("urn:uuid:a", "http://h/"), relates="urn:uuid:other"), "not an answer"),
        (build_hello(CAMERA, SEQ), "not an answer"),
        (b"\x00\xff garbage", "not XML"),
        (b"<a>unclosed", "not XML"),
        (b'<?xml version="1.0"?><x/>', "not a SOAP"),
        (_answer(relates=MID), "without a usable"),
        (_answer(_match("", "http://h/")), "without a usable"),
        (b"<x>" + b"a" * MAX_DATAGRAM_BYTES + b"</x>", "too large"),
    ],
)
def test_rejects_what_is_not_an_answer_to_our_probe(data: bytes, reason: str) -> None:
    with pytest.raises(BadDiscoveryMessage, match=reason):
        parse_probe_matches(data, MID)


XXE_FILE = (
    b'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + _answer(_match("urn:uuid:&x;", "http://h/"))
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    + _answer(_match("urn:uuid:&c;", "http://h/"))
)
DOCTYPE_CASE = b"<!DocType x>" + _answer(_match("urn:uuid:a", "http://h/"))
# UTF-16 hides "<!DOCTYPE" from a byte search: the parsed tree is checked too
XXE_UTF16 = (
    XXE_FILE.decode()
    .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    .encode("utf-16")
)


@pytest.mark.parametrize("data", [XXE_FILE, BILLION_LAUGHS, DOCTYPE_CASE, XXE_UTF16])
def test_rejects_doctype_and_entities(data: bytes) -> None:
    with pytest.raises(BadDiscoveryMessage, match="DOCTYPE"):
        parse_probe_matches(data, MID)


def test_undefined_entity_references_are_rejected() -> None:
    with pytest.raises(BadDiscoveryMessage, match="not XML"):
        parse_probe_matches(_answer(_match("urn:uuid:&xxe;", "http://h/")), MID)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_raise_bad_message(data: bytes) -> None:
    # anything else (lxml errors, UnicodeError, IndexError...) fails the test
    with contextlib.suppress(BadDiscoveryMessage):
        parse_probe_matches(data, MID)


def test_merge_keeps_one_entry_per_endpoint() -> None:
    a1 = DiscoveredCamera("urn:uuid:a", ("http://1/",), ("s1",), name="A", source="10.0.0.1")
    b = DiscoveredCamera("urn:uuid:b", ("http://2/",), ())
    a2 = DiscoveredCamera("urn:uuid:a", ("http://1/", "http://3/"), ("s2",), name="A2")
    merged = merge([a1, b, a2])
    assert [c.endpoint for c in merged] == ["urn:uuid:a", "urn:uuid:b"]
    assert merged[0].xaddrs == ("http://1/", "http://3/")
    assert (merged[0].scopes, merged[0].name, merged[0].source) == (("s2",), "A2", "10.0.0.1")


def test_probe_xml_is_well_formed() -> None:
    root = etree.fromstring(build_probe(MID))
    assert root.tag.endswith("Envelope")
