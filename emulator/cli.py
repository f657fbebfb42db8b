"""`camkeep emulate`: start N emulated ONVIF/RTSP cameras and run until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from emulator.runner import EmulatorConfig, RunningEmulator, start_emulator
from emulator.stream import SOFT_BUFFER_BYTES, STUCK_TIMEOUT_S
from emulator.video import DEFAULT_CACHE_DIR

DEFAULT_CONTROL_PORT = 8553


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    add("--rtsp-port", type=_port, default=8554, help="RTSP port shared by all cameras (8554)")
    add("--onvif-port", type=_port, default=8000, help="ONVIF port of camera 1; camera i: +i-1")
    add(
        "--control-port",
        type=_port,
        help=f"control API (faults) port (default {DEFAULT_CONTROL_PORT}, or a free port if"
        " that one is taken; a port given here must be free)",
    )
    add("--no-control", action="store_true", help="do not start the control API")
    add("--wsd-port", type=_port, default=3702, help="WS-Discovery port (3702)")
    add("--no-wsd", action="store_true", help="do not answer WS-Discovery probes")
    add("--no-onvif", action="store_true", help="do not start the ONVIF services")
    add("--cameras", type=_positive, default=1, help="number of cameras (1)")
    add("--user", help="username the cameras require (RTSP and ONVIF)")
    add("--password", help="password the cameras require")
    add("--bitrate", type=_positive, default=4_000_000, help="main stream bits/s (4000000)")
    add("--sub-bitrate", type=_positive, default=512_000, help="sub stream bits/s (512000)")
    add("--codec", choices=("h264", "hevc"), default="h264", help="video codec (h264)")
    add(
        "--profile",
        choices=("baseline", "main", "high"),
        default="baseline",
        help="H.264 profile of the main streams (baseline: constrained baseline)",
    )
    add("--bframes", type=int, default=0, help="B-frames in the main streams (H.264; 0)")
    add("--name-prefix", default="Camera ", help="camera i is named PREFIX+i ('Camera ')")
    add("--width", type=_positive, default=1280, help="main stream width (1280)")
    add("--height", type=_positive, default=720, help="main stream height (720)")
    add("--fps", type=_positive, default=25, help="frames per second (25)")
    add("--sub-width", type=_positive, default=640, help="sub stream width (640)")
    add("--sub-height", type=_positive, default=360, help="sub stream height (360)")
    add("--gop-seconds", type=float, default=2.0, help="keyframe interval in seconds (2)")
    add("--session-timeout", type=float, default=60.0, help="RTSP session timeout s (60)")
    add(
        "--client-buffer-limit",
        type=_positive,
        default=SOFT_BUFFER_BYTES,
        help="bytes queued for a slow RTSP/TCP client before its frames are dropped",
    )
    add(
        "--stuck-timeout",
        type=float,
        default=STUCK_TIMEOUT_S,
        help="seconds a client may stay over the buffer limit before it is closed",
    )
    add(
        "--live-clock",
        action="store_true",
        help="encode continuously with the wall-clock time in the picture, as text and as "
        "a row of black/white blocks (the UTC ms) a viewer can read back (costly; without "
        "it the time travels in RTCP SR and an SEI before every keyframe)",
    )
    add(
        "--fast-start",
        action="store_true",
        help="a new RTSP client first gets the current GOP from its last keyframe in a "
        "burst (default: it starts at the next keyframe, up to one GOP later)",
    )
    add(
        "--edge-storage-s",
        type=float,
        default=600.0,
        help="seconds of its main stream each camera keeps in its own storage, "
        "replayable over ONVIF Profile G (600)",
    )
    add(
        "--edge-storage-dir",
        type=Path,
        help="keep the edge recordings' frames in files under this directory "
        "(emptied at start) instead of memory",
    )
    add("--no-edge-storage", action="store_true", help="cameras without edge storage (Profile G)")
    add("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="encoded-loop cache")
    add("--no-cache", action="store_true", help="always encode, never use the cache")
    add("--log-level", default="WARNING", help="logging level (WARNING)")


def _control_port(args: argparse.Namespace) -> int:
    return DEFAULT_CONTROL_PORT if args.control_port is None else args.control_port


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    if (args.user is None) != (args.password is None):
        raise SystemExit("camkeep emulate: --user and --password go together")
    if args.width % 2 or args.height % 2 or args.sub_width % 2 or args.sub_height % 2:
        raise SystemExit("camkeep emulate: widths and heights must be even")
    if args.session_timeout <= 0 or args.stuck_timeout <= 0:
        raise SystemExit("camkeep emulate: timeouts must be > 0")
    if not 0 <= args.bframes <= 4:
        raise SystemExit("camkeep emulate: --bframes must be within 0..4")
    if (args.bframes or args.profile != "baseline") and args.codec != "h264":
        raise SystemExit("camkeep emulate: --profile and --bframes are for H.264")
    if args.bframes and args.live_clock:
        raise SystemExit("camkeep emulate: --bframes does not go with --live-clock")
    if not 0.1 <= args.gop_seconds <= 60:
        raise SystemExit("camkeep emulate: --gop-seconds must be within 0.1..60")
    if not 1 <= args.edge_storage_s <= 7 * 24 * 3600:
        raise SystemExit("camkeep emulate: --edge-storage-s must be within 1..604800")
    return EmulatorConfig(
        host=args.host,
        rtsp_port=args.rtsp_port,
        onvif_port=args.onvif_port,
        control_port=None if args.no_control else _control_port(args),
        control_port_fallback=args.control_port is None,
        wsd_port=args.wsd_port,
        wsd=not args.no_wsd,
        onvif=not args.no_onvif,
        cameras=args.cameras,
        username=args.user,
        password=args.password,
        codec=args.codec,
        profile=args.profile,
        bframes=args.bframes,
        name_prefix=args.name_prefix,
        width=args.width,
        height=args.height,
        fps=args.fps,
        bitrate=args.bitrate,
        sub_width=args.sub_width,
        sub_height=args.sub_height,
        sub_bitrate=args.sub_bitrate,
        gop_seconds=args.gop_seconds,
        live_clock=args.live_clock,
        cache_dir=None if args.no_cache else args.cache_dir,
        session_timeout_s=args.session_timeout,
        client_buffer_bytes=args.client_buffer_limit,
        stuck_timeout_s=args.stuck_timeout,
        fast_start=args.fast_start,
        edge_storage=not args.no_edge_storage,
        edge_storage_s=args.edge_storage_s,
        edge_storage_dir=args.edge_storage_dir,
    )


def describe(running: RunningEmulator) -> list[str]:
    lines = []
    for camera in running.cameras:
        lines.append(
            f"{camera.name}: {camera.rtsp_url('main')} {camera.rtsp_url('sub')} {camera.onvif_url}"
        )
    if running.control_port is not None:
        lines.append(f"control API: http://{running.config.host}:{running.control_port}/cameras")
    return lines


async def _serve(config: EmulatorConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"encoding {config.cameras} camera(s)...", file=sys.stderr, flush=True)
    starting = asyncio.ensure_future(start_emulator(config))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # stopped while still encoding
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return 0
    running = starting.result()
    try:
        if config.control_port_fallback and running.control_port != config.control_port:
            print(
                f"camkeep emulate: control port {config.control_port} is in use;"
                f" control API on port {running.control_port}",
                file=sys.stderr,
                flush=True,
            )
        for line in describe(running):
            print(line, flush=True)
        print("ready", flush=True)
        await stop.wait()
    finally:
        await running.close()
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config_from_args(args)
    try:
        return asyncio.run(_serve(config))
    except OSError as error:
        print(f"camkeep emulate: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
