"""camkeep discovery: mDNS peer discovery and ONVIF camera discovery (WS-Discovery).

Public surface:
- `MdnsPeers` (start/update/stop/peers, on_change callback), `NodeInfo`, `PeerInfo`,
  `MdnsError`, `MdnsRecordError`, `SERVICE_TYPE`
- `probe(interface_addresses, timeout_s, port, unicast_hosts)` -> list[`DiscoveredCamera`]
"""

from discovery.mdns import MdnsError, MdnsPeers, PeerCallback, PeerEvent
from discovery.mdns_txt import SERVICE_TYPE, MdnsRecordError, NodeInfo, PeerInfo
from discovery.wsdiscovery_client import DiscoveredCamera, WSDiscoveryError, probe

__all__ = [
    "SERVICE_TYPE",
    "DiscoveredCamera",
    "MdnsError",
    "MdnsPeers",
    "MdnsRecordError",
    "NodeInfo",
    "PeerCallback",
    "PeerEvent",
    "PeerInfo",
    "WSDiscoveryError",
    "probe",
]
