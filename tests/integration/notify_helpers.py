"""Test doubles that are real servers: a webhook receiver (HTTP on a given address,
checking each signature), a mosquitto broker and an MQTT subscriber.

    receiver = WebhookReceiver("127.0.0.1", secret)   # .start() / .stop() / .received
    with mosquitto("127.0.0.1") as port: ...
    subscriber = MqttSubscriber("127.0.0.1", port, "camkeep/#")   # .messages
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt

from emulator.ports import free_port
from node.notify import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass(frozen=True)
class Delivery:
    event: dict[str, Any]
    event_id: str
    signed: bool


class WebhookReceiver:
    """Accepts POSTs on http://host:port/hook; keeps every delivery (with whether its
    signature checked out). Can be stopped and started again on the same port;
    `delay_s` makes it a slow receiver (each answer waits that long)."""

    def __init__(self, host: str, secret: str, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.secret = secret
        self.delay_s = 0.0
        self.received: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = signature_valid(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                    now=time.time(),
                )
                with receiver._lock:
                    receiver.received.append(
                        Delivery(json.loads(body), self.headers.get(EVENT_ID_HEADER, ""), signed)
                    )
                time.sleep(receiver.delay_s)
                self.send_response(200 if signed else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.allow_reuse_address = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self, event_type: str | None = None) -> list[str]:
        with self._lock:
            return [
                d.event_id
                for d in self.received
                if event_type is None or d.event["type"] == event_type
            ]


@contextlib.contextmanager
def mosquitto(host: str, workdir: Path) -> Iterator[int]:
    """A mosquitto broker on host:<free port> (anonymous, no persistence)."""
    port = free_port(host)
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} {host}\nallow_anonymous true\npersistence false\n")
    log = (workdir / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import socket

                socket.create_connection((host, port), timeout=0.5).close()
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


class MqttSubscriber:
    """Subscribes to a topic filter on its own thread; keeps (topic, payload, retain)."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(host, port, topic),), daemon=True
        )
        self._task: asyncio.Task[None] | None = None
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("MQTT subscriber did not connect")

    async def _run(self, host: str, port: int, topic: str) -> None:
        self._task = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):
            async with aiomqtt.Client(host, port, identifier="camkeep-test-subscriber") as client:
                await client.subscribe(topic, qos=1)
                self._ready.set()
                async for message in client.messages:
                    payload = json.loads(bytes(message.payload))
                    with self._lock:
                        self.messages.append((str(message.topic), payload, message.retain))

    def events(self, event_type: str | None = None) -> list[str]:
        with self._lock:
            return [
                p["id"]
                for t, p, _ in self.messages
                if "/events/" in t and (event_type is None or p["type"] == event_type)
            ]

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {t: p for t, p, _ in self.messages if t.endswith("/state")}

    def close(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(5)
