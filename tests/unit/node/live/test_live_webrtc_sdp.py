"""What the WebRTC answer and ICE gathering are made of: host candidates on the
listen address only, remote candidates a loopback node cannot reach left out, the
camera's profile-level-id read from its SPS and written into an answer."""

from __future__ import annotations

import aioice.ice
import pytest

from node.live._webrtc import (
    reachable_candidates,
    restrict_host_addresses,
    sps_profile_level_id,
    with_profile,
)
from recorder import StreamInfo

OFFER = "\r\n".join(
    [
        "v=0",
        "m=video 9 UDP/TLS/RTP/SAVPF 102",
        "a=candidate:1 1 udp 2113937151 192.0.2.2 55352 typ host generation 0",
        "a=candidate:2 1 udp 2113937151 127.0.0.1 55353 typ host generation 0",
        "a=candidate:3 1 udp 2113937151 abcd-1234.local 55354 typ host generation 0",
        "a=candidate:4 1 udp 2113937151 ::1 55355 typ host generation 0",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "",
    ]
)


def test_a_loopback_node_keeps_loopback_candidates_only() -> None:
    kept = reachable_candidates(OFFER, "127.0.0.1")
    assert "192.0.2.2" not in kept and ".local" not in kept
    assert "127.0.0.1 55353" in kept and "::1 55355" in kept
    assert "profile-level-id=42e01f" in kept
    assert reachable_candidates(OFFER, "192.0.2.10") == OFFER  # a LAN node keeps all


def test_host_candidates_only_on_the_listen_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)
    restrict_host_addresses("127.0.0.1")
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == []
    restrict_host_addresses("0.0.0.0")  # a wildcard: aioice's own choice again
    assert aioice.ice.get_host_addresses.__name__ == "get_host_addresses"


def test_profile_of_the_camera_into_the_answer() -> None:
    high = StreamInfo("h264", b"\x00\x00\x00\x01\x67\x64\x00\x28\xac\x00\x00\x00\x01\x68\xee", 0, 0)
    assert sps_profile_level_id(high) == "640028"
    assert sps_profile_level_id(StreamInfo("h264", b"", 0, 0)) is None
    assert "profile-level-id=640028" in with_profile(OFFER, "640028")
    assert "42e01f" not in with_profile(OFFER, "640028")
