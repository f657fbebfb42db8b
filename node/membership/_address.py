"""Gossip addresses: "IP:port" (IPv6 as "[addr]:port"), as membership entries carry
them; peers may also be given as "host:port" or the node's "http://host:port" URL."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from node.digits import is_digits


def parse_address(address: str) -> tuple[str, int]:
    """("host", port) from "host:port" or "[v6]:port"; ValueError when malformed."""
    if not isinstance(address, str) or len(address) > 300:
        raise ValueError("address must be a 'host:port' string")
    if address.startswith("["):
        host, sep, port_text = address[1:].partition("]:")
    else:
        host, sep, port_text = address.rpartition(":")
    if not sep or not host or not is_digits(port_text):
        raise ValueError(f"{address!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{address!r}: port out of range")
    return host, port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer_address(peer: str) -> str:
    """A gossip address from --peer forms: "http://host:port[/...]" (gossip uses the
    API's port number, over UDP) or "host:port"."""
    if "://" in peer:
        parts = urlsplit(peer)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{peer!r}: need http://HOST:PORT")
        return format_address(parts.hostname, parts.port)
    host, port = parse_address(peer)
    return format_address(host, port)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
