"""ONVIF Profile G of the emulated cameras over real loopback sockets: every recording,
search and replay operation with hand-built SOAP envelopes, WS-Security, onvif-zeep-async
(the official WSDLs), advertising, and a camera without edge storage."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree
from onvif import ONVIFCamera

from tests.integration.test_emulator_onvif import username_token

pytestmark = pytest.mark.timeout(180)

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRC = "http://www.onvif.org/ver10/recording/wsdl"
TSE = "http://www.onvif.org/ver10/search/wsdl"
TRP = "http://www.onvif.org/ver10/replay/wsdl"
TT = "http://www.onvif.org/ver10/schema"
NS = {"env": SOAP12, "tds": TDS, "trc": TRC, "tse": TSE, "trp": TRP, "tt": TT}
SERVICE_PATHS = {TDS: "device", TRC: "recording", TSE: "search", TRP: "replay"}
TOKEN = "EdgeRecording_main"
REPLAY_SETUP = (
    "<x:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
    "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></x:StreamSetup>"
)


def call(camera, ns: str, operation: str, inner: str = "", header: str = "", index: int = 1):
    """POST a hand-built SOAP 1.2 envelope; (HTTP status, parsed reply)."""
    envelope = (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}" '
        f'xmlns:x="{ns}" xmlns:tt="{TT}"><s:Header>{header}</s:Header>'
        f"<s:Body><x:{operation}>{inner}</x:{operation}></s:Body></s:Envelope>"
    ).encode()
    url = f"http://{camera.host}:{camera.onvif_port + index - 1}/onvif/{SERVICE_PATHS[ns]}_service"
    answer = httpx.post(
        url, content=envelope, headers={"Content-Type": "application/soap+xml"}, timeout=10
    )
    return answer.status_code, etree.fromstring(answer.content)


def parse_time(text: str | None) -> float:
    assert text, "missing time"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def subcodes(root) -> list[str]:
    return [v.text for v in root.iterfind(".//env:Subcode/env:Value", NS)]


@pytest.fixture
def camera(emulator_factory):
    running = emulator_factory(extra_args=("--edge-storage-s", "30"))
    time.sleep(2.5)  # a few GOPs recorded
    return running


def test_recording_service(camera) -> None:
    status, root = call(camera, TRC, "GetRecordings")
    assert status == 200
    item = root.find(".//trc:GetRecordingsResponse/trc:RecordingItem", NS)
    assert item.findtext("tt:RecordingToken", namespaces=NS) == TOKEN
    source = item.find("tt:Configuration/tt:Source", NS)
    assert [etree.QName(c).localname for c in source] == [
        "SourceId", "Name", "Location", "Description", "Address",
    ]  # fmt: skip
    assert source.findtext("tt:Name", namespaces=NS) == "Camera 1"
    assert item.findtext("tt:Configuration/tt:MaximumRetentionTime", namespaces=NS) == "PT30S"
    track = item.find("tt:Tracks/tt:Track", NS)
    assert track.findtext("tt:TrackToken", namespaces=NS) == "VIDEO001"
    assert track.findtext("tt:Configuration/tt:TrackType", namespaces=NS) == "Video"
    status, root = call(camera, TRC, "GetServiceCapabilities")
    assert root.find(".//trc:Capabilities", NS).get("DynamicRecordings") == "false"
    status, root = call(camera, TRC, "GetRecordingJobs")
    assert status == 200 and root.find(".//trc:GetRecordingJobsResponse", NS) is not None


def test_search_service_reports_what_the_ring_holds(camera) -> None:
    before = time.time()
    status, root = call(camera, TSE, "GetRecordingSummary")
    assert status == 200
    summary = root.find(".//tse:Summary", NS)
    data_from = parse_time(summary.findtext("tt:DataFrom", namespaces=NS))
    data_until = parse_time(summary.findtext("tt:DataUntil", namespaces=NS))
    assert summary.findtext("tt:NumberRecordings", namespaces=NS) == "1"
    assert data_from < data_until <= before + 0.5
    assert data_until - data_from > 1.0

    status, root = call(
        camera, TSE, "GetRecordingInformation", f"<x:RecordingToken>{TOKEN}</x:RecordingToken>"
    )
    info = root.find(".//tse:RecordingInformation", NS)
    assert [etree.QName(c).localname for c in info] == [
        "RecordingToken", "Source", "EarliestRecording", "LatestRecording", "Content",
        "Track", "RecordingStatus",
    ]  # fmt: skip
    earliest = parse_time(info.findtext("tt:EarliestRecording", namespaces=NS))
    latest = parse_time(info.findtext("tt:LatestRecording", namespaces=NS))
    assert earliest == pytest.approx(data_from, abs=0.01)
    assert latest >= data_until  # the ring grew meanwhile
    assert parse_time(info.findtext("tt:Track/tt:DataFrom", namespaces=NS)) == earliest
    assert info.findtext("tt:RecordingStatus", namespaces=NS) == "Recording"

    status, root = call(
        camera, TSE, "GetRecordingInformation", "<x:RecordingToken>nope</x:RecordingToken>"
    )
    assert status == 400 and "ter:NoRecording" in subcodes(root)


def test_find_recordings_and_page_through_results(camera) -> None:
    scope = "<x:Scope/><x:MaxMatches>10</x:MaxMatches><x:KeepAliveTime>PT10S</x:KeepAliveTime>"
    status, root = call(camera, TSE, "FindRecordings", scope)
    assert status == 200
    token = root.findtext(".//tse:SearchToken", namespaces=NS)
    assert token
    status, root = call(camera, TSE, "GetSearchState", f"<x:SearchToken>{token}</x:SearchToken>")
    assert root.findtext(".//tse:State", namespaces=NS) == "Searching"
    status, root = call(
        camera,
        TSE,
        "GetRecordingSearchResults",
        f"<x:SearchToken>{token}</x:SearchToken><x:MaxResults>5</x:MaxResults>"
        "<x:WaitTime>PT1S</x:WaitTime>",
    )
    results = root.find(".//tse:ResultList", NS)
    assert results.findtext("tt:SearchState", namespaces=NS) == "Completed"
    infos = results.findall("tt:RecordingInformation", NS)
    assert [i.findtext("tt:RecordingToken", namespaces=NS) for i in infos] == [TOKEN]
    status, root = call(camera, TSE, "EndSearch", f"<x:SearchToken>{token}</x:SearchToken>")
    assert status == 200 and parse_time(root.findtext(".//tse:Endpoint", namespaces=NS)) > 0
    status, root = call(
        camera, TSE, "GetRecordingSearchResults", f"<x:SearchToken>{token}</x:SearchToken>"
    )
    assert status == 400 and "ter:InvalidToken" in subcodes(root)

    # A scope naming another recording matches nothing.
    other = (
        "<x:Scope><tt:IncludedRecordings>other</tt:IncludedRecordings></x:Scope>"
        "<x:KeepAliveTime>PT10S</x:KeepAliveTime>"
    )
    token = call(camera, TSE, "FindRecordings", other)[1].findtext(
        ".//tse:SearchToken", namespaces=NS
    )
    status, root = call(
        camera, TSE, "GetRecordingSearchResults", f"<x:SearchToken>{token}</x:SearchToken>"
    )
    assert root.findall(".//tt:RecordingInformation", NS) == []
    # KeepAliveTime is required and must be a duration.
    status, root = call(
        camera, TSE, "FindRecordings", "<x:Scope/><x:KeepAliveTime>soon</x:KeepAliveTime>"
    )
    assert status == 400 and "ter:InvalidArgVal" in subcodes(root)


def test_replay_service(camera) -> None:
    inner = f"{REPLAY_SETUP}<x:RecordingToken>{TOKEN}</x:RecordingToken>"
    status, root = call(camera, TRP, "GetReplayUri", inner)
    assert status == 200
    assert root.findtext(".//trp:Uri", namespaces=NS) == (
        f"rtsp://{camera.host}:{camera.rtsp_port}/cam1/replay/{TOKEN}"
    )
    status, root = call(
        camera, TRP, "GetReplayUri", f"{REPLAY_SETUP}<x:RecordingToken>x</x:RecordingToken>"
    )
    assert status == 400 and "ter:NoRecording" in subcodes(root)
    multicast = inner.replace("RTP-Unicast", "RTP-Multicast")
    status, root = call(camera, TRP, "GetReplayUri", multicast)
    assert status == 400 and "ter:InvalidStreamSetup" in subcodes(root)
    status, root = call(camera, TRP, "GetReplayConfiguration")
    assert root.findtext(".//trp:Configuration/tt:SessionTimeout", namespaces=NS) == "PT60S"
    status, root = call(camera, TRP, "GetServiceCapabilities")
    assert root.find(".//trp:Capabilities", NS).get("RTP_RTSP_TCP") == "true"


def test_profile_g_is_advertised(camera) -> None:
    _, root = call(camera, TDS, "GetScopes")
    scopes = [s.text for s in root.iterfind(".//tt:ScopeItem", NS)]
    assert "onvif://www.onvif.org/Profile/G" in scopes
    _, root = call(camera, TDS, "GetServices", "<x:IncludeCapability>true</x:IncludeCapability>")
    services = {
        s.findtext("tds:Namespace", namespaces=NS): s.findtext("tds:XAddr", namespaces=NS)
        for s in root.iterfind(".//tds:Service", NS)
    }
    base = f"http://{camera.host}:{camera.onvif_port}/onvif"
    assert services[TRC] == f"{base}/recording_service"
    assert services[TSE] == f"{base}/search_service"
    assert services[TRP] == f"{base}/replay_service"
    _status, root = call(camera, TDS, "GetCapabilities", "<x:Category>All</x:Category>")
    extension = root.find(".//tds:Capabilities/tt:Extension", NS)
    assert [etree.QName(c).localname for c in extension] == ["Recording", "Search", "Replay"]
    assert extension.findtext("tt:Replay/tt:XAddr", namespaces=NS) == f"{base}/replay_service"


def test_profile_g_needs_ws_security_like_the_other_services(emulator_factory) -> None:
    camera = emulator_factory(user="admin", password="s3cret")
    status, root = call(camera, TSE, "GetRecordingSummary")
    assert status in (400, 401) and "ter:NotAuthorized" in subcodes(root)
    status, root = call(camera, TSE, "GetRecordingSummary", header=username_token("s3cret"))
    assert status == 200 and root.find(".//tse:Summary", NS) is not None
    status, root = call(camera, TRC, "GetRecordings", header=username_token("wrong"))
    assert "ter:NotAuthorized" in subcodes(root)


def test_camera_without_edge_storage(emulator_factory) -> None:
    camera = emulator_factory(extra_args=("--no-edge-storage",))
    for ns, operation in [
        (TRC, "GetRecordings"),
        (TSE, "GetRecordingSummary"),
        (TRP, "GetReplayUri"),
    ]:
        status, root = call(camera, ns, operation)
        assert status == 500, operation
        assert root.findtext(".//env:Code/env:Value", namespaces=NS) == "env:Receiver"
        assert "ter:ActionNotSupported" in subcodes(root)
    status, root = call(camera, TDS, "GetScopes")
    assert "onvif://www.onvif.org/Profile/G" not in [
        s.text for s in root.iterfind(".//tt:ScopeItem", NS)
    ]
    status, root = call(
        camera, TDS, "GetServices", "<x:IncludeCapability>false</x:IncludeCapability>"
    )
    namespaces = {s.text for s in root.iterfind(".//tds:Namespace", NS)}
    assert namespaces.isdisjoint({TRC, TSE, TRP}) and TDS in namespaces
    status, root = call(camera, TDS, "GetCapabilities", "<x:Category>All</x:Category>")
    assert root.find(".//tds:Capabilities/tt:Extension", NS) is None


async def test_onvif_zeep_async_uses_profile_g(camera) -> None:
    client = ONVIFCamera(camera.host, camera.onvif_port, "", "", no_cache=True)
    try:
        await client.update_xaddrs()
        recording = await client.create_recording_service()
        items = await recording.GetRecordings()
        assert [i.RecordingToken for i in items] == [TOKEN]
        assert items[0].Tracks.Track[0].Configuration.TrackType == "Video"

        search = await client.create_search_service()
        token = await search.FindRecordings({"Scope": {}, "KeepAliveTime": timedelta(seconds=10)})
        results = await search.GetRecordingSearchResults({"SearchToken": token, "MaxResults": 10})
        assert results.SearchState == "Completed"
        info = results.RecordingInformation[0]
        assert info.RecordingToken == TOKEN
        assert info.EarliestRecording < info.LatestRecording <= datetime.now(UTC)
        summary = await search.GetRecordingSummary()
        assert summary.NumberRecordings == 1 and summary.DataFrom <= summary.DataUntil
        single = await search.GetRecordingInformation({"RecordingToken": TOKEN})
        assert single.Track[0].TrackToken == "VIDEO001"

        replay = await client.create_replay_service()
        uri = await replay.GetReplayUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "RecordingToken": TOKEN,
            }
        )
        assert uri == f"rtsp://{camera.host}:{camera.rtsp_port}/cam1/replay/{TOKEN}"

        device = await client.create_devicemgmt_service()
        capabilities = await device.GetCapabilities({"Category": "All"})
        # The schema opens CapabilitiesExtension with <xs:any namespace="##other">, which
        # zeep fills greedily with the tt: elements that follow it: they arrive as raw
        # elements, in the schema's order, with their XAddr.
        extension = capabilities.Extension
        raw = {etree.QName(e).localname: e for e in extension._value_1 or []}
        parsed = {n: getattr(extension, n) for n in ("Recording", "Search", "Replay")}
        for name in ("Recording", "Search", "Replay"):
            xaddr = (
                parsed[name].XAddr
                if parsed[name] is not None
                else raw[name].findtext("tt:XAddr", namespaces=NS)
            )
            assert xaddr == f"http://{camera.host}:{camera.onvif_port}/onvif/{name.lower()}_service"
    finally:
        await client.close()
