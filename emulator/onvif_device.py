"""ONVIF device management service (tds, ver10) replies for one emulated camera.

Each operation is a pure function `(camera, args, now) -> body XML` using the
prefixes declared by `soap.build_envelope` (tds, tt, ...).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from emulator.camera import CameraSpec
from emulator.soap import TDS_NS, TR2_NS, TRC_NS, TRP_NS, TRT_NS, TSE_NS, SoapFault, text

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
MEDIA2_PATH = "/onvif/media2_service"
SNAPSHOT_PATH = "/onvif/snapshot"
RECORDING_PATH = "/onvif/recording_service"
SEARCH_PATH = "/onvif/search_service"
REPLAY_PATH = "/onvif/replay_service"


def base_url(camera: CameraSpec) -> str:
    return f"http://{camera.host}:{camera.onvif_port}"


def device_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + DEVICE_PATH


def media_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + MEDIA_PATH


def media2_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + MEDIA2_PATH


def recording_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + RECORDING_PATH


def search_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + SEARCH_PATH


def replay_xaddr(camera: CameraSpec) -> str:
    return base_url(camera) + REPLAY_PATH


def scopes(camera: CameraSpec) -> list[str]:
    """ONVIF scopes as cameras announce them (also used by WS-Discovery)."""
    profile_g = ["onvif://www.onvif.org/Profile/G"] if camera.edge_storage else []
    return [
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/Profile/S",
        *profile_g,
        f"onvif://www.onvif.org/name/{quote(camera.name, safe='')}",
        f"onvif://www.onvif.org/hardware/{quote(camera.model, safe='')}",
        f"onvif://www.onvif.org/location/{quote(camera.location, safe='')}",
    ]


def mac_address(camera: CameraSpec) -> str:
    """A stable locally administered MAC derived from the camera's UUID."""
    raw = bytes.fromhex(camera.uuid.replace("-", "")[:12])
    first = (raw[0] | 0x02) & 0xFE
    return ":".join(f"{b:02x}" for b in bytes([first]) + raw[1:])


def _date_time_xml(moment: datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}</tt:Minute>"
        f"<tt:Second>{moment.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{moment.year}</tt:Year><tt:Month>{moment.month}</tt:Month>"
        f"<tt:Day>{moment.day}</tt:Day></tt:Date>"
    )


def get_system_date_and_time(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime>{_date_time_xml(now)}</tt:UTCDateTime>"
        f"<tt:LocalDateTime>{_date_time_xml(now)}</tt:LocalDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def get_device_information(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{text(camera.manufacturer)}</tds:Manufacturer>"
        f"<tds:Model>{text(camera.model)}</tds:Model>"
        f"<tds:FirmwareVersion>{text(camera.firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{text(camera.serial)}</tds:SerialNumber>"
        f"<tds:HardwareId>{text(camera.model)}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def _device_capabilities_xml(camera: CameraSpec) -> str:
    return (
        f"<tt:Device><tt:XAddr>{text(device_xaddr(camera))}</tt:XAddr>"
        "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false"
        "</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6>"
        "<tt:DynDNS>false</tt:DynDNS></tt:Network>"
        "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve>"
        "<tt:DiscoveryBye>true</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery>"
        "<tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging>"
        "<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>"
        "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
        "</tt:SupportedVersions></tt:System>"
        "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
        "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
        "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token>"
        "<tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken>"
        "<tt:RELToken>false</tt:RELToken></tt:Security>"
        "</tt:Device>"
    )


def _media_capabilities_xml(camera: CameraSpec) -> str:
    return (
        f"<tt:Media><tt:XAddr>{text(media_xaddr(camera))}</tt:XAddr>"
        "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
        "</tt:StreamingCapabilities></tt:Media>"
    )


def _profile_g_capabilities_xml(camera: CameraSpec) -> str:
    """tt:CapabilitiesExtension with Recording, Search and Replay, in the schema's order."""
    return (
        "<tt:Extension>"
        f"<tt:Recording><tt:XAddr>{text(recording_xaddr(camera))}</tt:XAddr>"
        "<tt:ReceiverSource>false</tt:ReceiverSource>"
        "<tt:MediaProfileSource>true</tt:MediaProfileSource>"
        "<tt:DynamicRecordings>false</tt:DynamicRecordings>"
        "<tt:DynamicTracks>false</tt:DynamicTracks>"
        "<tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>"
        f"<tt:Search><tt:XAddr>{text(search_xaddr(camera))}</tt:XAddr>"
        "<tt:MetadataSearch>false</tt:MetadataSearch></tt:Search>"
        f"<tt:Replay><tt:XAddr>{text(replay_xaddr(camera))}</tt:XAddr></tt:Replay>"
        "</tt:Extension>"
    )


def get_capabilities(camera: CameraSpec, args: dict, now: datetime) -> str:
    categories = args.get("Category", "All")
    if isinstance(categories, str):
        categories = [categories]
    wanted = set(categories) or {"All"}
    unknown = wanted - {"All", "Device", "Media"}
    if unknown:
        raise SoapFault(
            "Receiver", ("ActionNotSupported", "NoSuchService"), "Capability category not supported"
        )
    parts = []
    if wanted & {"All", "Device"}:
        parts.append(_device_capabilities_xml(camera))
    if wanted & {"All", "Media"}:
        parts.append(_media_capabilities_xml(camera))
    if "All" in wanted and camera.edge_storage:
        parts.append(_profile_g_capabilities_xml(camera))
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        + "".join(parts)
        + "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def device_service_capabilities_xml() -> str:
    return (
        "<tds:Capabilities>"
        '<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" '
        'DynDNS="false" NTP="0"/>'
        '<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" '
        'OnboardKeyGeneration="false" AccessPolicyConfig="false" DefaultAccessPolicy="false" '
        'Dot1X="false" RemoteUserHandling="false" X.509Token="false" SAMLToken="false" '
        'KerberosToken="false" UsernameToken="true" HttpDigest="true" RELToken="false"/>'
        '<tds:System DiscoveryResolve="false" DiscoveryBye="true" RemoteDiscovery="false" '
        'SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false" '
        'HttpFirmwareUpgrade="false" HttpSystemBackup="false" HttpSystemLogging="false" '
        'HttpSupportInformation="false"/>'
        "</tds:Capabilities>"
    )


def media_service_capabilities_xml(prefix: str = "trt") -> str:
    return (
        f'<{prefix}:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" '
        'OSD="false">'
        f'<trt:ProfileCapabilities MaximumNumberOfProfiles="2"/>'
        '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true" '
        'NonAggregateControl="false" NoRTSPStreaming="false"/>'
        f"</{prefix}:Capabilities>"
    )


def get_service_capabilities(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetServiceCapabilitiesResponse>"
        + device_service_capabilities_xml()
        + "</tds:GetServiceCapabilitiesResponse>"
    )


def media2_service_capabilities_xml() -> str:
    return (
        '<tr2:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" '
        'OSD="false" Mask="false" SourceMask="false">'
        '<tr2:ProfileCapabilities MaximumNumberOfProfiles="2" '
        'ConfigurationsSupported="VideoSource VideoEncoder"/>'
        '<tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false" '
        'RTP_RTSP_TCP="true" NonAggregateControl="false" AutoStartMulticast="false"/>'
        "</tr2:Capabilities>"
    )


def recording_service_capabilities_xml() -> str:
    return (
        '<trc:Capabilities DynamicRecordings="false" DynamicTracks="false" Encoding="H264 H265" '
        'MaxRecordings="1" MaxRecordingJobs="0" Options="false" MetadataRecording="false"/>'
    )


def search_service_capabilities_xml() -> str:
    return '<tse:Capabilities MetadataSearch="false" GeneralStartEvents="false"/>'


def replay_service_capabilities_xml() -> str:
    return '<trp:Capabilities ReversePlayback="false" RTP_RTSP_TCP="true"/>'


def get_services(camera: CameraSpec, args: dict, now: datetime) -> str:
    include = str(args.get("IncludeCapability", "false")).strip().lower() in ("true", "1")
    services = [
        (TDS_NS, device_xaddr(camera), device_service_capabilities_xml(), (2, 60)),
        (TRT_NS, media_xaddr(camera), media_service_capabilities_xml(), (2, 60)),
        (TR2_NS, media2_xaddr(camera), media2_service_capabilities_xml(), (2, 60)),
    ]
    if camera.edge_storage:
        services += [
            (TRC_NS, recording_xaddr(camera), recording_service_capabilities_xml(), (2, 42)),
            (TSE_NS, search_xaddr(camera), search_service_capabilities_xml(), (2, 42)),
            (TRP_NS, replay_xaddr(camera), replay_service_capabilities_xml(), (2, 21)),
        ]
    items = []
    for namespace, xaddr, capabilities, (major, minor) in services:
        caps = f"<tds:Capabilities>{capabilities}</tds:Capabilities>" if include else ""
        items.append(
            f"<tds:Service><tds:Namespace>{text(namespace)}</tds:Namespace>"
            f"<tds:XAddr>{text(xaddr)}</tds:XAddr>{caps}"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
            "</tds:Service>"
        )
    return "<tds:GetServicesResponse>" + "".join(items) + "</tds:GetServicesResponse>"


def get_scopes(camera: CameraSpec, args: dict, now: datetime) -> str:
    items = "".join(
        f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{text(s)}</tt:ScopeItem>"
        "</tds:Scopes>"
        for s in scopes(camera)
    )
    return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"


def get_network_interfaces(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
        "<tt:Enabled>true</tt:Enabled>"
        f"<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{mac_address(camera)}</tt:HwAddress>"
        "<tt:MTU>1500</tt:MTU></tt:Info>"
        "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>"
        f"<tt:Manual><tt:Address>{text(camera.host)}</tt:Address>"
        "<tt:PrefixLength>24</tt:PrefixLength></tt:Manual>"
        "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
        "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
    )


def get_network_protocols(camera: CameraSpec, args: dict, now: datetime) -> str:
    protocols = [("HTTP", camera.onvif_port), ("RTSP", camera.rtsp_port)]
    items = "".join(
        f"<tds:NetworkProtocols><tt:Name>{name}</tt:Name><tt:Enabled>true</tt:Enabled>"
        f"<tt:Port>{port}</tt:Port></tds:NetworkProtocols>"
        for name, port in protocols
    )
    return f"<tds:GetNetworkProtocolsResponse>{items}</tds:GetNetworkProtocolsResponse>"


def get_hostname(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
        f"<tt:Name>cam{camera.index}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>"
    )


def get_wsdl_url(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/</tds:WsdlUrl>"
        "</tds:GetWsdlUrlResponse>"
    )


def get_endpoint_reference(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        f"<tds:GetEndpointReferenceResponse><tds:GUID>urn:uuid:{camera.uuid}</tds:GUID>"
        "</tds:GetEndpointReferenceResponse>"
    )


def get_discovery_mode(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>Discoverable</tds:DiscoveryMode>"
        "</tds:GetDiscoveryModeResponse>"
    )


def get_users(camera: CameraSpec, args: dict, now: datetime) -> str:
    users = ""
    if camera.username is not None:
        users = (
            f"<tds:User><tt:Username>{text(camera.username)}</tt:Username>"
            "<tt:UserLevel>Administrator</tt:UserLevel></tds:User>"
        )
    return f"<tds:GetUsersResponse>{users}</tds:GetUsersResponse>"


DEVICE_OPERATIONS = {
    "GetSystemDateAndTime": get_system_date_and_time,
    "GetDeviceInformation": get_device_information,
    "GetCapabilities": get_capabilities,
    "GetServices": get_services,
    "GetServiceCapabilities": get_service_capabilities,
    "GetScopes": get_scopes,
    "GetNetworkInterfaces": get_network_interfaces,
    "GetNetworkProtocols": get_network_protocols,
    "GetHostname": get_hostname,
    "GetWsdlUrl": get_wsdl_url,
    "GetEndpointReference": get_endpoint_reference,
    "GetDiscoveryMode": get_discovery_mode,
    "GetUsers": get_users,
}

# ONVIF Core access class PRE_AUTH: answered without authentication.
PRE_AUTH_OPERATIONS = frozenset(
    {
        "GetSystemDateAndTime",
        "GetWsdlUrl",
        "GetServices",
        "GetServiceCapabilities",
        "GetCapabilities",
        "GetHostname",
        "GetEndpointReference",
    }
)
