"""A small blocking RTSP/1.0 client for the fast ingest: DESCRIBE (Digest/Basic auth),
SETUP over TCP (interleaved), PLAY, keep-alive, TEARDOWN; then reads the interleaved
RTP in large chunks. Set-up runs on the camera's ingest thread (a socket timeout turns
a stalled camera into an error after `timeout_s`); streaming is read either by that
thread (`chunks`) or, non-blocking, by the shared poller (`read_available`)."""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from ._rtp import MediaTrack, RtspProtocolError, RtspStatusError, authorization, parse_sdp

USER_AGENT = "camkeep"
RECV_BYTES = 256 * 1024
READ_INTERVAL_S = 0.4  # s of extra latency at most; the muxer cuts fragments at 0.6 s
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024


class RtspStalled(Exception):
    """No data from the camera for the timeout."""


class RtspClient:
    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        timeout_s: float,
        stop: threading.Event | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp" or not parts.hostname:
            raise RtspProtocolError("fast ingest needs an rtsp:// URL")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 554
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        # Set: chunks() takes what already arrived (without waiting) and ends.
        self.stop = stop or threading.Event()
        self.sock: socket.socket | None = None
        self._buffer = b""
        self._cseq = 0
        self._session: str | None = None
        self._session_timeout_s = 60.0
        self._keepalive_at = float("inf")
        self._auth_challenges: list[str] | None = None
        self._nc = 0
        self._early_frames: list[tuple[int, bytes]] = []
        self.content_base = url
        # Sent with every request (a replay client's `Require: onvif-replay`).
        self.extra_headers = dict(extra_headers or {})

    # --- requests ---------------------------------------------------------------------
    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def close(self) -> None:
        if self.sock is None:
            return
        with contextlib.suppress(OSError):
            self.sock.settimeout(self.timeout_s)  # back from non-blocking, for TEARDOWN
        if self._session is not None:
            with contextlib.suppress(OSError):
                self._send("TEARDOWN", self.url, {})
        with contextlib.suppress(OSError):
            self.sock.close()
        self.sock = None

    def _send(self, method: str, uri: str, headers: dict[str, str]) -> None:
        assert self.sock is not None
        self._cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {USER_AGENT}"]
        if self._session is not None:
            lines.append(f"Session: {self._session}")
        if self._auth_challenges and self.username is not None:
            self._nc += 1
            value = authorization(
                self._auth_challenges, method, uri, self.username, self.password or "", self._nc
            )
            lines.append(f"Authorization: {value}")
        lines += [f"{k}: {v}" for k, v in {**self.extra_headers, **headers}.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def request(
        self, method: str, uri: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, list[str]], bytes]:
        headers = headers or {}
        self._send(method, uri, headers)
        status, answer, body = self._read_response()
        if status == 401 and self.username is not None and self._auth_challenges is None:
            self._auth_challenges = answer.get("www-authenticate", [])
            if not self._auth_challenges:
                raise RtspProtocolError("401 without a challenge")
            self._send(method, uri, headers)
            status, answer, body = self._read_response()
        if status != 200:
            reason = "unauthorized (check the camera's user and password)" if status == 401 else ""
            raise RtspStatusError(f"{method} answered {status} {reason}".rstrip(), status)
        return status, answer, body

    def describe(self) -> list[MediaTrack]:
        _, headers, body = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = (headers.get("content-base") or headers.get("content-location") or [self.url])[0]
        self.content_base = base
        return parse_sdp(body.decode("utf-8", "replace"), base)

    def setup(self, track: MediaTrack, channel: int) -> None:
        transport = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"
        _, headers, _ = self.request("SETUP", track.control, {"Transport": transport})
        session = (headers.get("session") or [""])[0]
        if not session:
            raise RtspProtocolError("SETUP answer has no Session")
        self._session, _, params = session.partition(";")
        self._session = self._session.strip()
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "timeout":
                with contextlib.suppress(ValueError):
                    # a camera's "timeout=inf" (or nan) would stop the keep-alives
                    seconds = float(value)
                    if math.isfinite(seconds):
                        self._session_timeout_s = min(max(5.0, seconds), 3600.0)

    def play(self, headers: dict[str, str] | None = None) -> dict[str, list[str]]:
        """PLAY (live by default: `Range: npt=0.000-`); the answer's headers."""
        _, answer, _ = self.request("PLAY", self.content_base, headers or {"Range": "npt=0.000-"})
        self._keepalive_at = time.monotonic() + self._session_timeout_s / 2
        return answer

    def keepalive_if_due(self, now: float) -> None:
        """Keep the session alive (GET_PARAMETER) every half session timeout; never
        blocks (a camera that does not take it is noticed by the stall timeout)."""
        if now < self._keepalive_at or self.sock is None:
            return
        self._keepalive_at = now + self._session_timeout_s / 2
        self._cseq += 1
        request = (
            f"GET_PARAMETER {self.content_base} RTSP/1.0\r\nCSeq: {self._cseq}\r\n"
            f"User-Agent: {USER_AGENT}\r\nSession: {self._session}\r\n\r\n"
        )
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self.sock.send(request.encode(), socket.MSG_DONTWAIT)

    def set_nonblocking(self) -> None:
        """For the shared poller: a socket with a timeout would first wait for data
        (CPython polls before each call), even with MSG_DONTWAIT."""
        assert self.sock is not None
        self.sock.setblocking(False)

    def read_available(self) -> tuple[bytes, bool]:
        """Everything the socket holds now, without waiting (after `set_nonblocking`),
        and whether the camera closed the connection."""
        assert self.sock is not None
        parts = []
        while True:
            try:
                chunk = self.sock.recv(RECV_BYTES, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return b"".join(parts), False
            if not chunk:
                return b"".join(parts), True
            parts.append(chunk)
            if len(chunk) < RECV_BYTES:  # took all there was: spare a call
                return b"".join(parts), False

    # --- reading ---------------------------------------------------------------------
    def _recv(self) -> bytes:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(RECV_BYTES)
        except TimeoutError:
            raise RtspStalled(f"stalled: no data from camera for {self.timeout_s:g} s") from None
        if not chunk:
            raise ConnectionError("camera closed the connection")
        return chunk

    def _recv_ready(self) -> bytes:
        """What else is already there, without waiting."""
        assert self.sock is not None
        try:
            return self.sock.recv(RECV_BYTES, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return b""

    def _read_response(self) -> tuple[int, dict[str, list[str]], bytes]:
        while True:
            # Interleaved media can arrive before the answer to PLAY: keep it for later.
            while self._buffer[:1] == b"$":
                if len(self._buffer) < 4:
                    self._buffer += self._recv()
                    continue
                size = int.from_bytes(self._buffer[2:4], "big")
                while len(self._buffer) < 4 + size:
                    self._buffer += self._recv()
                self._early_frames.append((self._buffer[1], self._buffer[4 : 4 + size]))
                self._buffer = self._buffer[4 + size :]
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0 and self._buffer[:1] != b"$":
                break
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise RtspProtocolError("RTSP answer header too large")
            self._buffer += self._recv()
        head = self._buffer[:end].decode("utf-8", "replace").split("\r\n")
        self._buffer = self._buffer[end + 4 :]
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("RTSP/") or not _is_number(parts[1]):
            raise RtspProtocolError(f"not an RTSP answer: {head[0][:80]!r}")
        headers: dict[str, list[str]] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length_text = (headers.get("content-length") or ["0"])[0] or "0"
        if not _is_number(length_text):
            raise RtspProtocolError(f"bad Content-Length {length_text[:20]!r}")
        length = int(length_text)
        if not 0 <= length <= MAX_BODY_BYTES:
            raise RtspProtocolError("RTSP answer body too large")
        while len(self._buffer) < length:
            self._buffer += self._recv()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return int(parts[1]), headers, body

    def received(self) -> Iterator[bytes]:
        """The interleaved bytes after PLAY as fast as they come, blocking on the
        socket (up to the timeout: RtspStalled); ends when the camera closes. For a
        download, where the caller paces the reading."""
        yield from self._take_early()
        while True:
            try:
                yield self._recv()
            except ConnectionError:
                return

    def _take_early(self) -> Iterator[bytes]:
        early = b"".join(
            b"$" + bytes((channel,)) + len(payload).to_bytes(2, "big") + payload
            for channel, payload in self._early_frames
        )
        self._early_frames = []
        pending = early + self._buffer
        self._buffer = b""
        if pending:
            yield pending

    def chunks(self) -> Iterator[bytes]:
        """The interleaved bytes after PLAY, as read (frames may be split across chunks;
        InterleavedVideoReader reassembles them). Sends the keep-alives.
        Once `stop` is set, what the socket already holds is read and yielded, then the
        iteration ends: a stop keeps everything received up to it."""
        yield from self._take_early()
        while True:
            # Wake up a few times a second and take what gathered in the socket buffer,
            # rather than once per packet: thread wake-ups are most of an ingest's CPU.
            # recv() still waits (up to the stall timeout) when nothing came.
            draining = self.stop.wait(READ_INTERVAL_S)
            chunk = self._recv_ready() if draining else self._recv()
            while chunk and len(chunk) % RECV_BYTES == 0:  # filled the buffer: maybe more
                more = self._recv_ready()
                if not more:
                    break
                chunk += more
            if chunk:
                yield chunk
            if draining:
                return
            self.keepalive_if_due(time.monotonic())


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes digits int() refuses, such as '²'."""
    return text.isascii() and text.isdigit() and len(text) < 12
