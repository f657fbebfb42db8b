"""WS-Discovery responder for the emulated cameras, bound to the interface of --host only.

Two UDP sockets, both with SO_REUSEADDR + SO_REUSEPORT so several emulators and a
client can share the port:
- a multicast socket bound to 239.255.255.250:port that joins the group on the
  host's interface only (and drops datagrams that arrived on any other interface);
- a unicast socket bound to host:port: receives unicast Probes, sends every reply
  (unicast to the sender) and the Hello/Bye announcements (multicast out of the
  host's interface, looped back so local listeners hear them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
import struct
import time
from collections.abc import Sequence

import psutil

from emulator.camera import CameraSpec
from emulator.wsdiscovery_messages import (
    MAX_DATAGRAM_BYTES,
    MULTICAST_GROUP,
    AppSequence,
    DiscoveryMessageError,
    Probe,
    Resolve,
    build_bye,
    build_hello,
    build_probe_matches,
    build_resolve_matches,
    camera_matches,
    endpoint_address,
    parse_message,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 3702
# Replies and announcements go out in small batches so a burst for 128 cameras does not
# overflow a client's receive buffer (~200 KiB on Linux); 128 cameras take ~80 ms, well
# within WS-Discovery's APP_MAX_DELAY of 500 ms.
SEND_BATCH = 16  # datagrams
SEND_BATCH_INTERVAL_S = 0.01
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


def interface_index_for(host: str) -> int:
    """Index of the network interface that holds `host` (127.0.0.0/8 -> the loopback)."""
    address = ipaddress.ip_address(host)
    if address.version != 4:
        raise ValueError("WS-Discovery responder supports IPv4 hosts only")
    for name, addrs in psutil.net_if_addrs().items():
        if any(a.family == socket.AF_INET and a.address == host for a in addrs):
            return socket.if_nametoindex(name)
    if address.is_loopback:
        for name, addrs in psutil.net_if_addrs().items():
            if any(a.family == socket.AF_INET and a.address.startswith("127.") for a in addrs):
                return socket.if_nametoindex(name)
    raise ValueError(f"no network interface has the address {host}")


def _mreqn(group: str, ifindex: int) -> bytes:
    # struct ip_mreqn: multiaddr, local address (any), interface index.
    return struct.pack("=4s4si", socket.inet_aton(group), socket.inet_aton("0.0.0.0"), ifindex)


def _reusable_udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setblocking(False)
    return sock


class WSDiscoveryResponder:
    """Answers Probe/Resolve for `cameras`; Hello on start(), Bye on stop()."""

    def __init__(self, cameras: Sequence[CameraSpec], host: str, port: int = DEFAULT_PORT) -> None:
        self.cameras = list(cameras)
        self.host = host
        self.port = port
        self._instance_id = int(time.time())
        self._message_numbers = itertools.count(1)
        self._multicast: socket.socket | None = None
        self._unicast: socket.socket | None = None
        self._ifindex = 0
        self._logged_bad_input = False
        self._pending: set[asyncio.TimerHandle] = set()
        self.probes_answered = 0

    def _seq(self) -> AppSequence:
        return AppSequence(self._instance_id, next(self._message_numbers))

    async def start(self) -> None:
        self._ifindex = interface_index_for(self.host)
        loop = asyncio.get_running_loop()
        unicast = _reusable_udp_socket()
        multicast = _reusable_udp_socket()
        try:
            unicast.bind((self.host, self.port))
            unicast.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _mreqn(MULTICAST_GROUP, self._ifindex)
            )
            unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            multicast.bind((MULTICAST_GROUP, self.port))
            multicast.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
            multicast.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
            multicast.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, _mreqn(MULTICAST_GROUP, self._ifindex)
            )
        except OSError:
            unicast.close()
            multicast.close()
            raise
        self._unicast, self._multicast = unicast, multicast
        loop.add_reader(unicast.fileno(), self._on_readable, unicast, False)
        loop.add_reader(multicast.fileno(), self._on_readable, multicast, True)
        await self._announce([build_hello(camera, self._seq()) for camera in self.cameras])
        log.info(
            "WS-Discovery on %s:%d (ifindex %d) for %d cameras",
            self.host,
            self.port,
            self._ifindex,
            len(self.cameras),
        )

    async def stop(self) -> None:
        if self._unicast is None:
            return
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        await self._announce([build_bye(camera, self._seq()) for camera in self.cameras])
        loop = asyncio.get_running_loop()
        for sock in (self._unicast, self._multicast):
            if sock is not None:
                with contextlib.suppress(Exception):
                    loop.remove_reader(sock.fileno())
                sock.close()
        self._unicast = self._multicast = None

    async def _announce(self, datagrams: list[bytes]) -> None:
        for start in range(0, len(datagrams), SEND_BATCH):
            if start:
                await asyncio.sleep(SEND_BATCH_INTERVAL_S)
            for data in datagrams[start : start + SEND_BATCH]:
                self._send(data, (MULTICAST_GROUP, self.port))

    def _send_paced(self, datagrams: list[bytes], address: tuple[str, int]) -> None:
        """First batch now, the others SEND_BATCH_INTERVAL_S apart (cancelled by stop())."""
        for batch_number, start in enumerate(range(0, len(datagrams), SEND_BATCH)):
            batch = datagrams[start : start + SEND_BATCH]
            if batch_number == 0:
                self._send_batch(batch, address)
            else:
                self._send_batch_later(batch_number * SEND_BATCH_INTERVAL_S, batch, address)

    def _send_batch_later(self, delay_s: float, batch: list[bytes], address: tuple) -> None:
        handle: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._pending.discard(handle[0])
            self._send_batch(batch, address)

        handle.append(asyncio.get_running_loop().call_later(delay_s, fire))
        self._pending.add(handle[0])

    def _send_batch(self, batch: list[bytes], address: tuple[str, int]) -> None:
        for data in batch:
            self._send(data, address)

    def _send(self, data: bytes, address: tuple[str, int]) -> None:
        if self._unicast is None:
            return
        try:
            self._unicast.sendto(data, address)
        except OSError as exc:  # e.g. a full send buffer: a lost datagram, as UDP allows
            log.debug("WS-Discovery send to %s failed: %s", address, exc)

    def _on_readable(self, sock: socket.socket, is_multicast: bool) -> None:
        for _ in range(64):  # drain a burst, but give the loop back eventually
            try:
                data, ancillary, _flags, sender = sock.recvmsg(MAX_DATAGRAM_BYTES + 1, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("WS-Discovery receive failed: %s", exc)
                return
            if is_multicast and self._arrived_elsewhere(ancillary):
                continue
            self._handle_datagram(data, sender)

    def _arrived_elsewhere(self, ancillary: list) -> bool:
        for level, kind, payload in ancillary:
            if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(payload) >= 4:
                return struct.unpack("=i", payload[:4])[0] != self._ifindex
        return False

    def _bad_input(self, sender: tuple, reason: str) -> None:
        if not self._logged_bad_input:
            self._logged_bad_input = True
            log.warning(
                "ignoring bad WS-Discovery datagram from %s: %s (logged once)", sender, reason
            )

    def _handle_datagram(self, data: bytes, sender: tuple[str, int]) -> None:
        if len(data) > MAX_DATAGRAM_BYTES:
            self._bad_input(sender, "oversized")
            return
        try:
            message = parse_message(data)
        except DiscoveryMessageError as exc:
            self._bad_input(sender, str(exc))
            return
        if isinstance(message, Probe):
            matched = [c for c in self.cameras if camera_matches(c, message)]
            replies = [build_probe_matches(c, message.message_id, self._seq()) for c in matched]
            self._send_paced(replies, sender)
            self.probes_answered += 1
        elif isinstance(message, Resolve):
            for camera in self.cameras:
                if endpoint_address(camera) == message.address:
                    reply = build_resolve_matches(camera, message.message_id, self._seq())
                    self._send(reply, sender)
