"""Free loopback ports, found by binding port 0 (best effort: another process may take
a port again before it is used). Shared by the emulator, the tests and the benchmarks;
emulator/ imports no other camkeep package, so everything may import this."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK, kind: int = socket.SOCK_STREAM) -> int:
    """A port that is free on `host` for `kind` (TCP by default, SOCK_DGRAM for UDP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def free_port_block(count: int, host: str = LOOPBACK) -> int:
    """First port of `count` consecutive free TCP ports on `host`."""
    for _ in range(200):
        base = free_port(host)
        if base + count > 65535:
            continue
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probes.append(sock)
                sock.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for sock in probes:
                sock.close()
    raise OSError(f"no block of {count} free ports on {host}")
