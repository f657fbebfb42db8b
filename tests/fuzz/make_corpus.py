"""Write the seed corpus of every fuzz harness (tests/fuzz/corpus/<harness>/).

The seeds are real inputs, made by camkeep's own code and the clients it talks to, so
they stay true to it:

- RTSP: a `camkeep emulate` process (H.264 and H.265, with a user and password) and
  the recorder's RtspClient, with both directions of the TCP connection recorded:
  the client's requests, the camera's answers (401 challenge, DESCRIBE with SDP,
  SETUP, PLAY) and the first interleaved RTP, and access units depacketized from it;
- HTTP: what httpx and urllib send, captured by a loopback listener;
- SOAP: ONVIF requests with zeep's WS-Security UsernameToken (digest and text);
- WS-Discovery, mDNS TXT, gossip, tokens, internode headers, segment names and a
  fragmented MP4 (PyAV): made by the functions that make them in camkeep.

    .venv/bin/python tests/fuzz/make_corpus.py            # rewrites every seed folder
    .venv/bin/python tests/fuzz/make_corpus.py --only sdp  # some of them
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harnesses

CORPUS = harnesses.CORPUS
ROOT = harnesses.ROOT
HOST = "127.0.0.1"
MEDIA_BYTES = 24_000  # interleaved RTP kept after PLAY (covers a keyframe at 160x96)


def _write(name: str, seeds: dict[str, bytes]) -> None:
    folder = CORPUS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for label, data in seeds.items():
        (folder / label).write_bytes(data)
    print(f"{name}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


# ------------------------------------------------------------------ RTSP capture


class _RecordingSocket:
    """A real socket that keeps a copy of what goes each way."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.sent = bytearray()
        self.received = bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data
        self._sock.sendall(data)

    def send(self, data: bytes, flags: int = 0) -> int:
        count = self._sock.send(data, flags)
        self.sent += data[:count]
        return count

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = self._sock.recv(size, flags)
        self.received += data
        return data

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


@contextlib.contextmanager
def _emulator(codec: str, cache: Path) -> Iterator[int]:
    from emulator.ports import free_port
    from node.cli._child_process import stop_process

    port = free_port()
    command = [
        sys.executable, "-m", "node.cli", "emulate", "--host", HOST, "--rtsp-port", str(port),
        "--no-onvif", "--no-wsd", "--no-control", "--codec", codec, "--user", "admin",
        "--password", "secret", "--width", "160", "--height", "96", "--sub-width", "160",
        "--sub-height", "96", "--bitrate", "200000", "--gop-seconds", "1",
        "--cache-dir", str(cache),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("camkeep emulate did not start")
        threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        yield port
    finally:
        stop_process(process, 10.0)


def _capture_session(codec: str, port: int) -> tuple[bytes, bytes, int]:
    """(client bytes, camera bytes, offset in camera bytes where the media starts)."""
    from recorder._rtsp_client import RtspClient

    client = RtspClient(f"rtsp://{HOST}:{port}/cam1/main", "admin", "secret", timeout_s=10.0)
    client.connect()
    recorder = _RecordingSocket(client.sock)  # type: ignore[arg-type]
    client.sock = recorder  # type: ignore[assignment]
    tracks = client.describe()
    client.setup(next(t for t in tracks if t.codec == codec), 0)
    client.play()
    media_start = len(recorder.received) - len(client._buffer)
    for frame in client._early_frames:
        media_start -= 4 + len(frame[1])
    deadline = time.monotonic() + 10.0
    while len(recorder.received) < media_start + MEDIA_BYTES and time.monotonic() < deadline:
        recorder.recv(65536)
    client.close()
    return bytes(recorder.sent), bytes(recorder.received), media_start


def _split_rtsp_answers(data: bytes) -> list[bytes]:
    answers, pos = [], 0
    while data.startswith(b"RTSP/", pos):
        end = data.index(b"\r\n\r\n", pos) + 4
        length = 0
        for line in data[pos:end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answers.append(data[pos : end + length])
        pos = end + length
    return answers


def rtsp_seeds(cache: Path) -> None:
    from emulator.rtsp_message import parse_message
    from recorder._rtp import InterleavedVideoReader

    requests: dict[str, bytes] = {}
    responses: dict[str, bytes] = {}
    sdps: dict[str, bytes] = {}
    media: dict[str, bytes] = {}
    units: dict[str, bytes] = {}
    for codec in ("h264", "hevc"):
        with _emulator(codec, cache) as port:
            sent, received, media_start = _capture_session(codec, port)
        requests[f"session_{codec}"] = sent
        buffer = sent
        while buffer:
            message, used = parse_message(buffer)
            requests[f"{codec}_{len(requests):02d}_{message.method.lower()}"] = buffer[:used]
            buffer = buffer[used:]
        responses[f"session_{codec}"] = received[: media_start + 1500]
        for answer in _split_rtsp_answers(received[:media_start]):
            if b"application/sdp" in answer:
                sdps[f"describe_{codec}.sdp"] = answer.partition(b"\r\n\r\n")[2]
        stream = received[media_start:]
        media[f"play_{codec}"] = stream[:MEDIA_BYTES]
        media[f"play_{codec}_short"] = stream[:1500]
        found = InterleavedVideoReader(codec).feed(stream)
        key = next(unit for unit, is_key, _ in found if is_key)
        other = next((unit for unit, is_key, _ in found if not is_key), None)
        units[f"keyframe_{codec}"] = key[:4000]
        if other is not None:
            units[f"frame_{codec}"] = other[:2000]
    requests["udp_setup_basic_auth"] = (
        b"SETUP rtsp://127.0.0.1:8554/cam1/main/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n"
        b"Transport: RTP/AVP;unicast;client_port=5000-5001\r\n"
        b"Authorization: Basic YWRtaW46c2VjcmV0\r\n\r\n"
    )
    requests["rtcp_receiver_report"] = b"$\x01\x00\x08\x81\xc9\x00\x01\x00\x00\x00\x01"
    _write("rtsp_request", requests)
    _write("rtsp_response", responses)
    _write("sdp", sdps)
    _write("rtp_interleaved", media)
    _write("nal", units)


# ------------------------------------------------------------------ HTTP capture


def _capture_http(send: Callable[[str], None]) -> bytes:
    """What a client sends: a loopback listener reads it and answers 204."""
    listener = socket.create_server((HOST, 0))
    url = f"http://{HOST}:{listener.getsockname()[1]}"
    got = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(1.0)
            with contextlib.suppress(TimeoutError, OSError):
                while chunk := conn.recv(65536):
                    got.extend(chunk)
                    if (
                        got.endswith(b"\r\n\r\n")
                        or got.endswith(b"\r\n0\r\n\r\n")
                        or (b"Content-Length" in got and not got.endswith(b"\r\n"))
                    ):
                        conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                        break

    server = threading.Thread(target=serve)
    server.start()
    with contextlib.suppress(Exception):
        send(url)
    server.join(5)
    listener.close()
    return bytes(got)


def http_seeds() -> None:
    import urllib.request

    import httpx

    envelope = _soap_envelopes()["get_device_information_digest"]

    def chunked(url: str) -> None:
        httpx.post(url + "/onvif/device_service", content=iter([envelope[:100], envelope[100:]]))

    seeds = {
        "soap_post_httpx": _capture_http(
            lambda url: httpx.post(
                url + "/onvif/device_service",
                content=envelope,
                headers={"Content-Type": "application/soap+xml; charset=utf-8"},
            )
        ),
        "soap_post_chunked_httpx": _capture_http(chunked),
        "control_get_urllib": _capture_http(
            lambda url: urllib.request.urlopen(url + "/cameras?x=1", timeout=2)
        ),
        "control_fault_post_urllib": _capture_http(
            lambda url: urllib.request.urlopen(
                urllib.request.Request(url + "/cameras/1/fault", data=b'{"mode": "drop"}'),
                timeout=2,
            )
        ),
    }
    seeds["two_pipelined"] = seeds["control_get_urllib"] + seeds["soap_post_httpx"]
    _write("http_request", seeds)


# ------------------------------------------------------------------ SOAP, WS-Discovery


def _soap_envelopes() -> dict[str, bytes]:
    import fuzz_soap
    from lxml import etree
    from zeep.wsse.username import UsernameToken

    from emulator.soap import SOAP11_NS, SOAP12_NS, TDS_NS, TRT_NS

    def envelope(ns: str, operation: str, service: str, children: str = "") -> etree._Element:
        return etree.fromstring(
            f'<s:Envelope xmlns:s="{ns}"><s:Header/><s:Body>'
            f'<o:{operation} xmlns:o="{service}">{children}</o:{operation}>'
            "</s:Body></s:Envelope>"
        )

    created = fuzz_soap.NOW - timedelta(seconds=2)
    out = {}
    for label, ns, operation, service, children, digest in (
        ("get_device_information_digest", SOAP12_NS, "GetDeviceInformation", TDS_NS, "", True),
        ("get_profiles_text", SOAP12_NS, "GetProfiles", TRT_NS, "", False),
        (
            "get_stream_uri_digest",
            SOAP12_NS,
            "GetStreamUri",
            TRT_NS,
            '<o:StreamSetup><t:Stream xmlns:t="http://www.onvif.org/ver10/schema">RTP-Unicast'
            "</t:Stream></o:StreamSetup><o:ProfileToken>main</o:ProfileToken>",
            True,
        ),
        ("soap11_get_capabilities_text", SOAP11_NS, "GetCapabilities", TDS_NS, "", False),
    ):
        root = envelope(ns, operation, service, children)
        token = UsernameToken(
            fuzz_soap.USERNAME,
            fuzz_soap.PASSWORD,
            use_digest=digest,
            nonce=hashlib.sha1(label.encode()).hexdigest()[:16] if digest else None,
            created=created,
        )
        root, _ = token.apply(root, {})
        out[label] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    out["get_system_date_and_time"] = etree.tostring(
        envelope(SOAP12_NS, "GetSystemDateAndTime", TDS_NS), encoding="UTF-8"
    )
    return out


def soap_seeds() -> None:
    _write("soap", _soap_envelopes())


def wsd_seeds() -> None:
    import fuzz_wsd_matches
    import fuzz_wsd_probe

    from discovery.wsdiscovery_client import build_probe as client_probe
    from emulator.wsdiscovery_messages import (
        AppSequence,
        build_bye,
        build_hello,
        build_probe,
        build_probe_matches,
        build_resolve_matches,
        endpoint_address,
    )

    camera = fuzz_wsd_probe.CAMERA
    seq = AppSequence(1, 1)
    probe_id = fuzz_wsd_matches.MESSAGE_ID
    resolve = build_probe("urn:uuid:resolve-1").replace(
        b"<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>",
        f"<d:Resolve><a:EndpointReference><a:Address>{endpoint_address(camera)}"
        "</a:Address></a:EndpointReference></d:Resolve>".encode(),
    )
    _write(
        "wsd_probe",
        {
            "probe_client": client_probe(probe_id),
            "probe_types": build_probe("urn:uuid:p-1"),
            "probe_scopes_rfc3986": build_probe(
                "urn:uuid:p-2", "dn:NetworkVideoTransmitter", "onvif://www.onvif.org/location/lab"
            ),
            "probe_no_types": build_probe("urn:uuid:p-3", None),
            "resolve": resolve,
            "hello": build_hello(camera, seq, "urn:uuid:h-1"),
            "bye": build_bye(camera, seq, "urn:uuid:b-1"),
        },
    )
    _write(
        "wsd_matches",
        {
            "probe_matches": build_probe_matches(camera, probe_id, seq, "urn:uuid:m-1"),
            "resolve_matches": build_resolve_matches(camera, probe_id, seq, "urn:uuid:m-2"),
        },
    )


# ------------------------------------------------------------------ node wire formats


def mdns_seeds() -> None:
    import fuzz_mdns_txt
    from zeroconf import ServiceInfo

    from discovery.mdns_txt import SERVICE_TYPE, NodeInfo, encode_txt

    def txt(info: NodeInfo) -> bytes:
        return ServiceInfo(
            SERVICE_TYPE, fuzz_mdns_txt.SERVICE_NAME, properties=encode_txt(info)
        ).text

    _write(
        "mdns_txt",
        {
            "in_system": txt(NodeInfo(fuzz_mdns_txt.NODE_ID, "Server 1", 7480, "0.1.0", "sys-1")),
            "undefined": txt(NodeInfo(fuzz_mdns_txt.NODE_ID, "Lager Süd", 8080, "0.1.0+dev")),
        },
    )


def gossip_seeds() -> None:
    import fuzz_gossip

    from node.membership import GossipCodec, LoadReport
    from node.membership._wire import Entry, LoadEntry, entry_to_json, load_to_json

    sender = "node-sender"
    codec = GossipCodec(fuzz_gossip.SYSTEM_ID, sender, fuzz_gossip.SECRET, boot=7)
    me = entry_to_json(Entry(sender, "127.0.0.1:7946", 3, 2, "alive"))
    other = entry_to_json(Entry("node-3", "127.0.0.1:7947", 1, 5, "suspect", origin=sender))
    load = load_to_json(
        LoadEntry(sender, 3, 9, LoadReport(12.5, 40.0, 10**11, 5e5, 4, {"cams": 4, "ok": True}))
    )
    now = fuzz_gossip.NOW_MS
    messages = {
        "ping": ("ping", {"me": me, "t": "node-receiver", "k": 17, "u": [other], "l": [load]}),
        "ping_req": ("ping_req", {"me": me, "t": "node-3", "k": 18, "ta": "127.0.0.1:7947"}),
        "ack": ("ack", {"me": me, "k": 17, "l": [load]}),
        "gossip": ("gossip", {"me": me, "u": [other]}),
        "sync": ("sync", {"me": me, "r": True, "m": [me, other]}),
    }
    _write(
        "gossip",
        {
            label: codec.encode(kind, payload, incarnation=2, now_ms=now + i)
            for i, (label, (kind, payload)) in enumerate(messages.items())
        },
    )


def token_seeds() -> None:
    import fuzz_detach_token
    import fuzz_join_token
    import fuzz_session_token

    from node.security import mint_confirm_token, mint_join_token

    join, _ = mint_join_token(
        fuzz_join_token.SECRET, fuzz_join_token.SYSTEM_ID, ttl_s=3600, now=fuzz_join_token.NOW
    )
    _write("join_token", {"minted": join.encode()})
    detach = {
        f"keep_{keep}": mint_confirm_token(
            fuzz_detach_token.SECRET, fuzz_detach_token.SERVER_ID, keep, now=1_714_564_800.0
        )[0].encode()
        for keep in (True, False)
    }
    _write("detach_token", detach)
    owner, _ = fuzz_session_token.SIGNER.issue("owner", 3600)
    viewer, _ = fuzz_session_token.SIGNER.issue("Zoë viewer", 60)
    _write("session_token", {"owner": owner.encode(), "viewer": viewer.encode("latin-1")})


def internode_seeds() -> None:
    import fuzz_internode_auth

    from node.security._internode import sign_request

    def request(method: str, target: str, body: bytes, nonce: str) -> bytes:
        headers = sign_request(
            fuzz_internode_auth.SECRET,
            fuzz_internode_auth.SYSTEM_ID,
            "node-2",
            method,
            target,
            body,
            now_ms=fuzz_internode_auth.NOW_MS - 1000,
            nonce=nonce,
        )
        lines = [f"{method} {target}", *(f"{k}: {v}" for k, v in headers.items())]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    _write(
        "internode_auth",
        {
            "post_records": request(
                "POST", "/internal/records", b'{"records":[]}', "0123456789abcdef" * 2
            ),
            "get_with_query": request(
                "GET", "/internal/recordings?camera=cam1&start=0", b"", "fedcba9876543210" * 2
            ),
        },
    )


# ------------------------------------------------------------------ recordings


def segment_name_seeds() -> None:
    from recorder._naming import segment_relpath

    start = datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)
    _write(
        "segment_name",
        {
            "plain": str(segment_relpath("cam1", start)).encode(),
            "collision": str(segment_relpath("front-door_2", start, 3)).encode(),
            "dotted": str(
                segment_relpath("a.b", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC))
            ).encode(),
        },
    )


def mp4_seeds() -> None:
    import av

    out = io.BytesIO()
    with av.open(
        out, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    ) as container:
        stream = container.add_stream("h264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"g": "2", "preset": "ultrafast"}
        for i in range(6):
            frame = av.VideoFrame(32, 32, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 40) % 256]) * plane.buffer_size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = out.getvalue()
    _write("mp4_boxes", {"fragmented": data, "torn": data[: len(data) - 37]})


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="groups: rtsp http soap wsd mdns gossip ...")
    args = parser.parse_args(argv)
    groups: dict[str, Callable[[], None]] = {
        "http": http_seeds,
        "soap": soap_seeds,
        "wsd": wsd_seeds,
        "mdns": mdns_seeds,
        "gossip": gossip_seeds,
        "tokens": token_seeds,
        "internode": internode_seeds,
        "segment": segment_name_seeds,
        "mp4": mp4_seeds,
    }
    wanted = set(args.only or [*groups, "rtsp"])
    for name, make in groups.items():
        if name in wanted:
            make()
    if "rtsp" in wanted:
        with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as cache:
            rtsp_seeds(Path(cache))
    os.sync()


if __name__ == "__main__":
    main(sys.argv[1:])
