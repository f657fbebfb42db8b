"""The emulator's ONVIF services over real loopback sockets: onvif-zeep-async, raw SOAP,
auth, hostile input, snapshots and the offline fault."""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from lxml import etree
from onvif import ONVIFCamera
from PIL import Image

from emulator.camera import CameraSpec
from emulator.faults import FaultBoard
from emulator.onvif_server import OnvifServers, start_onvif_servers
from emulator.soap_security import password_digest

pytestmark = pytest.mark.timeout(120)

HOST = "127.0.0.1"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TR2 = "http://www.onvif.org/ver20/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
NS = {"env": SOAP12, "tds": TDS, "trt": TRT, "tt": TT}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
SOAP_TYPE = "application/soap+xml; charset=utf-8"


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Emulated:
    open_cam: CameraSpec
    secure_cam: CameraSpec
    faults: FaultBoard
    servers: OnvifServers


@pytest.fixture
async def emulated() -> AsyncIterator[Emulated]:
    port_open, port_secure, rtsp = free_ports(3)
    open_cam = CameraSpec(1, "Open Cam", HOST, rtsp, port_open)
    secure_cam = CameraSpec(
        2, "Secure Cam", HOST, rtsp, port_secure, username="admin", password="s3cret"
    )
    faults = FaultBoard(camera_count=2)
    servers = await start_onvif_servers([open_cam, secure_cam], faults)
    try:
        yield Emulated(open_cam, secure_cam, faults, servers)
    finally:
        await servers.close()


async def _profiles_and_uris(camera: ONVIFCamera) -> tuple[list, dict[str, str], str]:
    await camera.update_xaddrs()
    media = await camera.create_media_service()
    profiles = await media.GetProfiles()
    uris = {}
    for profile in profiles:
        reply = await media.GetStreamUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": profile.token,
            }
        )
        uris[profile.token] = reply.Uri
    snapshot = await media.GetSnapshotUri({"ProfileToken": "main"})
    return profiles, uris, snapshot.Uri


def _check_profiles(profiles: list, spec: CameraSpec) -> None:
    assert [p.token for p in profiles] == ["main", "sub"]
    for profile, settings in zip(profiles, (spec.main, spec.sub), strict=True):
        encoder = profile.VideoEncoderConfiguration
        assert encoder.Encoding == "H264"
        assert (encoder.Resolution.Width, encoder.Resolution.Height) == (
            settings.width,
            settings.height,
        )
        assert encoder.RateControl.FrameRateLimit == settings.fps
        assert encoder.RateControl.BitrateLimit == settings.bitrate // 1000


async def test_onvif_zeep_async_without_credentials(emulated: Emulated) -> None:
    spec = emulated.open_cam
    # The library cannot go without a token (None fails in zeep); an open camera ignores it.
    camera = ONVIFCamera(HOST, spec.onvif_port, "", "", no_cache=True, adjust_time=True)
    try:
        profiles, uris, snapshot_uri = await _profiles_and_uris(camera)
        _check_profiles(profiles, spec)
        assert uris == {"main": spec.rtsp_url("main"), "sub": spec.rtsp_url("sub")}
        assert snapshot_uri == f"http://{HOST}:{spec.onvif_port}/onvif/snapshot?profile=main"
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        assert info.SerialNumber == spec.serial
        jpeg = await camera.get_snapshot("sub")
        assert Image.open(io.BytesIO(jpeg)).size == (640, 360)
    finally:
        await camera.close()


@pytest.mark.parametrize("encrypt", [True, False], ids=["PasswordDigest", "PasswordText"])
async def test_onvif_zeep_async_with_credentials(emulated: Emulated, encrypt: bool) -> None:
    spec = emulated.secure_cam
    camera = ONVIFCamera(
        HOST, spec.onvif_port, "admin", "s3cret", encrypt=encrypt, no_cache=True, adjust_time=True
    )
    try:
        profiles, uris, _ = await _profiles_and_uris(camera)
        _check_profiles(profiles, spec)
        assert uris == {"main": spec.rtsp_url("main"), "sub": spec.rtsp_url("sub")}
        device = await camera.create_devicemgmt_service()
        scopes = [s.ScopeItem for s in await device.GetScopes()]
        assert "onvif://www.onvif.org/name/Secure%20Cam" in scopes
        # Snapshot with HTTP Digest (the library's default) and with Basic.
        for basic in (False, True):
            jpeg = await camera.get_snapshot("main", basic_auth=basic)
            image = Image.open(io.BytesIO(jpeg))
            image.load()
            assert (image.format, image.size) == ("JPEG", (1280, 720))
    finally:
        await camera.close()


async def test_onvif_zeep_async_wrong_password_is_refused(emulated: Emulated) -> None:
    spec = emulated.secure_cam
    camera = ONVIFCamera(HOST, spec.onvif_port, "admin", "wrong", no_cache=True)
    try:
        await camera.update_xaddrs()  # GetServices is PRE_AUTH: works
        media = await camera.create_media_service()
        with pytest.raises(Exception, match=r"(?i)not authorized"):
            await media.GetProfiles()
    finally:
        await camera.close()


def soap(operation: str, inner: str = "", ns: str = TDS, header: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}" '
        f'xmlns:x="{ns}" xmlns:tt="{TT}"><s:Header>{header}</s:Header>'
        f"<s:Body><x:{operation}>{inner}</x:{operation}></s:Body></s:Envelope>"
    ).encode()


def username_token(password: str, digest: bool = True) -> str:
    nonce = base64.b64encode(datetime.now(UTC).isoformat().encode()).decode()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    value = password_digest(nonce, created, password) if digest else password
    kind = "PasswordDigest" if digest else "PasswordText"
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        "<wsse:Username>admin</wsse:Username>"
        f'<wsse:Password Type="{TOKEN_PROFILE}#{kind}">{value}</wsse:Password>'
        f"<wsse:Nonce>{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def subcodes(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [v.text for v in root.iterfind(".//env:Subcode/env:Value", NS)]


async def post(client: httpx.AsyncClient, spec: CameraSpec, data: bytes, path: str = "device"):
    url = f"http://{HOST}:{spec.onvif_port}/onvif/{path}_service"
    return await client.post(url, content=data, headers={"Content-Type": SOAP_TYPE})


async def test_raw_soap_requests(emulated: Emulated) -> None:
    spec = emulated.secure_cam
    async with httpx.AsyncClient(timeout=10) as client:
        r = await post(client, spec, soap("GetSystemDateAndTime"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/soap+xml")
        root = etree.fromstring(r.content)
        year = root.findtext(".//tt:UTCDateTime/tt:Date/tt:Year", namespaces=NS)
        assert int(year) == datetime.now(UTC).year

        # No token: NotAuthorized (401 with an HTTP Digest offer, as cameras do).
        r = await post(client, spec, soap("GetDeviceInformation"))
        assert r.status_code == 401 and "Digest" in r.headers["www-authenticate"]
        assert subcodes(r.content) == ["ter:NotAuthorized"]
        # Wrong password in the token: NotAuthorized, HTTP 400 (a Sender fault).
        r = await post(client, spec, soap("GetDeviceInformation", header=username_token("bad")))
        assert r.status_code == 400 and subcodes(r.content) == ["ter:NotAuthorized"]
        for digest in (True, False):
            header = username_token("s3cret", digest)
            r = await post(client, spec, soap("GetProfiles", ns=TRT, header=header), "media")
            assert r.status_code == 200
            assert len(etree.fromstring(r.content).findall(".//trt:Profiles", NS)) == 2
        # HTTP Digest instead of WS-Security is accepted too.
        auth = httpx.DigestAuth("admin", "s3cret")
        url = f"http://{HOST}:{spec.onvif_port}/onvif/device_service"
        data = soap("GetDeviceInformation")
        r = await client.post(url, content=data, auth=auth, headers={"Content-Type": SOAP_TYPE})
        assert r.status_code == 200
        model = etree.fromstring(r.content).findtext(".//tds:Model", namespaces=NS)
        assert model == spec.model

        # media2 (ver20) at the address GetServices gives.
        inner = "<x:Protocol>RtspUnicast</x:Protocol><x:ProfileToken>main</x:ProfileToken>"
        header = username_token("s3cret")
        r = await post(client, spec, soap("GetStreamUri", inner, TR2, header), "media2")
        assert r.status_code == 200
        uri = etree.fromstring(r.content).findtext(f".//{{{TR2}}}Uri")
        assert uri == spec.rtsp_url("main")

        r = await post(client, spec, soap("FlyToTheMoon", header=username_token("s3cret")))
        assert r.status_code == 500 and subcodes(r.content) == ["ter:ActionNotSupported"]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<tds:GetHostname xmlns:tds="http://www.onvif.org/ver10/device/wsdl">&xxe;</tds:GetHostname>
</s:Body></s:Envelope>"""


@pytest.mark.parametrize(
    "payload",
    [b"<not-closed", b"\x00\xff garbage", XXE, XXE.replace(b"<!DOCTYPE", b"<!doctype"), b""],
    ids=["unclosed", "binary", "xxe", "xxe-lower", "empty"],
)
async def test_hostile_xml_gets_a_fault_and_the_server_keeps_answering(
    emulated: Emulated, payload: bytes
) -> None:
    spec = emulated.open_cam
    async with httpx.AsyncClient(timeout=10) as client:
        r = await post(client, spec, payload)
        assert r.status_code == 400
        assert subcodes(r.content) == ["ter:WellFormed"]
        assert b"root:" not in r.content and b"/bin/" not in r.content
        r = await post(client, spec, soap("GetHostname"))
        assert r.status_code == 200


async def test_snapshot_needs_http_auth(emulated: Emulated) -> None:
    spec = emulated.secure_cam
    url = f"http://{HOST}:{spec.onvif_port}/onvif/snapshot?profile=sub"
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(url)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Digest ")
        r = await client.get(url, auth=httpx.DigestAuth("admin", "wrong"))
        assert r.status_code == 401
        r = await client.get(url, auth=httpx.DigestAuth("admin", "s3cret"))
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(r.content)).size == (640, 360)
        r = await client.get(url.replace("sub", "nope"), auth=httpx.BasicAuth("admin", "s3cret"))
        assert r.status_code == 404
        r = await client.get(f"http://{HOST}:{spec.onvif_port}/elsewhere")
        assert r.status_code == 404


async def test_offline_fault_refuses_connections_until_ok(emulated: Emulated) -> None:
    spec = emulated.open_cam
    other = emulated.secure_cam
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await post(client, spec, soap("GetSystemDateAndTime"))).status_code == 200
    emulated.faults.set(spec.index, "offline")
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            await post(client, spec, soap("GetSystemDateAndTime"))
        # The other camera is unaffected.
        assert (await post(client, other, soap("GetSystemDateAndTime"))).status_code == 200
    emulated.faults.set(spec.index, "ok")
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await post(client, spec, soap("GetSystemDateAndTime"))).status_code == 200
