"""WS-Discovery (2005/04, as ONVIF uses it) messages: parse Probe/Resolve, build
ProbeMatches, ResolveMatches, Hello and Bye. Pure functions, no sockets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from emulator.camera import CameraSpec
from emulator.onvif_device import device_xaddr, scopes
from emulator.soap import SOAP12_NS, TDS_NS, SoapFault, parse_xml_safely, text

WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD_NS = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN_NS = "http://www.onvif.org/ver10/network/wsdl"
WSD_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
MATCH_RFC3986 = WSD_NS + "/rfc3986"
MATCH_STRCMP = WSD_NS + "/strcmp0"
ACTION_PROBE = WSD_NS + "/Probe"
ACTION_RESOLVE = WSD_NS + "/Resolve"

MULTICAST_GROUP = "239.255.255.250"
MAX_DATAGRAM_BYTES = 32 * 1024

# What an ONVIF video camera announces itself as.
CAMERA_TYPES = frozenset({(DN_NS, "NetworkVideoTransmitter"), (TDS_NS, "Device")})
CAMERA_TYPES_TEXT = "dn:NetworkVideoTransmitter tds:Device"


class DiscoveryMessageError(ValueError):
    """A datagram that is not a WS-Discovery message we answer."""


@dataclass(frozen=True)
class Probe:
    message_id: str
    types: frozenset[tuple[str, str]]  # (namespace, local name)
    scopes: tuple[str, ...]
    match_by: str


@dataclass(frozen=True)
class Resolve:
    message_id: str
    address: str  # endpoint reference address, e.g. urn:uuid:...


@dataclass(frozen=True)
class AppSequence:
    instance_id: int
    message_number: int


def _qnames(element: etree._Element) -> frozenset[tuple[str, str]]:
    names = set()
    for item in (element.text or "").split():
        prefix, sep, local = item.rpartition(":")
        namespace = element.nsmap.get(prefix if sep else None)
        if namespace is None:
            raise DiscoveryMessageError(f"unknown prefix in type {item!r}")
        names.add((namespace, local))
    return frozenset(names)


def parse_message(data: bytes) -> Probe | Resolve | None:
    """A Probe or Resolve; None for another well-formed SOAP message (Hello, Bye,
    ProbeMatches...); DiscoveryMessageError for garbage."""
    if len(data) > MAX_DATAGRAM_BYTES:
        raise DiscoveryMessageError("datagram too large")
    try:
        root = parse_xml_safely(data)
    except SoapFault as fault:
        raise DiscoveryMessageError(fault.reason) from fault
    if root.tag != f"{{{SOAP12_NS}}}Envelope":
        raise DiscoveryMessageError("not a SOAP 1.2 envelope")
    message_id = (root.findtext(f"{{{SOAP12_NS}}}Header/{{{WSA_NS}}}MessageID") or "").strip()
    body = root.find(f"{{{SOAP12_NS}}}Body")
    if body is None or not message_id:
        raise DiscoveryMessageError("no Body or no MessageID")
    probe = body.find(f"{{{WSD_NS}}}Probe")
    if probe is not None:
        types_el = probe.find(f"{{{WSD_NS}}}Types")
        scopes_el = probe.find(f"{{{WSD_NS}}}Scopes")
        types = _qnames(types_el) if types_el is not None else frozenset()
        probe_scopes = tuple((scopes_el.text or "").split()) if scopes_el is not None else ()
        match_by = MATCH_RFC3986
        if scopes_el is not None and scopes_el.get("MatchBy"):
            match_by = scopes_el.get("MatchBy", "").strip()
        return Probe(message_id, types, probe_scopes, match_by)
    resolve = body.find(f"{{{WSD_NS}}}Resolve")
    if resolve is not None:
        address = resolve.findtext(f"{{{WSA_NS}}}EndpointReference/{{{WSA_NS}}}Address")
        if not address:
            raise DiscoveryMessageError("Resolve without an address")
        return Resolve(message_id, address.strip())
    return None


def _scope_matches_rfc3986(wanted: str, offered: str) -> bool:
    """WS-Discovery rfc3986 rule: same scheme and authority (case-insensitive), and the
    wanted path's segments are a prefix of the offered path's segments."""
    try:
        w, o = urlsplit(wanted), urlsplit(offered)
    except ValueError:  # e.g. a malformed IPv6 host: such a scope matches nothing
        return False
    if w.scheme.lower() != o.scheme.lower() or w.netloc.lower() != o.netloc.lower():
        return False
    w_segments = [s for s in w.path.split("/") if s]
    o_segments = [s for s in o.path.split("/") if s]
    return o_segments[: len(w_segments)] == w_segments


def camera_matches(camera: CameraSpec, probe: Probe) -> bool:
    if not probe.types <= CAMERA_TYPES:
        return False
    offered = scopes(camera)
    for wanted in probe.scopes:
        if probe.match_by == MATCH_RFC3986:
            if not any(_scope_matches_rfc3986(wanted, o) for o in offered):
                return False
        elif probe.match_by == MATCH_STRCMP:
            if wanted not in offered:
                return False
        else:
            return False  # unsupported matching rule: no match, as the spec says
    return True


def endpoint_address(camera: CameraSpec) -> str:
    return f"urn:uuid:{camera.uuid}"


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _envelope(
    action: str, header_extra: str, body: str, message_id: str, seq: AppSequence
) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:a="{WSA_NS}" xmlns:d="{WSD_NS}" '
        f'xmlns:dn="{DN_NS}" xmlns:tds="{TDS_NS}">'
        f"<s:Header><a:Action>{text(action)}</a:Action>"
        f"<a:MessageID>{text(message_id)}</a:MessageID>{header_extra}"
        f'<d:AppSequence InstanceId="{seq.instance_id}" MessageNumber="{seq.message_number}"/>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _description(camera: CameraSpec) -> str:
    return (
        f"<a:EndpointReference><a:Address>{endpoint_address(camera)}</a:Address>"
        f"</a:EndpointReference><d:Types>{CAMERA_TYPES_TEXT}</d:Types>"
        f"<d:Scopes>{text(' '.join(scopes(camera)))}</d:Scopes>"
        f"<d:XAddrs>{text(device_xaddr(camera))}</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion>"
    )


def build_probe_matches(
    camera: CameraSpec, relates_to: str, seq: AppSequence, message_id: str | None = None
) -> bytes:
    header = f"<a:RelatesTo>{text(relates_to)}</a:RelatesTo><a:To>{ANONYMOUS}</a:To>"
    body = f"<d:ProbeMatches><d:ProbeMatch>{_description(camera)}</d:ProbeMatch></d:ProbeMatches>"
    return _envelope(WSD_NS + "/ProbeMatches", header, body, message_id or new_message_id(), seq)


def build_resolve_matches(
    camera: CameraSpec, relates_to: str, seq: AppSequence, message_id: str | None = None
) -> bytes:
    header = f"<a:RelatesTo>{text(relates_to)}</a:RelatesTo><a:To>{ANONYMOUS}</a:To>"
    body = (
        f"<d:ResolveMatches><d:ResolveMatch>{_description(camera)}</d:ResolveMatch>"
        "</d:ResolveMatches>"
    )
    return _envelope(WSD_NS + "/ResolveMatches", header, body, message_id or new_message_id(), seq)


def build_hello(camera: CameraSpec, seq: AppSequence, message_id: str | None = None) -> bytes:
    header = f"<a:To>{WSD_TO}</a:To>"
    body = f"<d:Hello>{_description(camera)}</d:Hello>"
    return _envelope(WSD_NS + "/Hello", header, body, message_id or new_message_id(), seq)


def build_bye(camera: CameraSpec, seq: AppSequence, message_id: str | None = None) -> bytes:
    header = f"<a:To>{WSD_TO}</a:To>"
    body = (
        f"<d:Bye><a:EndpointReference><a:Address>{endpoint_address(camera)}</a:Address>"
        "</a:EndpointReference></d:Bye>"
    )
    return _envelope(WSD_NS + "/Bye", header, body, message_id or new_message_id(), seq)


def build_probe(
    message_id: str, types: str | None = "dn:NetworkVideoTransmitter", scopes_text: str = ""
) -> bytes:
    """A Probe as ONVIF clients send it (used by tests and by camera discovery)."""
    types_xml = f"<d:Types>{text(types)}</d:Types>" if types is not None else ""
    scopes_xml = f"<d:Scopes>{text(scopes_text)}</d:Scopes>" if scopes_text else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:a="{WSA_NS}" xmlns:d="{WSD_NS}" '
        f'xmlns:dn="{DN_NS}"><s:Header><a:Action>{ACTION_PROBE}</a:Action>'
        f"<a:MessageID>{text(message_id)}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo><a:To>{WSD_TO}</a:To>"
        f"</s:Header><s:Body><d:Probe>{types_xml}{scopes_xml}</d:Probe></s:Body></s:Envelope>"
    ).encode()
