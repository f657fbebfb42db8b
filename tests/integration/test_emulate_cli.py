"""`camkeep emulate` as a real process: eight cameras FFmpeg reads, clean stop, bad flags."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def probe(url: str) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v",
         "-show_entries", "stream=codec_name,width,height", "-of", "json", url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)["streams"][0]


@pytest.mark.slow
def test_eight_cameras_are_served_and_stop_cleanly(emulator_factory) -> None:
    camera = emulator_factory(cameras=8)
    for i in range(1, 9):
        line = next(x for x in camera.output if x.startswith(f"Camera {i}:"))
        assert camera.url(i, "main") in line and camera.url(i, "sub") in line
        assert camera.onvif_url(i) in line
    urls = [camera.url(i, s) for i in range(1, 9) for s in ("main", "sub")]
    with ThreadPoolExecutor(4) as pool:
        infos = list(pool.map(probe, urls))
    for url, info in zip(urls, infos, strict=True):
        size = (camera.width, camera.height) if url.endswith("main") else (
            camera.sub_width, camera.sub_height)  # fmt: skip
        assert info["codec_name"] == "h264" and (info["width"], info["height"]) == size, url
    status, cameras = camera.control("GET", "/cameras")
    assert status == 200 and [c["index"] for c in cameras] == list(range(1, 9))
    assert camera.stop() == 0  # SIGTERM: clean exit


@pytest.mark.parametrize(
    "flags",
    [["--cameras", "0"], ["--user", "admin"], ["--codec", "vp9"], ["--rtsp-port", "70000"],
     ["--width", "321"], ["--session-timeout", "0"]],
)  # fmt: skip
def test_bad_flags_are_refused(flags: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "emulate", "--no-wsd", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "camkeep emulate" in result.stderr or "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "emulate", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for flag in ("--rtsp-port", "--onvif-port", "--control-port", "--cameras", "--bitrate",
                 "--codec", "--live-clock", "--user", "--password", "--no-wsd"):  # fmt: skip
        assert flag in result.stdout


def test_sigterm_while_encoding_stops_at_once(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "emulate", "--no-wsd", "--no-onvif", "--no-control",
         "--rtsp-port", "0", "--cameras", "16", "--cache-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "encoding 16 camera(s)" in process.stderr.readline()  # type: ignore[union-attr]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0  # not after encoding 16 cameras (minutes)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "ready" not in (process.stdout.read() if process.stdout else "")
