"""WS-Discovery client: find ONVIF cameras with a multicast Probe.

    cameras = await probe(["10.0.0.5"], timeout_s=2.0)

A Probe for dn:NetworkVideoTransmitter is sent to 239.255.255.250:3702 out of each
given interface address only (IP_MULTICAST_IF, TTL 1), and unicast to any listed
hosts; ProbeMatches that relate to our Probe are collected until the timeout and
merged by endpoint. Every answer comes from the LAN, so parsing is hardened: size
cap, no DOCTYPE/entities, no network access, bounded fields; bad datagrams are
dropped with one log line per probe.

This module writes its own messages (discovery must not import the emulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lxml import etree

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
DEFAULT_PORT = 3702
MAX_DATAGRAM_BYTES = 32 * 1024
PROBE_REPEAT_DELAY_S = (0.05, 0.25)  # one repeat, as UDP may drop (WS-Discovery App. I)
MAX_FIELD_CHARS = 2048  # an endpoint, one xaddr, one scope
MAX_ITEMS = 64  # xaddrs or scopes per match
MAX_CAMERAS = 4096

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD_NS = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN_NS = "http://www.onvif.org/ver10/network/wsdl"
WSD_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
ACTION_PROBE = WSD_NS + "/Probe"
ACTION_PROBE_MATCHES = WSD_NS + "/ProbeMatches"

_ONVIF_SCOPE = "onvif://www.onvif.org/"


class WSDiscoveryError(RuntimeError):
    """The probe could not be sent (bad or unusable interface addresses)."""


class BadDiscoveryMessage(ValueError):
    """A datagram that is not a usable ProbeMatches for our Probe."""


@dataclass(frozen=True)
class DiscoveredCamera:
    endpoint: str  # endpoint reference address, usually urn:uuid:...
    xaddrs: tuple[str, ...]  # device service URLs
    scopes: tuple[str, ...]
    name: str | None = None  # from onvif://www.onvif.org/name/<name>
    hardware: str | None = None  # .../hardware/<model>
    location: str | None = None  # .../location/<where>
    types: tuple[str, ...] = ()
    source: str = ""  # IP address the answer came from
    metadata_version: int | None = None


# --------------------------------------------------------------------------- messages


def build_probe(message_id: str) -> bytes:
    """A Probe for ONVIF video transmitters, as ONVIF clients send it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12_NS}" xmlns:a="{WSA_NS}" xmlns:d="{WSD_NS}" '
        f'xmlns:dn="{DN_NS}"><s:Header>'
        f"<a:Action>{ACTION_PROBE}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>"
        f"<a:To>{WSD_TO}</a:To>"
        "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        "</d:Probe></s:Body></s:Envelope>"
    ).encode()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_probe_matches(data: bytes, message_id: str, source: str = "") -> list[DiscoveredCamera]:
    """Cameras in a ProbeMatches datagram answering `message_id`; BadDiscoveryMessage
    for anything else (garbage, hostile XML, another message, another probe's answer)."""
    if len(data) > MAX_DATAGRAM_BYTES:
        raise BadDiscoveryMessage("datagram too large")
    head = data.lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise BadDiscoveryMessage("DOCTYPE/ENTITY not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise BadDiscoveryMessage(f"not XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise BadDiscoveryMessage("DOCTYPE not allowed")
    if root.tag != f"{{{SOAP12_NS}}}Envelope":
        raise BadDiscoveryMessage("not a SOAP 1.2 envelope")
    header = root.find(f"{{{SOAP12_NS}}}Header")
    relates_to = _text(header, f"{{{WSA_NS}}}RelatesTo") if header is not None else ""
    if relates_to != message_id:
        raise BadDiscoveryMessage("not an answer to our probe")
    matches = root.find(f"{{{SOAP12_NS}}}Body/{{{WSD_NS}}}ProbeMatches")
    if matches is None:
        raise BadDiscoveryMessage("no ProbeMatches in the body")
    cameras = []
    for match in matches.findall(f"{{{WSD_NS}}}ProbeMatch")[:MAX_ITEMS]:
        camera = _camera_from_match(match, source)
        if camera is not None:
            cameras.append(camera)
    if not cameras:
        raise BadDiscoveryMessage("ProbeMatches without a usable match")
    return cameras


def _text(parent: etree._Element, path: str) -> str:
    value = parent.findtext(path)
    return (value or "").strip()


def _camera_from_match(match: etree._Element, source: str) -> DiscoveredCamera | None:
    endpoint = _text(match, f"{{{WSA_NS}}}EndpointReference/{{{WSA_NS}}}Address")
    if not endpoint or len(endpoint) > MAX_FIELD_CHARS or not endpoint.isprintable():
        return None
    xaddrs = tuple(x for x in _words(match, "XAddrs") if _is_http_url(x))
    scopes = tuple(s for s in _words(match, "Scopes") if s.isprintable())
    types = tuple(t for t in _words(match, "Types") if t.isprintable())
    version_text = _text(match, f"{{{WSD_NS}}}MetadataVersion")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    digits = version_text.isascii() and version_text.isdigit()
    version = int(version_text) if digits and len(version_text) < 10 else None
    return DiscoveredCamera(
        endpoint=endpoint,
        xaddrs=xaddrs,
        scopes=scopes,
        name=_scope_value(scopes, "name"),
        hardware=_scope_value(scopes, "hardware"),
        location=_scope_value(scopes, "location"),
        types=types,
        source=source,
        metadata_version=version,
    )


def _words(match: etree._Element, local: str) -> list[str]:
    words = _text(match, f"{{{WSD_NS}}}{local}").split()
    return [w for w in words if len(w) <= MAX_FIELD_CHARS][:MAX_ITEMS]


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value.isprintable()


def _scope_value(scopes: Sequence[str], kind: str) -> str | None:
    """The value of an ONVIF scope such as onvif://www.onvif.org/name/Front%20door."""
    prefix = f"{_ONVIF_SCOPE}{kind}/"
    for scope in scopes:
        if scope.lower().startswith(prefix.lower()):
            value = unquote(scope[len(prefix) :]).strip()
            if value and value.isprintable():
                return value[:200]
    return None


def merge(cameras: Sequence[DiscoveredCamera]) -> list[DiscoveredCamera]:
    """One entry per endpoint, in first-seen order: xaddrs united, the latest scopes."""
    merged: dict[str, DiscoveredCamera] = {}
    for camera in cameras:
        seen = merged.get(camera.endpoint)
        if seen is None:
            if len(merged) < MAX_CAMERAS:
                merged[camera.endpoint] = camera
            continue
        xaddrs = seen.xaddrs + tuple(x for x in camera.xaddrs if x not in seen.xaddrs)
        merged[camera.endpoint] = DiscoveredCamera(
            endpoint=camera.endpoint,
            xaddrs=xaddrs[:MAX_ITEMS],
            scopes=camera.scopes,
            name=camera.name,
            hardware=camera.hardware,
            location=camera.location,
            types=camera.types,
            source=seen.source,
            metadata_version=camera.metadata_version,
        )
    return list(merged.values())


# --------------------------------------------------------------------------- network


def _check_ipv4(address: str, what: str) -> str:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise WSDiscoveryError(f"{what} must be an IPv4 address, got {address!r}") from exc
    if ip.is_unspecified or ip.is_multicast or str(ip) == "255.255.255.255":
        raise WSDiscoveryError(f"{what} must be a unicast address, got {address}")
    return str(ip)


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str, found: list[DiscoveredCamera], bad: list[str]) -> None:
        self._message_id = message_id
        self._found = found
        self._bad = bad

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._found.extend(parse_probe_matches(data, self._message_id, addr[0]))
        except BadDiscoveryMessage as exc:
            if not self._bad:
                log.warning("WS-Discovery: ignoring a datagram from %s: %s", addr[0], exc)
            self._bad.append(str(exc))

    def error_received(self, exc: Exception) -> None:
        log.debug("WS-Discovery socket error: %s", exc)


def _probe_socket(interface_address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((interface_address, 0))
        sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface_address)
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", 1))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # cameras on this host
    except OSError:
        sock.close()
        raise
    return sock


async def probe(
    interface_addresses: Sequence[str],
    timeout_s: float = 2.0,
    port: int = DEFAULT_PORT,
    *,
    unicast_hosts: Sequence[str] = (),
) -> list[DiscoveredCamera]:
    """Probe for ONVIF cameras out of the given interfaces for `timeout_s` seconds."""
    if not interface_addresses:
        raise WSDiscoveryError("WS-Discovery needs at least one explicit interface address")
    if not 0 < timeout_s <= 60:
        raise WSDiscoveryError(f"timeout must be in (0, 60] s, got {timeout_s}")
    if not 1 <= port <= 65535:
        raise WSDiscoveryError(f"port must be 1..65535, got {port}")
    interfaces = list(dict.fromkeys(_check_ipv4(a, "interface") for a in interface_addresses))
    targets = [_check_ipv4(h, "unicast host") for h in unicast_hosts]

    message_id = f"urn:uuid:{uuid.uuid4()}"
    datagram = build_probe(message_id)
    found: list[DiscoveredCamera] = []
    bad: list[str] = []
    loop = asyncio.get_running_loop()
    transports: list[asyncio.DatagramTransport] = []
    try:
        for address in interfaces:
            try:
                sock = _probe_socket(address)
            except OSError as exc:
                log.warning("WS-Discovery: cannot probe from %s: %s", address, exc)
                continue
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Collector(message_id, found, bad), sock=sock
            )
            transports.append(transport)
        if not transports:
            raise WSDiscoveryError(f"no usable interface among {interfaces}")
        destinations = [(MULTICAST_GROUP, port)] + [(host, port) for host in targets]
        await _send_with_repeat(transports, datagram, destinations, timeout_s)
    finally:
        for transport in transports:
            transport.close()
    cameras = merge(found)
    log.info(
        "WS-Discovery: %d cameras from %s (%d bad datagrams)", len(cameras), interfaces, len(bad)
    )
    return cameras


async def _send_with_repeat(  # sends, repeats once, then waits out the timeout
    transports: Sequence[asyncio.DatagramTransport],
    datagram: bytes,
    destinations: Sequence[tuple[str, int]],
    timeout_s: float,
) -> None:
    def send_all() -> None:
        for transport in transports:
            for destination in destinations:
                with contextlib.suppress(OSError):  # e.g. no route on a downed link
                    transport.sendto(datagram, destination)

    send_all()
    delay = min(random.uniform(*PROBE_REPEAT_DELAY_S), timeout_s / 4)
    await asyncio.sleep(delay)
    send_all()
    await asyncio.sleep(timeout_s - delay)  # answers arrive meanwhile
