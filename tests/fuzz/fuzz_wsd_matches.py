"""WS-Discovery ProbeMatches as camkeep's camera discovery reads them:
`discovery.wsdiscovery_client.parse_probe_matches` for the probe with MESSAGE_ID,
then `merge` of the cameras found twice. Documented error: `BadDiscoveryMessage`."""

from __future__ import annotations

from discovery.wsdiscovery_client import BadDiscoveryMessage, merge, parse_probe_matches

MESSAGE_ID = "urn:uuid:6a1f2c4e-0000-4000-8000-66757a7a6572"


def fuzz_one(data: bytes) -> None:
    try:
        cameras = parse_probe_matches(data, MESSAGE_ID, source="127.0.0.1")
    except BadDiscoveryMessage:
        return
    assert cameras
    for camera in cameras:
        assert camera.endpoint and camera.endpoint.isprintable()
        assert all(x.lower().startswith(("http://", "https://")) for x in camera.xaddrs)
    merged = merge(cameras + cameras)
    assert len(merged) == len({c.endpoint for c in cameras})
