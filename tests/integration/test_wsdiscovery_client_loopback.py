"""WS-Discovery client against real responders over loopback multicast/unicast."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import subprocess
import sys

import psutil
import pytest
from lxml import etree

from discovery.wsdiscovery_client import MULTICAST_GROUP, WSDiscoveryError, probe
from emulator.camera import CameraSpec
from emulator.ports import free_port
from emulator.wsdiscovery import WSDiscoveryResponder
from node.cli._child_process import stop_process

LOOPBACK = "127.0.0.1"
# each test probes on a UDP port of its own, so responders of other tests stay silent


async def test_finds_every_camera_of_an_in_process_responder() -> None:
    port = free_port(LOOPBACK, socket.SOCK_DGRAM)
    cameras = [CameraSpec(i, f"Cam {i}", LOOPBACK, 18554, 18100 + i - 1) for i in range(1, 5)]
    responder = WSDiscoveryResponder(cameras, LOOPBACK, port)
    await responder.start()
    try:
        found = await probe([LOOPBACK], timeout_s=1.0, port=port)
    finally:
        await responder.stop()
    assert sorted(c.endpoint for c in found) == sorted(f"urn:uuid:{c.uuid}" for c in cameras)
    by_name = {c.name: c for c in found}
    assert by_name["Cam 2"].xaddrs == ("http://127.0.0.1:18101/onvif/device_service",)
    assert by_name["Cam 2"].hardware == "Emulated Camera"
    assert responder.probes_answered >= 1


async def test_unicast_probe_reaches_a_responder() -> None:
    port = free_port(LOOPBACK, socket.SOCK_DGRAM)
    cameras = [CameraSpec(1, "Solo", LOOPBACK, 18554, 18200)]
    responder = WSDiscoveryResponder(cameras, LOOPBACK, port)
    await responder.start()
    try:
        found = await probe([LOOPBACK], timeout_s=0.5, port=port, unicast_hosts=[LOOPBACK])
    finally:
        await responder.stop()
    assert [c.name for c in found] == ["Solo"]  # merged: multicast and unicast answers
    assert responder.probes_answered >= 2


@pytest.mark.slow
async def test_finds_the_cameras_of_camkeep_emulate() -> None:
    port = free_port(LOOPBACK, socket.SOCK_DGRAM)
    argv = [
        sys.executable, "-m", "node.cli", "emulate", "--host", LOOPBACK, "--cameras", "4",
        "--rtsp-port", "0", "--onvif-port", "0", "--control-port", "0", "--wsd-port", str(port),
        "--width", "320", "--height", "240", "--fps", "5", "--name-prefix", "WSD ",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        async with asyncio.timeout(60):
            while (line := await asyncio.to_thread(proc.stdout.readline)) and line != "ready\n":
                lines.append(line)
        onvif_urls = re.findall(r"http://\S+/onvif/device_service", "".join(lines))
        assert len(onvif_urls) == 4, lines
        found = await probe([LOOPBACK], timeout_s=1.0, port=port)
    finally:
        stop_process(proc, 10)
        proc.stdout.close()
    assert sorted(c.name for c in found) == ["WSD 1", "WSD 2", "WSD 3", "WSD 4"]
    assert sorted(x for c in found for x in c.xaddrs) == sorted(onvif_urls)


class _HostileResponder(asyncio.DatagramProtocol):
    """Answers each Probe with XXE, garbage, an unrelated answer and one good answer."""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        root = etree.fromstring(data)
        message_id = root.findtext(".//{*}MessageID")
        good = _probe_matches(
            message_id, "urn:uuid:good", "http://127.0.0.1:1/onvif/device_service"
        )
        for answer in (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + good,
            b"\xff\xfe not xml at all",
            _probe_matches("urn:uuid:someone-else", "urn:uuid:other", "http://127.0.0.1:2/"),
            good,
        ):
            self.transport.sendto(answer, addr)


def _probe_matches(relates_to: str, endpoint: str, xaddr: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        f"<s:Header><a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches>"
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{endpoint}</a:Address>"
        f"</a:EndpointReference><d:XAddrs>{xaddr}</d:XAddrs></d:ProbeMatch>"
        "</d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()


async def test_hostile_answers_are_dropped_with_one_log_line(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="discovery.wsdiscovery_client")
    port = free_port(LOOPBACK, socket.SOCK_DGRAM)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((MULTICAST_GROUP, port))
    mreq = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton(LOOPBACK)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_HostileResponder, sock=sock)
    try:
        found = await probe([LOOPBACK], timeout_s=0.5, port=port)
    finally:
        transport.close()
    assert [(c.endpoint, c.xaddrs) for c in found] == [
        ("urn:uuid:good", ("http://127.0.0.1:1/onvif/device_service",))
    ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


@pytest.mark.parametrize(
    ("interfaces", "kwargs"),
    [
        ([], {}),
        (["0.0.0.0"], {}),
        (["239.255.255.250"], {}),
        (["localhost"], {}),
        ([LOOPBACK], {"timeout_s": 0}),
        ([LOOPBACK], {"port": 70000}),
        ([LOOPBACK], {"unicast_hosts": ["example.com"]}),
    ],
)
async def test_bad_arguments_are_refused_before_sending(interfaces, kwargs) -> None:
    with pytest.raises(WSDiscoveryError):
        await probe(interfaces, **kwargs)


async def test_an_address_no_interface_holds_is_refused() -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails and nothing is sent
    held = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    if "192.0.2.1" in held:
        pytest.skip("this machine really holds 192.0.2.1")
    with contextlib.suppress(WSDiscoveryError):
        await probe(["192.0.2.1"], timeout_s=0.2)
        pytest.fail("probe from an address we do not hold must fail")
