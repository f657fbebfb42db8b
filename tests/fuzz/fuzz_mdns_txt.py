"""mDNS TXT records of camkeep nodes as peer discovery reads them.

`data` is the TXT record's RDATA as it comes off the wire; zeroconf splits it into
properties (as for a resolved ServiceInfo), then `discovery.mdns_txt.peer_from_record`
validates them (and `decode_txt`). Documented error: `MdnsRecordError`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from zeroconf import ServiceInfo

from discovery.mdns_txt import SERVICE_TYPE, MdnsRecordError, decode_txt, peer_from_record

NODE_ID = "node-fuzz-1"
SERVICE_NAME = f"{NODE_ID}.{SERVICE_TYPE}"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def fuzz_one(data: bytes) -> None:
    properties = ServiceInfo(SERVICE_TYPE, SERVICE_NAME, properties=data).properties
    try:
        info = decode_txt(properties)
    except MdnsRecordError:
        return
    try:
        peer = peer_from_record(
            SERVICE_NAME, properties, ["127.0.0.1"], info.api_port, ["127.0.0.1"], NOW
        )
    except MdnsRecordError:
        return
    assert peer.url == f"http://127.0.0.1:{info.api_port}"
