"""What a camkeep node announces over mDNS, and the strict TXT codec for it.

Pure code: no sockets, no zeroconf. TXT records come from anyone on the LAN, so
decoding validates every field and raises MdnsRecordError for anything off.
The TXT stays small (RFC 6763 §6.2: keep it under ~200 bytes where possible,
never above 1300): short keys, bounded values.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

SERVICE_TYPE = "_camkeep._tcp.local."
TXT_VERSION = "1"  # RFC 6763 §6.7 "txtvers"
MAX_TXT_BYTES = 400  # whole TXT record, as encoded on the wire
MAX_NAME_BYTES = 63  # one DNS label (the instance name is the node id, not this)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9.+_-]{1,32}$")
_KEYS = ("txtvers", "id", "sys", "port", "ver", "name")


class MdnsRecordError(ValueError):
    """A TXT record (or a node info to announce) is malformed or hostile."""


@dataclass(frozen=True)
class NodeInfo:
    """What this node announces."""

    node_id: str
    name: str
    api_port: int
    version: str
    system_id: str | None = None  # None: an undefined server

    def __post_init__(self) -> None:
        _check_id("node_id", self.node_id)
        if self.system_id is not None:
            _check_id("system_id", self.system_id)
        _check_port(self.api_port)
        _check_version(self.version)
        _check_name(self.name)


@dataclass(frozen=True)
class PeerInfo:
    """A node seen on the LAN."""

    node_id: str
    name: str
    system_id: str | None
    url: str  # http://<address>:<api port>
    version: str
    last_seen: datetime  # UTC


def encode_txt(info: NodeInfo) -> dict[str, str]:
    """TXT properties for `info` (zeroconf encodes the dict to key=value strings)."""
    props = {
        "txtvers": TXT_VERSION,
        "id": info.node_id,
        "sys": info.system_id or "",
        "port": str(info.api_port),
        "ver": info.version,
        "name": info.name,
    }
    size = sum(1 + len(k.encode()) + 1 + len(v.encode()) for k, v in props.items())
    if size > MAX_TXT_BYTES:
        raise MdnsRecordError(f"TXT record too large: {size} > {MAX_TXT_BYTES} bytes")
    return props


def decode_txt(properties: Mapping[bytes, bytes | None]) -> NodeInfo:
    """Validate TXT properties as parsed by zeroconf; raise MdnsRecordError if bad."""
    if len(properties) > 16:
        raise MdnsRecordError(f"too many TXT keys ({len(properties)})")
    fields: dict[str, str] = {}
    for raw_key, raw_value in properties.items():
        if not isinstance(raw_key, bytes):
            raise MdnsRecordError("TXT key is not bytes")
        key = _text(raw_key, "key").lower()
        if key not in _KEYS:
            continue  # unknown keys are allowed (RFC 6763 §6.4) and ignored
        if raw_value is None:
            raise MdnsRecordError(f"TXT key {key!r} has no value")
        if not isinstance(raw_value, bytes):
            raise MdnsRecordError(f"TXT value of {key!r} is not bytes")
        fields[key] = _text(raw_value, key)
    missing = [k for k in _KEYS if k not in fields]
    if missing:
        raise MdnsRecordError(f"TXT record lacks {', '.join(missing)}")
    if fields["txtvers"] != TXT_VERSION:
        raise MdnsRecordError(f"unsupported txtvers {fields['txtvers']!r}")
    if not fields["port"].isascii() or not fields["port"].isdigit():
        raise MdnsRecordError(f"API port is not a number: {fields['port']!r}")
    return NodeInfo(
        node_id=fields["id"],
        name=fields["name"],
        api_port=int(fields["port"]),
        version=fields["ver"],
        system_id=fields["sys"] or None,
    )


def peer_url(address: str, api_port: int) -> str:
    """The API URL of a peer from its announced IPv4 address; MdnsRecordError if the
    address is not a usable unicast IPv4 address."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise MdnsRecordError(f"not an IPv4 address: {address!r}") from exc
    if ip.is_multicast or ip.is_unspecified or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise MdnsRecordError(f"not a unicast address: {address}")
    _check_port(api_port)
    return f"http://{ip}:{api_port}"


def _text(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MdnsRecordError(f"TXT {what} is not UTF-8") from exc
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise MdnsRecordError(f"TXT {what} contains control characters")
    return text


def _check_id(what: str, value: str) -> None:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise MdnsRecordError(f"{what} must be 1-64 of [A-Za-z0-9_-], got {value!r}")


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise MdnsRecordError(f"API port must be 1..65535, got {port!r}")


def _check_version(version: str) -> None:
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise MdnsRecordError(f"version must be 1-32 of [A-Za-z0-9.+_-], got {version!r}")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise MdnsRecordError("name must be a non-empty string")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise MdnsRecordError(f"name longer than {MAX_NAME_BYTES} bytes")
    if any(ch < " " or ch == "\x7f" for ch in name):
        raise MdnsRecordError("name contains control characters")


def peer_from_record(
    service_name: str,
    properties: Mapping[bytes, bytes | None],
    addresses: list[str],
    srv_port: int | None,
    local_addresses: list[str],
    now: datetime,
) -> PeerInfo:
    """Turn a resolved mDNS service into a PeerInfo, validating everything.

    The instance label must be the node id in the TXT (so one node cannot pose under
    another's name) and the SRV port must match the TXT port. Among the peer's IPv4
    addresses the one sharing a /24 with a local interface is preferred."""
    suffix = "." + SERVICE_TYPE
    if not service_name.endswith(suffix):
        raise MdnsRecordError(f"not a {SERVICE_TYPE} instance: {service_name!r}")
    info = decode_txt(properties)
    label = service_name[: -len(suffix)]
    if label != info.node_id:
        raise MdnsRecordError(f"instance {label!r} announces node id {info.node_id!r}")
    if srv_port != info.api_port:
        raise MdnsRecordError(f"SRV port {srv_port} differs from TXT port {info.api_port}")
    if not addresses:
        raise MdnsRecordError("no IPv4 address")
    address = _closest_address(addresses, local_addresses)
    return PeerInfo(
        node_id=info.node_id,
        name=info.name,
        system_id=info.system_id,
        url=peer_url(address, info.api_port),
        version=info.version,
        last_seen=now,
    )


def _closest_address(addresses: list[str], local_addresses: list[str]) -> str:
    local_nets = set()
    for local in local_addresses:
        with contextlib.suppress(ValueError):
            local_nets.add(ipaddress.IPv4Network(f"{local}/24", strict=False))
    for address in addresses:
        with contextlib.suppress(ValueError):
            if any(ipaddress.IPv4Address(address) in net for net in local_nets):
                return address
    return addresses[0]
