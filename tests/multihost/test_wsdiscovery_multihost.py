"""WS-Discovery across the test LAN: `camkeep emulate` in one host, probes from the
others (real multicast through the bridge)."""

from __future__ import annotations

import asyncio
import sys

import netns

from discovery.wsdiscovery_client import probe

WSD_PORT = 3702  # the real port: each host has its own network stack


def _probe_from(host: netns.Host, timeout_s: float = 1.0):
    return host.call(asyncio.run, probe([host.address], timeout_s=timeout_s, port=WSD_PORT))


def test_cameras_are_found_from_other_hosts_and_not_across_a_partition(lan) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    emulator = h2.popen(
        [sys.executable, "-m", "node.cli", "emulate", "--host", h2.address, "--cameras", "3",
         "--width", "320", "--height", "240", "--fps", "5", "--name-prefix", "Lan "],
        log_name="emulate",
    )  # fmt: skip
    netns.wait_until(lambda: "ready" in h2.log(emulator), 60, what="emulator ready")

    found = _probe_from(h1)
    assert sorted(c.name for c in found) == ["Lan 1", "Lan 2", "Lan 3"]
    assert {c.source for c in found} == {h2.address}
    assert all(c.xaddrs[0].startswith(f"http://{h2.address}:") for c in found)
    # the camera's own host finds them too (multicast loop)
    assert len(_probe_from(h2)) == 3

    h3.disconnect()
    assert _probe_from(h3, timeout_s=0.5) == []
    h3.reconnect()
    netns.wait_until(lambda: len(_probe_from(h3, timeout_s=0.5)) == 3, 10, what="h3 back")
