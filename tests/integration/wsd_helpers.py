"""WS-Discovery on loopback for the emulator tests: a socket that has joined the
multicast group, reading datagrams until they stop, and naming a message's action."""

from __future__ import annotations

import asyncio
import socket
import struct

from lxml import etree

from emulator.wsdiscovery_messages import MULTICAST_GROUP, SOAP12_NS, WSA_NS, WSD_NS

HOST = "127.0.0.1"
NS = {"s": SOAP12_NS, "a": WSA_NS, "d": WSD_NS}
QUIET_S = 0.5  # no more datagrams for this long: the answer is complete


def group_listener(port: int, host: str = HOST) -> socket.socket:
    """A non-blocking UDP socket on the WS-Discovery group and `port`, joined on `host`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((MULTICAST_GROUP, port))
    membership = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton(host))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setblocking(False)
    return sock


async def receive_all(
    sock: socket.socket, quiet_s: float = QUIET_S, first_wait_s: float | None = None
) -> list[etree._Element]:
    """Datagrams until none came for `quiet_s` (the first may take up to `first_wait_s`,
    by default `quiet_s` too)."""
    loop = asyncio.get_running_loop()
    messages = []
    while True:
        wait = quiet_s if messages or first_wait_s is None else first_wait_s
        try:
            data, _ = await asyncio.wait_for(loop.sock_recvfrom(sock, 65535), wait)
        except TimeoutError:
            return messages
        messages.append(etree.fromstring(data))


def action(message: etree._Element) -> str:
    return message.findtext("s:Header/a:Action", namespaces=NS).rsplit("/", 1)[-1]
