"""Benchmark: live view. Real `camkeep run` and `camkeep emulate` processes on
loopback, Debian's Chromium through Playwright, aiortc clients as load.

1. Time to first decoded frame in Chromium, WebRTC and MSE: the player module attaches
   a fresh <video> `--opens` times (20) per mode; the time from `attach()` to the
   first frame presented (requestVideoFrameCallback). p50/p95. Target <= 1 s p95.
2. Glass-to-glass latency: a camera with `--live-clock` draws the UTC ms as a row of
   black/white blocks when it encodes a frame; Chromium reads them back from each
   presented frame through a canvas and subtracts them from its clock (one machine,
   one clock). p50/p95 per mode. Targets: WebRTC <= 300 ms p95, MSE <= 1 s.
3. Node CPU for live, against the same node recording without viewers in the same
   run: 16 cameras at 4 Mbit/s, (a) recording only, (b) + one WebRTC viewer per
   camera, (c) + 16 WebRTC viewers of one camera. The viewers are aiortc clients in
   another process that receive, decrypt and drop (no decoding), so the figure is the
   node's own cost. Ratio = (CPU with viewers - recording-only CPU) / recording-only
   CPU (target <= 1.0), memory per viewer = RSS growth / viewers (target <= 2 MiB).
   Beside it, the floor no sender written in any language avoids: the CPU a bare
   Python loop spends in `sendto` for the same rate of 1,200-byte UDP datagrams
   (WebRTC sends one datagram per RTP packet; the camera's RTSP over TCP arrives in
   large reads).

Prints a table and writes the section `## Live view (bench/live.py)` of
bench/RESULTS.md.

    python bench/live.py             # 20 opens, 16 cameras, 15 s windows
    python bench/live.py --quick     # 5 opens, 4 cameras, 6 s windows
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from emulator.ports import free_port, free_port_block  # noqa: E402
from node.cli._child_process import stop_process  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Live view (bench/live.py)"
HOST = "127.0.0.1"
MIB = 1024 * 1024
OWNER, PASSWORD = "owner", "bench-password-1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

OPEN_JS = """async ({camera, token, prefer, opens}) => {
  const {attach} = await import("/player/player.js");
  const times = [];
  for (let i = 0; i < opens; i++) {
    const video = document.createElement("video");
    document.body.appendChild(video);
    const started = performance.now();
    const player = attach(video, camera, {token, prefer, servers: []});
    const shown = await Promise.race([
      new Promise((resolve) => video.requestVideoFrameCallback(() => resolve(true))),
      new Promise((resolve) => setTimeout(() => resolve(false), 10000)),
    ]);
    if (shown) times.push(performance.now() - started);
    player.close();
    video.remove();
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  return times;
}"""

CLOCK_JS = """async ({camera, token, prefer, warmupMs, measureMs}) => {
  const {attach} = await import("/player/player.js");
  const video = document.createElement("video");
  document.body.appendChild(video);
  const player = attach(video, camera, {token, prefer, servers: []});
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", {willReadFrequently: true});
  const samples = [];
  const begin = performance.now();
  await new Promise((resolve) => {
    const step = () => {
      const now = Date.now();
      const width = video.videoWidth;
      if (width) {
        const side = Math.max(Math.floor(width / 40), 8);
        canvas.width = side * 34;
        canvas.height = side;
        context.drawImage(video, 0, 0, side * 34, side, 0, 0, side * 34, side);
        const row = context.getImageData(0, 0, side * 34, side).data;
        const half = Math.floor(side / 2);
        const bit = (i) => (row[(half * side * 34 + i * side + half) * 4] > 128 ? 1 : 0);
        if (bit(0) === 1 && bit(33) === 0) {
          let ms = 0;
          for (let i = 1; i <= 32; i++) ms = ms * 2 + bit(i);
          let delay = (now % 4294967296) - ms;
          if (delay < 0) delay += 4294967296;
          if (performance.now() - begin > warmupMs && delay < 10000) samples.push(delay);
        }
      }
      if (performance.now() - begin < warmupMs + measureMs) video.requestVideoFrameCallback(step);
      else resolve();
    };
    video.requestVideoFrameCallback(step);
    setTimeout(resolve, warmupMs + measureMs + 10000);
  });
  player.close();
  video.remove();
  return samples;
}"""


# ---- the viewer worker: aiortc clients that receive and drop -----------------------


async def mse_viewers_main(url: str, token: str, cameras: list[str]) -> None:
    """One live WebSocket per entry of `cameras`, read and dropped. Prints "ready",
    then a JSON count of the messages on "stop"."""
    from websockets.asyncio.client import connect

    counts = [0] * len(cameras)

    async def read(index: int, camera: str) -> None:
        base = url.replace("http://", "ws://")
        async with connect(f"{base}/api/v1/cameras/{camera}/live?token={token}") as socket:
            async for _ in socket:
                counts[index] += 1

    tasks = [asyncio.create_task(read(i, c)) for i, c in enumerate(cameras)]
    while not all(counts) and not any(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    print(json.dumps({"packets": counts}), flush=True)


async def viewers_main(url: str, token: str, cameras: list[str]) -> None:
    """One WebRTC session per entry of `cameras`; counts frames, never decodes them.
    Prints "ready" once every session receives, then a JSON count on "stop"."""
    import aioice.ice
    import aiortc.rtcrtpreceiver as receiver_module
    from aiortc import RTCPeerConnection, RTCSessionDescription

    # loopback only, as the node (aioice would gather on every other interface)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [HOST] if use_ipv4 else []

    counts = [0] * len(cameras)

    def drop_frames(loop, input_q, output_q, decode_error) -> None:  # no decoding
        while input_q.get() is not None:
            pass

    receiver_module.decoder_worker = drop_frames
    peers = []
    locations: list[str] = []
    async with httpx.AsyncClient(timeout=90) as client:
        for index, camera in enumerate(cameras):
            began = time.monotonic()
            peer = RTCPeerConnection()
            peer.addTransceiver("video", direction="recvonly")

            def on_packet(index: int = index):
                counts[index] += 1

            await peer.setLocalDescription(await peer.createOffer())
            answer = await client.post(
                f"{url}/api/v1/cameras/{camera}/webrtc",
                content=peer.localDescription.sdp,
                headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
            )
            answer.raise_for_status()
            await peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
            peers.append((peer, on_packet))
            locations.append(answer.headers["Location"])
            print(f"session {index}: {time.monotonic() - began:.1f} s", file=sys.stderr)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(p.connectionState == "connected" for p, _ in peers):
            break
        await asyncio.sleep(0.2)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stats = []
    for peer, _ in peers:
        for report in (await peer.getStats()).values():
            if report.type == "inbound-rtp":
                stats.append(report.packetsReceived)
        await peer.close()
    async with httpx.AsyncClient(timeout=20) as client:  # end the sessions (WHEP DELETE)
        for location in locations:
            await client.delete(url + location, headers={"Authorization": f"Bearer {token}"})
    print(json.dumps({"packets": stats}), flush=True)


def camera_latency(url: str, seconds: float) -> list[float]:
    """The clock camera read directly (PyAV, no buffering): its own capture-to-decoded
    latency, which every viewer pays whatever carries the video."""
    import av

    options = {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"}
    samples: list[float] = []
    started = time.monotonic()
    with av.open(url, options=options) as container:
        for frame in container.decode(video=0):
            picture = frame.to_ndarray(format="gray")
            side = max(frame.width // 40, 8)
            half = side // 2
            bits = [1 if picture[half, i * side + half] > 128 else 0 for i in range(34)]
            if bits[0] == 1 and bits[33] == 0 and time.monotonic() - started > 3:
                ms = 0
                for bit in bits[1:33]:
                    ms = ms * 2 + bit
                samples.append((int(time.time() * 1000) - ms) % 2**32)
            if time.monotonic() - started > 3 + seconds:
                break
    return samples


# ---- processes -----------------------------------------------------------------------


def start_emulator(cache: Path, cameras: int, *extra: str) -> tuple[subprocess.Popen, int]:
    rtsp = free_port()
    onvif = free_port_block(cameras)
    command = [
        sys.executable, "-m", "node.cli", "emulate", "--host", HOST, "--cameras", str(cameras),
        "--rtsp-port", str(rtsp), "--onvif-port", str(onvif), "--no-control", "--no-wsd",
        "--cache-dir", str(cache), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # type: ignore[union-attr]
        if line.strip() == "ready":
            break
    else:
        raise SystemExit("emulator did not start")
    return process, rtsp


def start_node(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = data / "camkeep.toml"
    data.mkdir(parents=True, exist_ok=True)
    config.write_text("segment_seconds = 60\n[discovery]\nmdns = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "run", "--data", str(data / "data"),
         "--listen", f"{HOST}:{port}", "--name", "bench", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("node did not start")


def set_up(url: str) -> str:
    owner = {"username": OWNER, "password": PASSWORD}
    httpx.post(f"{url}/api/v1/system/setup", json={"system_name": "bench", "owner": owner})
    return httpx.post(f"{url}/api/v1/auth/login", json=owner).json()["token"]


def add_cameras(url: str, token: str, rtsp_port: int, count: int, prefix: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    for i in range(1, count + 1):
        body = {"name": f"{prefix}{i}", "rtsp_url": f"rtsp://{HOST}:{rtsp_port}/cam{i}/main"}
        ids.append(httpx.post(f"{url}/api/v1/cameras", json=body, headers=headers).json()["id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        cams = httpx.get(f"{url}/api/v1/cameras", headers=headers).json()
        states = {c["id"]: c["status"]["state"] for c in cams}
        if all(states.get(i) == "recording" for i in ids):
            return ids
        time.sleep(0.5)
    raise SystemExit("cameras did not start recording")


def cpu_window(process: psutil.Process, seconds: float) -> tuple[float, int]:
    """(CPU seconds per second over the window, RSS at its end)."""
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return used / seconds, process.memory_info().rss


def sendto_cpu_s(count: int = 200_000, size: int = 1200) -> float:
    """CPU seconds one `sendto` of a `size`-byte UDP datagram costs on loopback (the
    receiver is drained in between; its share is measured apart and left out)."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.bind((HOST, 0))
        receiver.setblocking(False)
        address, payload = receiver.getsockname(), os.urandom(size)
        draining = 0.0
        started = time.process_time()
        for i in range(count):
            sender.sendto(payload, address)
            if i % 64 == 63:
                drained = time.process_time()
                try:
                    while True:
                        receiver.recv(2048)
                except BlockingIOError:
                    pass
                draining += time.process_time() - drained
        return (time.process_time() - started - draining) / count


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def with_viewers(
    url: str, token: str, cameras: list[str], kind: str = "webrtc"
) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, __file__, "--viewers-worker", kind, url, token, ",".join(cameras)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = worker.stdout.readline()  # type: ignore[union-attr]
    if line.strip() != "ready":
        raise SystemExit(f"viewers did not start: {line!r}")
    return worker


def end_viewers(worker: subprocess.Popen, url: str, token: str) -> list[int]:
    """Stop the viewers and wait until the node holds none of them any more."""
    worker.stdin.write("stop\n")  # type: ignore[union-attr]
    worker.stdin.flush()  # type: ignore[union-attr]
    line = worker.stdout.readline()  # type: ignore[union-attr]
    worker.wait(timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/api/v1/live/status", headers=headers).json()
        if not status["webrtc_sessions"] and not status["viewers"]:
            break
        time.sleep(0.5)
    return json.loads(line)["packets"] if line else []


# ---- main ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> str:
    from playwright.sync_api import sync_playwright

    rows: list[str] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        cache = Path.home() / ".cache" / "camkeep" / "emulator"
        cams, rtsp = start_emulator(
            cache, args.cameras, "--width", "1280", "--height", "720", "--bitrate", "4000000",
            "--gop-seconds", "2",
        )  # fmt: skip
        stack.callback(stop_process, cams, 15)
        clock, clock_rtsp = start_emulator(
            cache, 1, "--live-clock", "--width", "640", "--height", "360",
            "--bitrate", "1000000", "--gop-seconds", "2", "--name-prefix", "Clock ",
        )  # fmt: skip
        stack.callback(stop_process, clock, 15)
        node, url = start_node(Path(tmp) / "node")
        stack.callback(stop_process, node, 15)
        token = set_up(url)
        ids = add_cameras(url, token, rtsp, args.cameras, "cam")
        clock_id = add_cameras(url, token, clock_rtsp, 1, "clock")[0]
        proc = psutil.Process(node.pid)

        # 1 + 2: in Chromium
        results: dict[str, dict[str, list[float]]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{url}/player/watch.html#camera=none")
            for prefer in ("webrtc", "mse"):
                opens = page.evaluate(
                    OPEN_JS,
                    {"camera": ids[0], "token": token, "prefer": prefer, "opens": args.opens},
                )
                latency = page.evaluate(
                    CLOCK_JS,
                    {
                        "camera": clock_id,
                        "token": token,
                        "prefer": prefer,
                        "warmupMs": 3000,
                        "measureMs": args.window * 1000,
                    },
                )
                results[prefer] = {"open": opens, "latency": latency}
            browser.close()

        direct = camera_latency(f"rtsp://{HOST}:{clock_rtsp}/cam1/main", args.window)

        # 3: node CPU, recording only, then with viewers
        time.sleep(2)
        base_cpu, base_rss = cpu_window(proc, args.window)
        viewers_started = time.monotonic()
        worker = with_viewers(url, token, ids)
        time.sleep(2)
        per_camera_cpu, per_camera_rss = cpu_window(proc, args.window)
        per_camera_packets = end_viewers(worker, url, token)
        packet_rate = sum(per_camera_packets) / (time.monotonic() - viewers_started)
        floor_cpu = packet_rate * sendto_cpu_s()
        time.sleep(3)
        base2_cpu, base2_rss = cpu_window(proc, args.window)
        worker = with_viewers(url, token, [ids[0]] * args.cameras)
        time.sleep(2)
        one_cam_cpu, one_cam_rss = cpu_window(proc, args.window)
        one_cam_packets = end_viewers(worker, url, token)
        time.sleep(3)
        before_mse_rss = proc.memory_info().rss
        worker = with_viewers(url, token, ids, "mse")
        time.sleep(2)
        mse_cpu, mse_rss = cpu_window(proc, args.window)
        end_viewers(worker, url, token)

    ncam = args.cameras
    for prefer, label in (("webrtc", "WebRTC"), ("mse", "MSE (WebSocket fMP4)")):
        opens, latency = results[prefer]["open"], results[prefer]["latency"]
        rows.append(
            f"| {label} | {len(opens)}/{args.opens} | {percentile(opens, 0.5):.0f} | "
            f"{percentile(opens, 0.95):.0f} | {len(latency)} | {percentile(latency, 0.5):.0f} | "
            f"{percentile(latency, 0.95):.0f} |"
        )
    rows.append(
        f"| the camera itself, read directly (PyAV RTSP, no buffering) | - | - | - | "
        f"{len(direct)} | {percentile(direct, 0.5):.0f} | {percentile(direct, 0.95):.0f} |"
    )
    base = (base_cpu + base2_cpu) / 2
    cpu_rows = [
        f"| recording only, {ncam} cameras | {base_cpu * 100:.1f} % | - | "
        f"{base_rss / MIB:.0f} MiB | - |",
        f"| + 1 WebRTC viewer per camera ({ncam} viewers) | {per_camera_cpu * 100:.1f} % | "
        f"{(per_camera_cpu - base) / base:.2f} | {per_camera_rss / MIB:.0f} MiB | "
        f"{(per_camera_rss - base_rss) / ncam / MIB:.2f} MiB |",
        f"| floor: `sendto` alone of the {packet_rate:,.0f} datagrams/s the {ncam} viewers "
        f"received | {floor_cpu * 100:.1f} % | {floor_cpu / base:.2f} | - | - |",
        f"| recording only, again | {base2_cpu * 100:.1f} % | - | {base2_rss / MIB:.0f} MiB | - |",
        f"| + {ncam} WebRTC viewers of one camera | {one_cam_cpu * 100:.1f} % | "
        f"{(one_cam_cpu - base) / base:.2f} | {one_cam_rss / MIB:.0f} MiB | "
        f"{(one_cam_rss - base2_rss) / ncam / MIB:.2f} MiB |",
        f"| + 1 MSE WebSocket viewer per camera ({ncam} viewers) | {mse_cpu * 100:.1f} % | "
        f"{(mse_cpu - base) / base:.2f} | {mse_rss / MIB:.0f} MiB | "
        f"{(mse_rss - before_mse_rss) / ncam / MIB:.2f} MiB |",
    ]
    received = sum(per_camera_packets) + sum(one_cam_packets)
    return "\n".join(
        [
            SECTION,
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"{psutil.cpu_count()} CPUs (shared), Chromium {_chromium_version()}, "
            f"`python bench/live.py {' '.join(sys.argv[1:])}`.",
            "",
            f"Camera for opens: 1280x720, 25 fps, GOP 2 s, 4 Mbit/s; clock camera: 640x360 "
            f"`--live-clock`. {args.opens} opens per mode; latency over {args.window} s "
            "after a 3 s warm-up.",
            "",
            "| mode | opens shown | first frame p50 (ms) | p95 (ms) | latency samples | "
            "glass-to-glass p50 (ms) | p95 (ms) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Node CPU (100 % = one core) over {args.window} s windows, {ncam} cameras at "
            f"4 Mbit/s recorded; viewers are aiortc clients in another process ({received} "
            "RTP packets received in all). Ratio = extra CPU of the live path / "
            "recording-only CPU (mean of both recording-only windows).",
            "",
            "| load | node CPU | live/recording ratio | node RSS | memory per viewer |",
            "|---|---|---|---|---|",
            *cpu_rows,
            "",
            "The machine is shared with other work: latencies and CPU figures move by a "
            "factor of up to two between runs (the camera's own row shows the load).",
        ]
    )


def _chromium_version() -> str:
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20)
        return out.stdout.split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewers-worker":
        kind, url, token, cameras = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(",")
        worker = viewers_main if kind == "webrtc" else mse_viewers_main
        asyncio.run(worker(url, token, cameras))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 opens, 4 cameras, 6 s windows")
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args()
    if args.quick:
        args.opens, args.cameras, args.window = 5, 4, 6.0
    text = run(args)
    print(text)
    replace_section(RESULTS, SECTION, text)


if __name__ == "__main__":
    main()
