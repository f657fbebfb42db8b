"""Pure parts of emulator.httpserver: request-head parsing, body length, serialisation."""

from __future__ import annotations

import asyncio

import pytest

from emulator.httpserver import (
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    HttpError,
    Response,
    _read_chunked,
    body_length,
    parse_request_head,
    serialize_response,
    wants_keep_alive,
)


def test_parses_request_line_headers_and_query() -> None:
    head = parse_request_head(
        b"POST /onvif/snapshot%20x?profile=main&x= HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Type: application/soap+xml\r\nX-A: 1\r\nx-a: 2"
    )
    assert head.method == "POST"
    assert head.path == "/onvif/snapshot x"
    assert head.query == {"profile": "main", "x": ""}
    assert head.version == "HTTP/1.1"
    assert head.headers["content-type"] == "application/soap+xml"
    assert head.headers["x-a"] == "1, 2"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /\r\nHost: x", 400),
        (b"GET / HTTP/1.1 extra\r\n", 400),
        (b"G\x00T / HTTP/1.1", 400),
        (b"GET nopath HTTP/1.1", 400),
        (b"GET / HTTP/2.0", 505),
        (b"GET / FOO/1.1", 400),
        (b"GET / HTTP/1.1\r\nno colon here", 400),
        (b"GET / HTTP/1.1\r\nbad name: x", 400),
        (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 101, 431),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEADER_BYTES, 431),
    ],
)
def test_malformed_heads_are_refused(raw: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        parse_request_head(raw)
    assert info.value.status == status


def test_body_length_rules() -> None:
    def head(headers: bytes):
        return parse_request_head(b"POST / HTTP/1.1\r\n" + headers)

    assert body_length(head(b"Host: x")) == 0
    assert body_length(head(b"Content-Length: 12")) == 12
    assert body_length(head(b"Transfer-Encoding: chunked")) is None
    for bad, status in [
        (b"Content-Length: -1", 400),
        (b"Content-Length: 1e3", 400),
        ("Content-Length: ²".encode("latin-1"), 400),  # isdigit() yes, int() no
        (b"Content-Length: " + str(MAX_BODY_BYTES + 1).encode(), 413),
        (b"Transfer-Encoding: gzip", 501),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 3", 400),
    ]:
        with pytest.raises(HttpError) as info:
            body_length(head(bad))
        assert info.value.status == status


def test_keep_alive_defaults() -> None:
    assert wants_keep_alive(parse_request_head(b"GET / HTTP/1.1"))
    assert not wants_keep_alive(parse_request_head(b"GET / HTTP/1.1\r\nConnection: close"))
    assert not wants_keep_alive(parse_request_head(b"GET / HTTP/1.0"))
    assert wants_keep_alive(parse_request_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive"))


def test_serialize_response() -> None:
    data = serialize_response(Response(200, b"hello", "text/plain", {"X-Y": "z"}), keep_alive=True)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 5" in head
    assert b"Content-Type: text/plain" in head
    assert b"Connection: keep-alive" in head
    assert b"X-Y: z" in head
    assert body == b"hello"
    head_only = serialize_response(Response(200, b"hello"), keep_alive=False, head_only=True)
    assert head_only.endswith(b"\r\n\r\n") and b"Content-Length: 5" in head_only
    with pytest.raises(ValueError):
        serialize_response(Response(200, headers={"X": "a\r\nInjected: 1"}), keep_alive=False)


async def _chunked(data: bytes) -> bytes:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await _read_chunked(reader)


def test_chunked_body() -> None:
    assert asyncio.run(_chunked(b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX: y\r\n\r\n")) == (
        b"abc0123456789"
    )


@pytest.mark.parametrize("size", [b"-1", b"+1", b"0x1", b"1_0", b" ", b"g", b"123456789"])
def test_chunk_sizes_other_than_hex_digits_are_refused(size: bytes) -> None:
    # int(_, 16) takes a sign, "0x" and underscores: a fuzzer's "-1" reached readexactly(-1)
    with pytest.raises(HttpError) as info:
        asyncio.run(_chunked(size + b"\r\nH\r\n0\r\n\r\n"))
    assert info.value.status == 400
