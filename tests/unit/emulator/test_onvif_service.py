"""emulator.onvif_service: every ONVIF operation, auth rules and faults, without sockets."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from lxml import etree

from emulator.camera import CameraSpec
from emulator.onvif_device import PRE_AUTH_OPERATIONS, mac_address
from emulator.onvif_service import handle_soap
from emulator.soap import SOAP12_NS, TDS_NS, TR2_NS, TRT_NS, TT_NS
from emulator.soap_security import NonceCache, password_digest

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CAMERA = CameraSpec(3, "Gate & Yard", "127.0.0.1", 8554, 8002, location="north side")
SECURE = replace(CAMERA, username="admin", password="s3cret")
NS = {"env": SOAP12_NS, "tds": TDS_NS, "trt": TRT_NS, "tr2": TR2_NS, "tt": TT_NS}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"


def security(password: str, kind: str = "PasswordDigest", user: str = "admin") -> str:
    nonce = base64.b64encode(b"nonce-" + password.encode()).decode()
    created = "2026-03-04T05:06:00Z"
    value = password_digest(nonce, created, password) if kind == "PasswordDigest" else password
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST}#{kind}">{value}</wsse:Password>'
        f"<wsse:Nonce>{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def request(operation: str, inner: str = "", ns: str = TDS_NS, header: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:x="{ns}" xmlns:tt="{TT_NS}">'
        f"<s:Header>{header}</s:Header><s:Body><x:{operation}>{inner}</x:{operation}>"
        "</s:Body></s:Envelope>"
    ).encode()


def call(camera: CameraSpec, operation: str, inner: str = "", ns: str = TDS_NS, header: str = ""):
    reply = handle_soap(camera, request(operation, inner, ns, header), NOW, NonceCache())
    return reply, etree.fromstring(reply.body)


def fault_subcodes(root: etree._Element) -> list[str]:
    return [v.text for v in root.iterfind(".//env:Subcode/env:Value", NS)]


def test_system_date_and_time_is_the_given_utc_time() -> None:
    reply, root = call(SECURE, "GetSystemDateAndTime")  # PRE_AUTH: no token needed
    assert reply.status == 200
    utc = root.find(".//tt:UTCDateTime", NS)
    got = [int(utc.findtext(f".//tt:{f}", namespaces=NS)) for f in ("Year", "Month", "Day")]
    got += [int(utc.findtext(f".//tt:{f}", namespaces=NS)) for f in ("Hour", "Minute", "Second")]
    assert got == [2026, 3, 4, 5, 6, 7]


def test_device_information_and_scopes() -> None:
    _, root = call(CAMERA, "GetDeviceInformation")
    assert root.findtext(".//tds:SerialNumber", namespaces=NS) == "CK00003"
    assert root.findtext(".//tds:Manufacturer", namespaces=NS) == "camkeep"
    _, root = call(CAMERA, "GetScopes")
    items = [e.text for e in root.iterfind(".//tt:ScopeItem", NS)]
    assert "onvif://www.onvif.org/name/Gate%20%26%20Yard" in items
    assert "onvif://www.onvif.org/location/north%20side" in items
    assert "onvif://www.onvif.org/hardware/Emulated%20Camera" in items
    assert "onvif://www.onvif.org/Profile/Streaming" in items


def test_capabilities_and_services_advertise_both_xaddrs() -> None:
    _, root = call(CAMERA, "GetCapabilities", "<x:Category>All</x:Category>")
    device = "http://127.0.0.1:8002/onvif/device_service"
    media = "http://127.0.0.1:8002/onvif/media_service"
    media2 = "http://127.0.0.1:8002/onvif/media2_service"
    assert root.findtext(".//tt:Device/tt:XAddr", namespaces=NS) == device
    assert root.findtext(".//tt:Media/tt:XAddr", namespaces=NS) == media
    _, root = call(CAMERA, "GetCapabilities", "<x:Category>PTZ</x:Category>")
    assert "ter:NoSuchService" in fault_subcodes(root)
    _, root = call(CAMERA, "GetServices", "<x:IncludeCapability>true</x:IncludeCapability>")
    services = {
        s.findtext("tds:Namespace", namespaces=NS): s.findtext("tds:XAddr", namespaces=NS)
        for s in root.iterfind(".//tds:Service", NS)
    }
    assert services == {TDS_NS: device, TRT_NS: media, TR2_NS: media2}
    assert root.find(".//trt:Capabilities", NS).get("SnapshotUri") == "true"


def test_network_interfaces() -> None:
    _, root = call(CAMERA, "GetNetworkInterfaces")
    assert root.findtext(".//tt:Manual/tt:Address", namespaces=NS) == "127.0.0.1"
    assert root.findtext(".//tt:HwAddress", namespaces=NS) == mac_address(CAMERA)


def test_profiles_main_and_sub() -> None:
    hevc = replace(CAMERA, codec="hevc")
    for camera, encoding in ((CAMERA, "H264"), (hevc, "H265")):
        _, root = call(camera, "GetProfiles", ns=TRT_NS)
        profiles = root.findall(".//trt:Profiles", NS)
        assert [p.get("token") for p in profiles] == ["main", "sub"]
        sizes = []
        for p in profiles:
            enc = p.find("tt:VideoEncoderConfiguration", NS)
            assert enc.findtext("tt:Encoding", namespaces=NS) == encoding
            sizes.append(
                (
                    int(enc.findtext("tt:Resolution/tt:Width", namespaces=NS)),
                    int(enc.findtext("tt:Resolution/tt:Height", namespaces=NS)),
                    int(enc.findtext("tt:RateControl/tt:FrameRateLimit", namespaces=NS)),
                    int(enc.findtext("tt:RateControl/tt:BitrateLimit", namespaces=NS)),
                )
            )
        assert sizes == [(1280, 720, 25, 4000), (640, 360, 25, 512)]


def test_video_sources_and_encoder_configurations() -> None:
    _, root = call(CAMERA, "GetVideoSources", ns=TRT_NS)
    assert root.findtext(".//tt:Resolution/tt:Width", namespaces=NS) == "1280"
    _, root = call(CAMERA, "GetVideoEncoderConfigurations", ns=TRT_NS)
    assert len(root.findall(".//trt:Configurations", NS)) == 2
    inner = "<x:ConfigurationToken>VideoEncoder_sub</x:ConfigurationToken>"
    _, root = call(CAMERA, "GetVideoEncoderConfiguration", inner, ns=TRT_NS)
    assert root.findtext(".//tt:Width", namespaces=NS) == "640"


@pytest.mark.parametrize("profile", ["main", "sub"])
def test_stream_and_snapshot_uri(profile: str) -> None:
    inner = (
        "<x:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>"
        f"<tt:Protocol>RTSP</tt:Protocol></tt:Transport></x:StreamSetup>"
        f"<x:ProfileToken>{profile}</x:ProfileToken>"
    )
    _, root = call(CAMERA, "GetStreamUri", inner, ns=TRT_NS)
    assert root.findtext(".//tt:Uri", namespaces=NS) == CAMERA.rtsp_url(profile)
    inner = f"<x:ProfileToken>{profile}</x:ProfileToken>"
    _, root = call(CAMERA, "GetSnapshotUri", inner, ns=TRT_NS)
    uri = root.findtext(".//tt:Uri", namespaces=NS)
    assert uri == f"http://127.0.0.1:8002/onvif/snapshot?profile={profile}"


def test_unknown_profile_is_invalid_arg() -> None:
    reply, root = call(CAMERA, "GetStreamUri", "<x:ProfileToken>nope</x:ProfileToken>", TRT_NS)
    assert reply.status == 400
    assert fault_subcodes(root) == ["ter:InvalidArgVal", "ter:NoProfile"]


def test_unknown_operation_is_action_not_supported() -> None:
    reply, root = call(CAMERA, "SystemReboot")
    assert reply.status == 500  # a Receiver fault, as the SOAP 1.2 HTTP binding says
    assert fault_subcodes(root) == ["ter:ActionNotSupported"]
    _, root = call(CAMERA, "GetProfiles", ns="urn:other")
    assert fault_subcodes(root) == ["ter:ActionNotSupported"]


def test_auth_rules() -> None:
    for operation in sorted(PRE_AUTH_OPERATIONS):
        reply, _ = call(SECURE, operation)
        assert reply.status == 200, operation
    reply, root = call(SECURE, "GetDeviceInformation")
    assert reply.status == 400 and fault_subcodes(root) == ["ter:NotAuthorized"]
    reply, root = call(SECURE, "GetProfiles", ns=TRT_NS, header=security("wrong"))
    assert fault_subcodes(root) == ["ter:NotAuthorized"]
    header = security("s3cret", user="other")
    reply, root = call(SECURE, "GetProfiles", ns=TRT_NS, header=header)
    assert fault_subcodes(root) == ["ter:NotAuthorized"]
    for kind in ("PasswordDigest", "PasswordText"):
        reply, root = call(SECURE, "GetProfiles", ns=TRT_NS, header=security("s3cret", kind))
        assert reply.status == 200, kind
        assert len(root.findall(".//trt:Profiles", NS)) == 2
    reply = handle_soap(SECURE, request("GetUsers"), NOW, http_authenticated=True)
    assert reply.status == 200


def test_malformed_input_is_a_fault_not_an_exception() -> None:
    for data in (b"", b"<<<", b"<a/>", b"\x00" * 10):
        reply = handle_soap(CAMERA, data, NOW)
        root = etree.fromstring(reply.body)
        assert reply.status == 400
        assert fault_subcodes(root) == ["ter:WellFormed"]


@pytest.mark.parametrize(
    ("stream", "protocol", "ok"),
    [
        ("RTP-Unicast", "UDP", True),
        ("RTP-Unicast", "TCP", True),
        ("RTP-Unicast", "HTTP", False),
        ("RTP-Multicast", "UDP", False),
    ],
)
def test_stream_setup_is_checked(stream: str, protocol: str, ok: bool) -> None:
    inner = (
        f"<x:StreamSetup><tt:Stream>{stream}</tt:Stream><tt:Transport>"
        f"<tt:Protocol>{protocol}</tt:Protocol></tt:Transport></x:StreamSetup>"
        "<x:ProfileToken>main</x:ProfileToken>"
    )
    reply, root = call(CAMERA, "GetStreamUri", inner, ns=TRT_NS)
    if ok:
        assert root.findtext(".//tt:Uri", namespaces=NS) == CAMERA.rtsp_url("main")
    else:
        assert reply.status == 400
        assert fault_subcodes(root) == ["ter:InvalidArgVal", "ter:InvalidStreamSetup"]


def test_media2_profiles_and_uris() -> None:
    hevc = replace(CAMERA, codec="hevc")
    _, root = call(hevc, "GetProfiles", "<x:Type>All</x:Type>", ns=TR2_NS)
    profiles = root.findall(".//tr2:Profiles", NS)
    assert [p.get("token") for p in profiles] == ["main", "sub"]
    encoder = profiles[1].find("tr2:Configurations/tr2:VideoEncoder", NS)
    assert encoder.findtext("tt:Encoding", namespaces=NS) == "H265"
    assert encoder.findtext("tt:Resolution/tt:Width", namespaces=NS) == "640"
    assert encoder.get("GovLength") == "50"
    inner = "<x:Protocol>RtspUnicast</x:Protocol><x:ProfileToken>sub</x:ProfileToken>"
    _, root = call(CAMERA, "GetStreamUri", inner, ns=TR2_NS)
    assert root.findtext(".//tr2:Uri", namespaces=NS) == CAMERA.rtsp_url("sub")
    inner = "<x:Protocol>RtspOverHttp</x:Protocol><x:ProfileToken>sub</x:ProfileToken>"
    _, root = call(CAMERA, "GetStreamUri", inner, ns=TR2_NS)
    assert fault_subcodes(root) == ["ter:InvalidArgVal", "ter:InvalidStreamSetup"]
    _, root = call(CAMERA, "GetSnapshotUri", "<x:ProfileToken>main</x:ProfileToken>", TR2_NS)
    assert root.findtext(".//tr2:Uri", namespaces=NS).endswith("/onvif/snapshot?profile=main")
    inner = "<x:ConfigurationToken>VideoEncoder_main</x:ConfigurationToken>"
    _, root = call(CAMERA, "GetVideoEncoderConfigurations", inner, ns=TR2_NS)
    assert len(root.findall(".//tr2:Configurations", NS)) == 1
    _, root = call(CAMERA, "GetProfiles", "<x:Token>nope</x:Token>", ns=TR2_NS)
    assert fault_subcodes(root) == ["ter:InvalidArgVal", "ter:NoProfile"]
    reply, _ = call(SECURE, "GetProfiles", ns=TR2_NS)
    assert reply.status == 400  # media2 needs authentication too
