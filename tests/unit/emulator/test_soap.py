"""emulator.soap: envelope parsing (hostile XML included), faults, escaping."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator.soap import (
    SOAP12_NS,
    TDS_NS,
    TER_NS,
    TRT_NS,
    SoapFault,
    build_envelope,
    build_fault,
    parse_request,
    text,
)

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def envelope(body: str, header: str = "", ns: str = SOAP12_NS) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{ns}" xmlns:tds="{TDS_NS}" xmlns:trt="{TRT_NS}" '
        f'xmlns:tt="http://www.onvif.org/ver10/schema">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def test_parses_operation_args_and_token() -> None:
    header = (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        "<wsse:Username>admin</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-username-token-profile-1.0#PasswordDigest">abc=</wsse:Password>'
        "<wsse:Nonce>bm9uY2U=</wsse:Nonce><wsu:Created>2024-01-01T00:00:00Z</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
        '<a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">urn:uuid:1</a:MessageID>'
    )
    body = (
        "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
        "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
        "<trt:ProfileToken>sub</trt:ProfileToken></trt:GetStreamUri>"
    )
    request = parse_request(envelope(body, header))
    assert request.namespace == TRT_NS
    assert request.operation == "GetStreamUri"
    assert request.args == {
        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        "ProfileToken": "sub",
    }
    assert request.message_id == "urn:uuid:1"
    token = request.token
    assert token is not None
    assert (token.username, token.password, token.password_type) == ("admin", "abc=", "digest")
    assert (token.nonce, token.created) == ("bm9uY2U=", "2024-01-01T00:00:00Z")


def test_repeated_elements_become_lists_and_soap11_is_accepted() -> None:
    body = "<tds:GetCapabilities><tds:Category>Device</tds:Category>"
    body += "<tds:Category>Media</tds:Category></tds:GetCapabilities>"
    request = parse_request(envelope(body, ns="http://schemas.xmlsoap.org/soap/envelope/"))
    assert request.args == {"Category": ["Device", "Media"]}
    assert request.soap_version == "1.1"
    assert request.token is None


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<tds:GetDeviceInformation xmlns:tds="http://www.onvif.org/ver10/device/wsdl">&xxe;
</tds:GetDeviceInformation></s:Body></s:Envelope>"""

LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><a>&lol2;</a>"""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<unclosed>",
        b"\xff\xfe\x00garbage",
        XXE,
        LAUGHS,
        b"<!doctype html><html></html>",
        b"<a>no envelope</a>",
        envelope(""),
        envelope("<tds:A/><tds:B/>"),
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>',
        b"<x>" * 100_000,
    ],
)
def test_bad_input_is_a_sender_fault(data: bytes) -> None:
    with pytest.raises(SoapFault) as info:
        parse_request(data)
    assert info.value.code == "Sender"
    assert info.value.status() in (400, 413)
    assert "root:" not in info.value.reason


def test_fault_envelope_shape() -> None:
    fault = SoapFault("Sender", ("InvalidArgVal", "NoProfile"), "no <such> profile")
    root = etree.fromstring(build_fault(fault))
    ns = {"env": SOAP12_NS}
    assert root.findtext("env:Body/env:Fault/env:Code/env:Value", namespaces=ns) == "env:Sender"
    sub = root.find("env:Body/env:Fault/env:Code/env:Subcode", namespaces=ns)
    assert sub.findtext("env:Value", namespaces=ns) == "ter:InvalidArgVal"
    assert sub.findtext("env:Subcode/env:Value", namespaces=ns) == "ter:NoProfile"
    assert root.nsmap["ter"] == TER_NS
    reason = root.findtext("env:Body/env:Fault/env:Reason/env:Text", namespaces=ns)
    assert reason == "no <such> profile"
    assert SoapFault("Receiver", ("ActionNotSupported",), "x").status() == 500


def test_envelope_and_escaping() -> None:
    data = build_envelope(f"<tds:X>{text('a<b&c')}</tds:X>")
    root = etree.fromstring(data)
    assert root.tag == f"{{{SOAP12_NS}}}Envelope"
    assert root.find(f".//{{{TDS_NS}}}X").text == "a<b&c"
    assert text(True) == "true"
