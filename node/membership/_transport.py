"""Where GossipRuntime's datagrams go: a small seam, and the UDP socket behind it.

The runtime only needs to open an endpoint, send one datagram to an (IP, port), be
told of datagrams received, and close. `UdpNetwork` does that with an asyncio UDP
socket; tests/sim puts an in-memory network with loss, delay and partitions behind the
same seam, so the simulation runs the runtime's real code (as hashicorp/memberlist's
MockNetwork does for its Transport).

    network = UdpNetwork()
    transport = await network.open("127.0.0.1", 7480, receiver)  # receiver.datagram_received
    transport.send(data, ("127.0.0.2", 7480))
    await transport.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol

Address = tuple[str, int]  # (IP literal, port)

MAX_SEND_BUFFER_BYTES = 256 * 1024  # kernel buffer this full: drop rather than queue
RECEIVE_BUFFER_BYTES = 1 << 20
CLOSE_TIMEOUT_S = 2.0


class DatagramReceiver(Protocol):
    """What a transport calls, on the event loop (or the simulation's clock)."""

    def datagram_received(self, data: bytes, source: Address) -> None: ...

    def error_received(self, exc: Exception) -> None: ...


class DatagramTransport(Protocol):
    """One bound endpoint."""

    @property
    def local_address(self) -> Address:
        """Where it is bound (the port the system picked, when asked for 0)."""
        ...

    def send(self, data: bytes, address: Address) -> bool:
        """Queue one datagram; False when it was dropped here (buffer full, closing)."""
        ...

    async def close(self) -> None: ...


class DatagramNetwork(Protocol):
    """Opens endpoints: the real network, or a simulated one."""

    async def open(self, host: str, port: int, receiver: DatagramReceiver) -> DatagramTransport:
        """Bind `host`:`port` (an IP literal; port 0: any free port). OSError when it
        cannot be bound."""
        ...


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: DatagramReceiver) -> None:
        self._receiver = receiver
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # IPv6 sources come as (host, port, flowinfo, scope): keep host and port
        self._receiver.datagram_received(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        self._receiver.error_received(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class UdpTransport:
    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        sockname = transport.get_extra_info("sockname")
        self.local_address: Address = (sockname[0], sockname[1])

    def send(self, data: bytes, address: Address) -> bool:
        transport = self._transport
        if transport.is_closing() or transport.get_write_buffer_size() > MAX_SEND_BUFFER_BYTES:
            return False
        transport.sendto(data, address)
        return True

    async def close(self) -> None:
        self._transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._protocol.closed), CLOSE_TIMEOUT_S)


class UdpNetwork:
    """The real network: one asyncio UDP socket per endpoint."""

    async def open(self, host: str, port: int, receiver: DatagramReceiver) -> UdpTransport:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(receiver), local_addr=(host, port)
        )
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        return UdpTransport(transport, protocol)
