"""RTSP replay of the emulated cameras' edge storage over real loopback sockets: the
ONVIF replay header extension on every packet, clock ranges, Rate-Control, RTCP BYE at
the end, clean errors for bad requests, FFmpeg as an independent reader, and the "cut"
fault (clients dropped, the camera keeps recording, the cut is replayable)."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from emulator.replay_range import format_clock
from emulator.rtp import NTP_EPOCH_OFFSET_S

pytestmark = pytest.mark.timeout(180)

TOKEN = "EdgeRecording_main"
REPLAY = {"Require": "onvif-replay"}
TRANSPORT = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
FPS = 25


@dataclass
class ReplayedFrame:
    wall: float  # from the header extension
    flags: int
    cseq: int
    keyframe_nal: bool  # an IDR slice or SPS inside


def replay_url(camera) -> str:
    return f"rtsp://{camera.host}:{camera.rtsp_port}/cam1/replay/{TOKEN}"


def setup_replay(client, camera, extra: dict[str, str] | None = None) -> str:
    url = replay_url(camera)
    answer = client.request("DESCRIBE", url, {**REPLAY, **(extra or {})})
    assert answer.status == 200, answer
    answer = client.request("SETUP", f"{url}/trackID=0", {**REPLAY, **TRANSPORT})
    assert answer.status == 200, answer
    return (answer.header("session") or "").split(";")[0]


def read_until_bye(client, limit_s: float = 60.0) -> tuple[list[bytes], bool]:
    """RTP packets of channel 0 until an RTCP BYE arrives on channel 1."""
    packets: list[bytes] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for channel, data in client.read_media(0.3):
            if channel == 0:
                packets.append(data)
            elif channel == 1 and _has_bye(data):
                return packets, True
    return packets, False


def _has_bye(data: bytes) -> bool:
    position = 0
    while position + 4 <= len(data):
        if data[position + 1] == 203:
            return True
        position += 4 * (int.from_bytes(data[position + 2 : position + 4], "big") + 1)
    return False


def frames_of(packets: list[bytes]) -> list[ReplayedFrame]:
    """One entry per access unit (marker bit), checking the extension on every packet."""
    frames, keyframe = [], False
    for packet in packets:
        assert packet[0] & 0x10, "every replay packet carries the header extension"
        ident, words = struct.unpack("!HH", packet[12:16])
        assert (ident, words) == (0xABAC, 3)
        ntp, flags, cseq = struct.unpack("!QBB", packet[16:26])
        assert flags & 0x1F == 0  # must-be-zero bits
        payload = packet[28:]
        nal_type = payload[0] & 0x1F
        if nal_type == 28:  # FU-A: the type of the fragmented NAL
            nal_type = payload[1] & 0x1F
        keyframe = keyframe or nal_type in (5, 7)
        if packet[1] & 0x80:
            wall = (ntp >> 32) - NTP_EPOCH_OFFSET_S + (ntp & 0xFFFFFFFF) / 2**32
            frames.append(ReplayedFrame(wall, flags, cseq, keyframe))
            keyframe = False
    return frames


def ring_range(client, camera) -> tuple[float, float]:
    answer = client.request("DESCRIBE", replay_url(camera), REPLAY)
    line = next(x for x in answer.body.decode().splitlines() if x.startswith("a=range:clock="))
    start, end = line.removeprefix("a=range:clock=").split("-")
    return _clock(start), _clock(end)


def _clock(text: str) -> float:
    return datetime.strptime(text, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()


@pytest.fixture
def camera(emulator_factory):
    running = emulator_factory(extra_args=("--edge-storage-s", "60"))
    time.sleep(6)  # several GOPs (1 s each) recorded
    return running


def test_replay_of_an_interval_as_fast_as_the_client_reads(camera, raw_rtsp) -> None:
    client = raw_rtsp(camera.host, camera.rtsp_port)
    earliest, latest = ring_range(client, camera)
    assert latest - earliest > 4
    start, end = earliest + 1.3, earliest + 3.3
    session = setup_replay(client, camera)
    clock = f"clock={format_clock(start)}-{format_clock(end)}"
    answer = client.request(
        "PLAY",
        replay_url(camera),
        {**REPLAY, "Session": session, "Range": clock, "Rate-Control": "no"},
    )
    assert answer.status == 200
    assert answer.header("rate-control") == "no"
    assert answer.header("range").startswith("clock=")
    packets, ended = read_until_bye(client)
    assert ended, "the end of the range ends the stream with an RTCP BYE"
    frames = frames_of(packets)
    play_cseq = client.cseq & 0xFF
    assert {f.cseq for f in frames} == {play_cseq}
    first = frames[0]
    assert first.keyframe_nal and first.flags & 0x80  # starts at a keyframe, C bit set
    assert start - 1.0 - 1 / FPS <= first.wall <= start  # the keyframe at or before start
    assert frames[-1].wall <= end < frames[-1].wall + 2 / FPS
    assert frames[-1].flags & 0x40  # E: the end of the range
    assert all(not f.flags & 0x40 for f in frames[:-1])  # no gap inside
    assert all(
        b.wall - a.wall == pytest.approx(1 / FPS, abs=1e-3) for a, b in itertools.pairwise(frames)
    )
    assert all(bool(f.flags & 0x80) == f.keyframe_nal for f in frames)
    # The session stays after the end; TEARDOWN ends it.
    assert client.request("TEARDOWN", replay_url(camera), {"Session": session}).status == 200


def test_rate_control_yes_paces_in_real_time(camera, raw_rtsp) -> None:
    client = raw_rtsp(camera.host, camera.rtsp_port)
    earliest, _ = ring_range(client, camera)
    session = setup_replay(client, camera)
    clock = f"clock={format_clock(earliest)}-{format_clock(earliest + 4)}"
    answer = client.request(
        "PLAY", replay_url(camera), {**REPLAY, "Session": session, "Range": clock}
    )
    assert answer.status == 200 and answer.header("rate-control") == "yes"
    early = frames_of([p for ch, p in client.read_media(1.0) if ch == 0])
    # Four seconds of video cannot have arrived within one second at real-time pace.
    assert 0 < len(early) < 3 * FPS
    assert early[-1].wall - early[0].wall < 2.5


def test_pause_and_resume(camera, raw_rtsp) -> None:
    client = raw_rtsp(camera.host, camera.rtsp_port)
    earliest, _ = ring_range(client, camera)
    session = setup_replay(client, camera)
    url = replay_url(camera)
    clock = f"clock={format_clock(earliest)}-{format_clock(earliest + 4)}"
    assert client.request("PLAY", url, {**REPLAY, "Session": session, "Range": clock}).status == 200
    first = frames_of([p for ch, p in client.read_media(0.8) if ch == 0])
    assert client.request("PAUSE", url, {"Session": session}).status == 200
    client.read_media(0.3)  # what was on its way
    assert (
        client.request("PLAY", url, {**REPLAY, "Session": session, "Rate-Control": "no"}).status
        == 200
    )
    rest, ended = read_until_bye(client)
    resumed = frames_of(rest)
    assert ended and resumed[0].keyframe_nal
    assert resumed[0].wall > first[0].wall  # continues, does not start over


def test_bad_replay_requests_get_clean_rtsp_errors(camera, raw_rtsp) -> None:
    client = raw_rtsp(camera.host, camera.rtsp_port)
    earliest, latest = ring_range(client, camera)
    session = setup_replay(client, camera)
    url = replay_url(camera)
    future = time.time() + 3600
    for bad in [
        "clock=yesterday-",
        "clock=20261202T101500-",
        "npt=now-",
        "clock=" + format_clock(latest) + "-" + format_clock(earliest),  # backwards
        f"clock={format_clock(future)}-{format_clock(future + 10)}",  # not recorded yet
        f"clock={format_clock(earliest - 600)}-{format_clock(earliest - 300)}",  # dropped
    ]:
        answer = client.request("PLAY", url, {**REPLAY, "Session": session, "Range": bad})
        assert answer.status == 457, bad
    answer = client.request(
        "PLAY", url, {**REPLAY, "Session": session, "Rate-Control": "sometimes"}
    )
    assert answer.status == 400
    answer = client.request("DESCRIBE", url, {"Require": "onvif-replay, com.example.teleport"})
    assert answer.status == 551 and answer.header("unsupported") == "com.example.teleport"
    udp = {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
    assert client.request("SETUP", f"{url}/trackID=0", {**REPLAY, **udp}).status == 461
    base = f"rtsp://{camera.host}:{camera.rtsp_port}"
    assert client.request("DESCRIBE", f"{base}/cam1/replay/NoSuchRecording", REPLAY).status == 404
    assert client.request("DESCRIBE", f"{base}/cam9/replay/{TOKEN}", REPLAY).status == 404
    # The session still works after all that.
    clock = f"clock={format_clock(earliest)}-{format_clock(earliest + 1)}"
    answer = client.request(
        "PLAY", url, {**REPLAY, "Session": session, "Range": clock, "Rate-Control": "no"}
    )
    assert answer.status == 200
    assert read_until_bye(client)[1]


def test_camera_without_edge_storage_has_no_replay(emulator_factory, raw_rtsp) -> None:
    camera = emulator_factory(extra_args=("--no-edge-storage",))
    client = raw_rtsp(camera.host, camera.rtsp_port)
    assert client.request("DESCRIBE", replay_url(camera), REPLAY).status == 404
    assert client.request("DESCRIBE", camera.url(1, "main")).status == 200


def ffprobe_frames(path) -> tuple[int, float]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    info = json.loads(result.stdout)
    return int(info["streams"][0]["nb_read_frames"]), float(info["format"]["duration"])


def test_ffmpeg_reads_a_replay_interval(camera, tmp_path) -> None:
    """FFmpeg's RTSP demuxer has no option for extra request headers (no -headers for
    rtsp, only -user_agent); its User-Agent value is written verbatim into every
    request, so CRLF inside it adds the ONVIF replay headers. Its own PLAY carries
    `Range: npt=0.000-` first; the injected clock Range comes later and wins."""
    start = time.time() - 5.0
    end = start + 3.0
    headers = (
        "camkeep-test\r\nRequire: onvif-replay\r\nRate-Control: no\r\n"
        f"Range: clock={format_clock(start)}-{format_clock(end)}"
    )
    output = tmp_path / "replay.mkv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
         "-user_agent", headers, "-i", replay_url(camera), "-c", "copy", "-y", str(output)],
        check=True, timeout=60,
    )  # fmt: skip
    frames, duration = ffprobe_frames(output)
    # From the keyframe at or before start (GOP 1 s) to the last frame at or before end.
    assert 3 * FPS <= frames <= 4 * FPS + 1
    assert 3.0 - 0.1 <= duration <= 4.0 + 0.1


def test_ffmpeg_without_onvif_headers_reads_npt_from_the_recording_start(camera, tmp_path) -> None:
    output = tmp_path / "plain.mkv"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
         "-i", replay_url(camera), "-c", "copy", "-y", str(output)],
        check=True, timeout=60,
    )  # fmt: skip
    frames, duration = ffprobe_frames(output)
    assert frames >= 5 * FPS  # everything recorded so far, in real time, then BYE
    assert duration >= 5.0


def test_cut_drops_clients_while_the_camera_keeps_recording(camera, raw_rtsp) -> None:
    live = raw_rtsp(camera.host, camera.rtsp_port)
    live.play("/cam1/main")
    assert live.read_media(1.5)  # from the next keyframe (GOP 1 s)
    cut_start = time.time()
    camera.set_fault(1, "cut")
    with pytest.raises((ConnectionError, OSError)):  # torn down
        for _ in range(10):
            live.read_media(0.5)
    # A new client gets no answer at all: the link is dead.
    held = raw_rtsp(camera.host, camera.rtsp_port, timeout_s=1.5)
    with pytest.raises((TimeoutError, socket.timeout)):
        held.request("DESCRIBE", camera.url(1, "main"))
    with socket.create_connection((camera.host, camera.onvif_port), timeout=5) as onvif:
        onvif.sendall(b"GET /onvif/device_service HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert onvif.recv(100) == b""  # ONVIF unreachable too
    time.sleep(3)
    cut_end = time.time()
    camera.set_fault(1, "ok")
    time.sleep(1.5)

    client = raw_rtsp(camera.host, camera.rtsp_port)
    _, latest = ring_range(client, camera)
    assert latest > cut_end  # it kept recording through the cut and after
    session = setup_replay(client, camera)
    clock = f"clock={format_clock(cut_start)}-{format_clock(cut_end)}"
    answer = client.request(
        "PLAY",
        replay_url(camera),
        {**REPLAY, "Session": session, "Range": clock, "Rate-Control": "no"},
    )
    assert answer.status == 200
    packets, ended = read_until_bye(client)
    frames = frames_of(packets)
    assert ended
    assert frames[0].wall <= cut_start + 0.05 and frames[-1].wall >= cut_end - 2 / FPS
    assert not any(f.flags & 0x20 for f in frames)  # no discontinuity: nothing missing
    assert len(frames) >= int((cut_end - cut_start) * FPS)
    live_again = raw_rtsp(camera.host, camera.rtsp_port)
    live_again.play("/cam1/main")
    assert any(ch == 0 for ch, _ in live_again.read_media(1.5))


def test_offline_leaves_a_gap_marked_in_the_replay(camera, raw_rtsp) -> None:
    camera.set_fault(1, "offline")
    time.sleep(2)
    camera.set_fault(1, "ok")
    time.sleep(2)
    client = raw_rtsp(camera.host, camera.rtsp_port)
    earliest, latest = ring_range(client, camera)
    session = setup_replay(client, camera)
    clock = f"clock={format_clock(earliest)}-{format_clock(latest)}"
    answer = client.request(
        "PLAY",
        replay_url(camera),
        {**REPLAY, "Session": session, "Range": clock, "Rate-Control": "no"},
    )
    assert answer.status == 200
    frames = frames_of(read_until_bye(client)[0])
    gaps = [(a, b) for a, b in itertools.pairwise(frames) if b.wall - a.wall > 1.0]
    assert len(gaps) == 1
    before, after = gaps[0]
    assert before.flags & 0x40  # E: last frame before the gap
    assert after.flags & 0x20 and after.flags & 0x80  # D and C: resumes at a keyframe
