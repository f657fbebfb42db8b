"""emulator.httpserver over real loopback sockets: keep-alive, limits, errors, accept hook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from emulator import httpserver
from emulator.httpserver import Request, Response, start_http_server


async def _echo(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("secret internal detail")
    text = f"{request.method} {request.path} {sorted(request.query.items())} {len(request.body)}"
    return Response(200, text.encode())


@pytest.fixture
async def server() -> AsyncIterator[tuple[asyncio.Server, int, list[bool]]]:
    accepting = [True]
    srv = await start_http_server("127.0.0.1", 0, _echo, accept=lambda: accepting[0])
    port = srv.sockets[0].getsockname()[1]
    try:
        yield srv, port, accepting
    finally:
        srv.close()
        await srv.wait_closed()


async def _raw(port: int, data: bytes, read_timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(read_timeout):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_keep_alive_serves_several_requests_on_one_connection(server) -> None:
    _, port, _ = server
    async with httpx.AsyncClient() as client:
        for i in range(3):
            r = await client.post(f"http://127.0.0.1:{port}/p?i={i}", content=b"x" * i)
            assert r.status_code == 200
            assert r.text == f"POST /p [('i', '{i}')] {i}"
            assert r.headers["connection"] == "keep-alive"


async def test_chunked_body(server) -> None:
    _, port, _ = server
    data = await _raw(
        port,
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    )
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"POST /c [] 5")


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"garbage\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", b"413"),
        (b"\x00\xff\xfe binary \r\n\r\n", b"400"),
    ],
)
async def test_bad_requests_get_an_error_and_close(server, payload: bytes, status: bytes) -> None:
    _, port, _ = server
    data = await _raw(port, payload)
    assert data.split(b" ")[1] == status
    assert b"Connection: close" in data
    # The server still answers others.
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/ok")).status_code == 200


async def test_handler_exception_is_500_without_details(server, caplog) -> None:
    _, port, _ = server
    with caplog.at_level(logging.ERROR, logger="emulator.httpserver"):
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/boom")
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("handler failed" in rec.message for rec in caplog.records)


async def test_slow_header_times_out(server, monkeypatch) -> None:
    _, port, _ = server
    monkeypatch.setattr(httpserver, "HEADER_TIMEOUT_S", 0.3)
    data = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
    assert data.startswith(b"HTTP/1.1 408")


async def test_accept_false_closes_new_connections(server) -> None:
    _, port, accepting = server
    accepting[0] = False
    data = b""
    with contextlib.suppress(ConnectionError):
        data = await _raw(port, b"GET / HTTP/1.1\r\n\r\n")
    assert data == b""
    accepting[0] = True
    assert (await _raw(port, b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")).startswith(
        b"HTTP/1.1 200"
    )


async def test_a_stuck_client_does_not_block_others(server) -> None:
    _, port, _ = server
    _, stuck_writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        stuck_writer.write(b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial")
        await stuck_writer.drain()
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                assert (await client.get(f"http://127.0.0.1:{port}/ok")).status_code == 200
    finally:
        stuck_writer.close()
        with contextlib.suppress(Exception):
            await stuck_writer.wait_closed()
