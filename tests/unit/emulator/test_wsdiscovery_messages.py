"""emulator.wsdiscovery_messages: Probe parsing and matching, reply/announcement shapes."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator.camera import CameraSpec
from emulator.wsdiscovery_messages import (
    DN_NS,
    MATCH_STRCMP,
    SOAP12_NS,
    TDS_NS,
    WSA_NS,
    WSD_NS,
    AppSequence,
    DiscoveryMessageError,
    Probe,
    Resolve,
    build_bye,
    build_hello,
    build_probe,
    build_probe_matches,
    build_resolve_matches,
    camera_matches,
    parse_message,
)

CAMERA = CameraSpec(2, "Front Door", "127.0.0.1", 8554, 8001, location="lobby")
NS = {"s": SOAP12_NS, "a": WSA_NS, "d": WSD_NS}
SEQ = AppSequence(1234, 7)


def probe(types: str | None = "dn:NetworkVideoTransmitter", scopes: str = "") -> Probe:
    message = parse_message(build_probe("urn:uuid:p1", types, scopes))
    assert isinstance(message, Probe)
    return message


def test_parse_probe() -> None:
    p = probe(scopes="onvif://www.onvif.org/name")
    assert p.message_id == "urn:uuid:p1"
    assert p.types == {(DN_NS, "NetworkVideoTransmitter")}
    assert p.scopes == ("onvif://www.onvif.org/name",)


def test_probe_with_foreign_prefix_and_no_types() -> None:
    data = (
        f'<e:Envelope xmlns:e="{SOAP12_NS}" xmlns:w="{WSA_NS}" xmlns:q="{WSD_NS}" '
        f'xmlns:z="{DN_NS}"><e:Header><w:MessageID>m2</w:MessageID></e:Header>'
        "<e:Body><q:Probe><q:Types>z:NetworkVideoTransmitter</q:Types></q:Probe></e:Body>"
        "</e:Envelope>"
    ).encode()
    assert camera_matches(CAMERA, parse_message(data))
    assert camera_matches(CAMERA, probe(types=None))
    assert camera_matches(CAMERA, probe(types=""))


@pytest.mark.parametrize(
    ("types", "scopes", "match"),
    [
        ("dn:NetworkVideoTransmitter", "", True),
        ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/name/Front%20Door", True),
        ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/location", True),
        ("dn:NetworkVideoTransmitter", "ONVIF://WWW.ONVIF.ORG/Profile/Streaming", True),
        ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/name/Back", False),
        ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/loc", False),
        ("dn:Printer", "", False),
    ],
)
def test_matching(types: str, scopes: str, match: bool) -> None:
    assert camera_matches(CAMERA, probe(types, scopes)) is match


def test_strcmp_and_unknown_matching_rules() -> None:
    exact = Probe("m", frozenset(), ("onvif://www.onvif.org/location/lobby",), MATCH_STRCMP)
    assert camera_matches(CAMERA, exact)
    prefix = Probe("m", frozenset(), ("onvif://www.onvif.org/location",), MATCH_STRCMP)
    assert not camera_matches(CAMERA, prefix)
    assert not camera_matches(CAMERA, Probe("m", frozenset(), ("x:y",), "urn:unknown-rule"))


def test_tds_device_type_also_matches() -> None:
    data = build_probe("m", "tds:Device").replace(
        b'xmlns:dn="', f'xmlns:tds="{TDS_NS}" xmlns:dn="'.encode()
    )
    assert camera_matches(CAMERA, parse_message(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x00\x01\x02",
        b"<a/>",
        b"<x>" * 20000,
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>",
        b"x" * 40000,
        build_probe("m", "undeclared:Type"),
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(DiscoveryMessageError):
        parse_message(data)


def test_other_messages_are_ignored_and_resolve_is_parsed() -> None:
    assert parse_message(build_hello(CAMERA, SEQ)) is None
    assert parse_message(build_probe_matches(CAMERA, "m", SEQ)) is None
    resolve = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:a="{WSA_NS}" xmlns:d="{WSD_NS}">'
        "<s:Header><a:MessageID>r1</a:MessageID></s:Header><s:Body><d:Resolve>"
        f"<a:EndpointReference><a:Address>urn:uuid:{CAMERA.uuid}</a:Address>"
        "</a:EndpointReference></d:Resolve></s:Body></s:Envelope>"
    ).encode()
    assert parse_message(resolve) == Resolve("r1", f"urn:uuid:{CAMERA.uuid}")


def _check_description(element: etree._Element) -> None:
    assert element.findtext("a:EndpointReference/a:Address", namespaces=NS) == (
        f"urn:uuid:{CAMERA.uuid}"
    )
    assert element.findtext("d:XAddrs", namespaces=NS) == CAMERA.onvif_url
    scopes = element.findtext("d:Scopes", namespaces=NS).split()
    assert "onvif://www.onvif.org/name/Front%20Door" in scopes
    assert "onvif://www.onvif.org/hardware/Emulated%20Camera" in scopes
    assert "onvif://www.onvif.org/location/lobby" in scopes
    assert "onvif://www.onvif.org/type/video_encoder" in scopes
    types = element.find("d:Types", NS)
    prefix = types.text.split()[0].split(":")[0]
    assert types.nsmap[prefix] == DN_NS
    assert element.findtext("d:MetadataVersion", namespaces=NS) == "1"


def test_probe_matches_hello_bye_shapes() -> None:
    root = etree.fromstring(build_probe_matches(CAMERA, "urn:uuid:p1", SEQ))
    assert root.findtext("s:Header/a:RelatesTo", namespaces=NS) == "urn:uuid:p1"
    assert root.findtext("s:Header/a:Action", namespaces=NS) == WSD_NS + "/ProbeMatches"
    seq = root.find("s:Header/d:AppSequence", NS)
    assert (seq.get("InstanceId"), seq.get("MessageNumber")) == ("1234", "7")
    _check_description(root.find("s:Body/d:ProbeMatches/d:ProbeMatch", NS))
    root = etree.fromstring(build_resolve_matches(CAMERA, "r1", SEQ))
    _check_description(root.find("s:Body/d:ResolveMatches/d:ResolveMatch", NS))
    root = etree.fromstring(build_hello(CAMERA, SEQ))
    assert root.findtext("s:Header/a:Action", namespaces=NS) == WSD_NS + "/Hello"
    _check_description(root.find("s:Body/d:Hello", NS))
    root = etree.fromstring(build_bye(CAMERA, SEQ))
    assert root.findtext("s:Header/a:Action", namespaces=NS) == WSD_NS + "/Bye"
    address = root.findtext("s:Body/d:Bye/a:EndpointReference/a:Address", namespaces=NS)
    assert address == f"urn:uuid:{CAMERA.uuid}"
