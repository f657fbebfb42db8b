"""HTTP/1.1 requests as the emulator's ONVIF and control server reads them.

`data` is what a client sends on a connection: `emulator.httpserver` reads the head
(`_read_head`), parses it (`parse_request_head`), decides the body framing
(`body_length`, Content-Length or chunked) and reads the body (`_read_body`), as
`_serve_connection` does, from a real asyncio StreamReader. Documented error:
`HttpError` (the status answered before the connection is closed).
"""

from __future__ import annotations

import asyncio

from emulator.httpserver import (
    HEADER_TIMEOUT_S,
    MAX_HEADER_BYTES,
    HttpError,
    _read_body,
    _read_head,
    parse_request_head,
    wants_keep_alive,
)

_LOOP = asyncio.new_event_loop()
MAX_REQUESTS = 16


async def _serve(data: bytes) -> None:
    reader = asyncio.StreamReader(limit=MAX_HEADER_BYTES + 4, loop=_LOOP)
    reader.feed_data(data)
    reader.feed_eof()
    for _ in range(MAX_REQUESTS):
        try:
            raw = await _read_head(reader, HEADER_TIMEOUT_S)
            if raw is None:
                return
            head = parse_request_head(raw)
            body = await _read_body(reader, head)
        except HttpError as error:
            assert error.status in (400, 408, 413, 431, 501, 505), error.status
            return
        assert head.path.startswith("/") and isinstance(body, bytes)
        assert isinstance(wants_keep_alive(head), bool)


def fuzz_one(data: bytes) -> None:
    _LOOP.run_until_complete(_serve(data))
