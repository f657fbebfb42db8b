"""The emulator's RTSP server read by real clients (PyAV/FFmpeg, ffprobe, raw sockets)."""

from __future__ import annotations

import json
import struct
import subprocess
import threading
import time

import av
import pytest

from emulator.rtp import NTP_EPOCH_OFFSET_S, parse_clock_sei

pytestmark = pytest.mark.timeout(120)


def read_frames(
    url: str, transport: str, count: int = 20
) -> tuple[list, av.video.stream.VideoStream]:
    options = {"rtsp_transport": transport, "timeout": "10000000"}
    with av.open(url, options=options, timeout=15) as container:
        stream = container.streams.video[0]
        frames = []
        for frame in container.decode(stream):
            frames.append((frame.width, frame.height, frame.time))
            if len(frames) >= count:
                break
        return frames, stream.codec_context.name


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("stream", ["main", "sub"])
def test_pyav_reads_every_path(emulator, transport: str, stream: str) -> None:
    frames, codec = read_frames(emulator.url(1, stream), transport)
    width, height = (
        (emulator.width, emulator.height)
        if stream == "main"
        else (emulator.sub_width, emulator.sub_height)
    )
    assert codec == "h264"
    assert len(frames) == 20
    assert {(w, h) for w, h, _ in frames} == {(width, height)}
    times = [t for _, _, t in frames if t is not None]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 23 < rate < 27


def test_ffprobe_reads_codec_size_and_rate(emulator) -> None:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-count_frames",
         "-read_intervals", "%+2", "-select_streams", "v", "-show_entries",
         "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of", "json",
         emulator.url(1, "main")],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    (info,) = json.loads(result.stdout)["streams"]
    assert info["codec_name"] == "h264"
    assert (info["width"], info["height"]) == (emulator.width, emulator.height)
    assert info["r_frame_rate"] == "25/1"
    assert int(info["nb_read_frames"]) > 10


def test_hevc_option(emulator_factory) -> None:
    camera = emulator_factory(codec="hevc")
    for transport in ("tcp", "udp"):
        frames, codec = read_frames(camera.url(1, "main"), transport, count=10)
        assert codec == "hevc" and len(frames) == 10
        assert frames[0][:2] == (camera.width, camera.height)


def test_sdp_describes_the_stream(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    answer = client.request("DESCRIBE", emulator.url(1, "main"), {"Accept": "application/sdp"})
    assert answer.status == 200
    assert answer.header("content-type") == "application/sdp"
    assert answer.header("content-base") == emulator.url(1, "main") + "/"
    sdp = answer.body.decode()
    assert "a=rtpmap:96 H264/90000" in sdp
    assert "packetization-mode=1;profile-level-id=" in sdp and "sprop-parameter-sets=" in sdp
    assert "a=control:trackID=0" in sdp
    options = client.request("OPTIONS", "*")
    assert "GET_PARAMETER" in (options.header("public") or "")


def test_many_clients_on_one_path(emulator, raw_rtsp) -> None:
    clients = [raw_rtsp(emulator.host, emulator.rtsp_port) for _ in range(5)]
    for client in clients:
        client.play("/cam1/main")
    results: dict[int, list] = {}

    def pyav_reader() -> None:
        results[0] = read_frames(emulator.url(1, "main"), "tcp", count=15)[0]

    thread = threading.Thread(target=pyav_reader)
    thread.start()
    counts = [0] * len(clients)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for i, client in enumerate(clients):
            counts[i] += sum(1 for ch, p in client.read_media(0.05) if ch == 0 and p[1] & 0x80)
    thread.join(30)
    assert all(c > 20 for c in counts), counts
    assert len(results[0]) == 15
    status, cameras = emulator.control("GET", "/cameras")
    assert status == 200 and cameras[0]["clients"]["main"] >= 5


def test_new_client_starts_with_a_keyframe_and_rtp_info(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    _, play = client.play("/cam1/main")
    info = dict(part.split("=", 1) for part in (play.header("rtp-info") or "").split(";"))
    assert info["url"] == emulator.url(1, "main") + "/trackID=0"
    rtp = [p for ch, p in client.read_media(1.5) if ch == 0]
    first_seq, first_ts = struct.unpack("!HI", rtp[0][2:8])
    assert (first_seq, first_ts) == (int(info["seq"]), int(info["rtptime"]))
    assert rtp[0][12] & 0x1F in (5, 6, 7, 8)  # IDR, SEI or parameter sets: decodable


def test_wall_clock_travels_in_rtcp_and_sei(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    client.play("/cam1/main")
    packets = client.read_media(2.5)
    reports = [p for ch, p in packets if ch == 1 and p[1] == 200]
    assert reports
    ntp = struct.unpack("!Q", reports[0][8:16])[0]
    assert abs((ntp >> 32) - NTP_EPOCH_OFFSET_S - time.time()) < 5
    texts = [parse_clock_sei("h264", p[12:]) for ch, p in packets if ch == 0 and p[12] & 0x1F == 6]
    texts = [t for t in texts if t]
    assert texts and texts[0].endswith(" camera=Camera 1")
    stamp = time.mktime(time.strptime(texts[0][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(stamp - time.time()) < 5


def test_auth_digest_and_basic(emulator_factory, raw_rtsp) -> None:
    import base64

    from emulator.rtsp_auth import digest_response, parse_auth_params

    camera = emulator_factory(user="admin", password="s3cret")
    url = camera.url(1, "main")
    client = raw_rtsp(camera.host, camera.rtsp_port)
    refused = client.request("DESCRIBE", url)
    assert refused.status == 401
    challenges = refused.headers["www-authenticate"]
    assert challenges[0].startswith("Digest ") and challenges[1].startswith("Basic ")
    nonce = parse_auth_params(challenges[0][7:])["nonce"]
    for qop in (None, "auth"):
        header = digest_response("admin", "s3cret", "camkeep", "DESCRIBE", url, nonce, qop=qop)
        assert client.request("DESCRIBE", url, {"Authorization": header}).status == 200
    wrong = digest_response("admin", "nope", "camkeep", "DESCRIBE", url, nonce)
    answer = client.request("DESCRIBE", url, {"Authorization": wrong})
    assert answer.status == 401 and answer.headers["www-authenticate"]
    basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    assert client.request("DESCRIBE", url, {"Authorization": basic}).status == 200
    bad_basic = "Basic " + base64.b64encode(b"admin:wrong").decode()
    assert client.request("DESCRIBE", url, {"Authorization": bad_basic}).status == 401
    # FFmpeg (through PyAV) does Digest by itself with credentials in the URL.
    frames, _ = read_frames(camera.url(1, "main", credentials=True), "tcp", count=5)
    assert len(frames) == 5
    with pytest.raises(av.error.HTTPUnauthorizedError):
        read_frames(camera.url(1, "main"), "tcp", count=1)
    with pytest.raises(av.error.HTTPUnauthorizedError):
        read_frames(url.replace("rtsp://", "rtsp://admin:wrong@"), "tcp", count=1)


def test_session_timeout_frees_abandoned_sessions(emulator_factory, raw_rtsp) -> None:
    camera = emulator_factory(extra_args=("--session-timeout", "1"))
    url = camera.url(1, "main")
    abandoned = raw_rtsp(camera.host, camera.rtsp_port)
    answer = abandoned.request(
        "SETUP", url + "/trackID=0", {"Transport": "RTP/AVP;unicast;client_port=40000-40001"}
    )
    assert answer.status == 200
    session = answer.header("session").split(";")[0]
    assert answer.header("session").endswith("timeout=1")
    assert abandoned.request("PLAY", url, {"Session": session}).status == 200
    kept = raw_rtsp(camera.host, camera.rtsp_port)
    kept_session, _ = kept.play("/cam1/main")
    for _ in range(6):  # GET_PARAMETER keep-alive every 0.5 s keeps the TCP client
        time.sleep(0.5)
        assert kept.request("GET_PARAMETER", url, {"Session": kept_session}).status == 200
    assert abandoned.request("PLAY", url, {"Session": session}).status == 454
    assert kept.request("GET_PARAMETER", url, {"Session": kept_session}).status == 200
    assert camera.control("GET", "/cameras")[1][0]["clients"]["main"] == 1


def test_fast_start_gives_video_at_once(emulator_factory, raw_rtsp) -> None:
    camera = emulator_factory(gop_seconds=2.0, extra_args=("--fast-start",))
    client = raw_rtsp(camera.host, camera.rtsp_port)
    time.sleep(1.0)  # somewhere inside a GOP
    _, play = client.play("/cam1/main")
    info = dict(part.split("=", 1) for part in (play.header("rtp-info") or "").split(";"))
    rtp = [p for ch, p in client.read_media(0.3) if ch == 0]
    assert rtp, "no media within 0.3 s of PLAY"
    assert struct.unpack("!HI", rtp[0][2:8]) == (int(info["seq"]), int(info["rtptime"]))
    assert rtp[0][12] & 0x1F == 7  # the burst starts at the GOP's keyframe (SPS first)
    frames, _ = read_frames(camera.url(1, "main"), "tcp", count=5)
    assert len(frames) == 5


def test_pause_stops_media_and_play_resumes(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    session, _ = client.play("/cam1/main")
    assert any(ch == 0 for ch, _ in client.read_media(1.5))
    url = emulator.url(1, "main")
    assert client.request("PAUSE", url, {"Session": session}).status == 200
    client.read_media(0.2)
    assert client.read_media(1.0) == []
    assert client.request("PLAY", url, {"Session": session}).status == 200
    assert any(ch == 0 for ch, _ in client.read_media(1.5))
    assert client.request("TEARDOWN", url, {"Session": session}).status == 200
    assert client.request("PLAY", url, {"Session": session}).status == 454


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_delivered_bitrate_is_near_the_target(emulator_factory, tmp_path, codec: str) -> None:
    camera = emulator_factory(codec=codec, bitrate=1_000_000)
    out = tmp_path / "cut.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", camera.url(1, "main"),
         "-t", "4", "-c", "copy", "-y", str(out)],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
         "packet=size,pts_time", "-of", "json", str(out)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    packets = json.loads(result.stdout)["packets"]
    seconds = len(packets) / 25
    bitrate = sum(int(p["size"]) for p in packets) * 8 / seconds
    assert 0.75e6 < bitrate < 1.25e6, bitrate
