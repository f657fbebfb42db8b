"""The WS-Discovery responder over real UDP sockets on loopback: multicast and unicast
Probes, Hello/Bye, garbage, and two responders sharing one port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from lxml import etree
from wsd_helpers import NS, action, group_listener, receive_all

from emulator.camera import CameraSpec
from emulator.ports import free_port
from emulator.wsdiscovery import WSDiscoveryResponder
from emulator.wsdiscovery_messages import MULTICAST_GROUP, build_probe

pytestmark = pytest.mark.timeout(60)

HOST = "127.0.0.1"


def cameras(count: int, first_port: int = 18000, first_index: int = 1) -> list[CameraSpec]:
    return [
        CameraSpec(i, f"Cam {i}", HOST, 8554, first_port + i - 1, location="bay 7")
        for i in range(first_index, first_index + count)
    ]


@pytest.fixture
def port() -> int:
    return free_port(kind=socket.SOCK_DGRAM)


@pytest.fixture
def client() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(HOST))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    sock.setblocking(False)
    yield sock
    sock.close()


@contextlib.asynccontextmanager
async def responder(cams: list[CameraSpec], port: int) -> AsyncIterator[WSDiscoveryResponder]:
    running = WSDiscoveryResponder(cams, HOST, port)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def answers(sock: socket.socket) -> list[etree._Element]:
    """Datagrams expected to come: wait longer for the first one."""
    return await receive_all(sock, first_wait_s=5.0)


def matches_by_xaddr(messages: list[etree._Element], relates_to: str) -> dict[str, list[str]]:
    found = {}
    for message in messages:
        assert action(message) == "ProbeMatches"
        assert message.findtext("s:Header/a:RelatesTo", namespaces=NS) == relates_to
        match = message.find("s:Body/d:ProbeMatches/d:ProbeMatch", NS)
        xaddr = match.findtext("d:XAddrs", namespaces=NS)
        found[xaddr] = match.findtext("d:Scopes", namespaces=NS).split()
    return found


def expected_scopes(camera: CameraSpec) -> set[str]:
    return {
        f"onvif://www.onvif.org/name/Cam%20{camera.index}",
        "onvif://www.onvif.org/hardware/Emulated%20Camera",
        "onvif://www.onvif.org/location/bay%207",
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/type/video_encoder",
    }


@pytest.mark.parametrize("target", ["multicast", "unicast"])
async def test_probe_finds_every_camera(port: int, client: socket.socket, target: str) -> None:
    cams = cameras(4)
    async with responder(cams, port):
        message_id = f"urn:uuid:{uuid.uuid4()}"
        destination = MULTICAST_GROUP if target == "multicast" else HOST
        client.sendto(build_probe(message_id), (destination, port))
        found = matches_by_xaddr(await answers(client), message_id)
    assert set(found) == {c.onvif_url for c in cams}
    for camera in cams:
        assert expected_scopes(camera) <= set(found[camera.onvif_url])


async def test_probe_filters_by_type_and_scope(port: int, client: socket.socket) -> None:
    cams = cameras(3)
    async with responder(cams, port):
        client.sendto(build_probe("m-none", types=None), (HOST, port))
        assert len(matches_by_xaddr(await answers(client), "m-none")) == 3
        client.sendto(
            build_probe("m-scope", scopes_text="onvif://www.onvif.org/name/Cam%202"), (HOST, port)
        )
        assert set(matches_by_xaddr(await answers(client), "m-scope")) == {cams[1].onvif_url}
        client.sendto(build_probe("m-other", types="dn:Printer"), (HOST, port))
        assert await receive_all(client) == []


async def test_garbage_is_ignored_and_logged_once(
    port: int, client: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="emulator.wsdiscovery"):
        async with responder(cameras(2), port) as running:
            for junk in (b"garbage", b"\x00" * 100, b"<x>" * 20000, b"<a/>", b"A" * 60000):
                client.sendto(junk, (HOST, port))
            xxe = (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b"<x>&e;</x>"
            )
            client.sendto(xxe, (MULTICAST_GROUP, port))
            assert await receive_all(client) == []
            client.sendto(build_probe("after-junk"), (HOST, port))
            assert len(matches_by_xaddr(await answers(client), "after-junk")) == 2
            assert running.probes_answered == 1
    warnings = [r for r in caplog.records if "bad WS-Discovery datagram" in r.getMessage()]
    assert len(warnings) == 1


async def test_hello_on_start_and_bye_on_stop(port: int) -> None:
    cams = cameras(3)
    listener = group_listener(port)
    try:
        running = WSDiscoveryResponder(cams, HOST, port)
        await running.start()
        hellos = [m for m in await answers(listener) if action(m) == "Hello"]
        await running.stop()
        byes = [m for m in await answers(listener) if action(m) == "Bye"]
    finally:
        listener.close()
    hello_xaddrs = {m.findtext("s:Body/d:Hello/d:XAddrs", namespaces=NS) for m in hellos}
    assert hello_xaddrs == {c.onvif_url for c in cams}
    bye_addresses = {
        m.findtext("s:Body/d:Bye/a:EndpointReference/a:Address", namespaces=NS) for m in byes
    }
    assert bye_addresses == {f"urn:uuid:{c.uuid}" for c in cams}


async def test_two_responders_share_the_port(port: int, client: socket.socket) -> None:
    first, second = cameras(2, 18000), cameras(2, 19000, first_index=3)
    async with responder(first, port), responder(second, port):
        client.sendto(build_probe("shared"), (MULTICAST_GROUP, port))
        found = matches_by_xaddr(await answers(client), "shared")
    assert set(found) == {c.onvif_url for c in first + second}


async def test_128_cameras_all_answer_one_probe(port: int, client: socket.socket) -> None:
    # One burst of 128 ProbeMatches would overflow the client's receive buffer (the
    # client here shares the event loop, so it cannot read during a burst): replies are
    # paced in batches, and every one arrives.
    cams = cameras(128, first_port=20000)
    async with responder(cams, port):
        client.sendto(build_probe("many"), (HOST, port))
        found = matches_by_xaddr(await answers(client), "many")
    assert set(found) == {c.onvif_url for c in cams}


async def test_stop_cancels_paced_replies(port: int, client: socket.socket) -> None:
    running = WSDiscoveryResponder(cameras(64, first_port=20000), HOST, port)
    await running.start()
    try:
        client.sendto(build_probe("cut"), (HOST, port))
        async with asyncio.timeout(5):
            while running.probes_answered == 0:
                await asyncio.sleep(0)  # stop right after the first batch went out
    finally:
        await running.stop()
    got = matches_by_xaddr(await answers(client), "cut")
    assert 0 < len(got) < 64
    await asyncio.sleep(0.1)
    assert await receive_all(client) == []  # nothing sent after stop()
