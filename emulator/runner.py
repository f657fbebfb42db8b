"""Start and stop a whole emulator in-process: video, RTSP, ONVIF, WS-Discovery, control."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.camera import CameraSpec, StreamSettings
from emulator.edge_recorder import EdgeRecorder, FileUnits, HeldUnits, LoopUnits, UnitStore
from emulator.edge_storage import FrameRing
from emulator.faults import FaultBoard, FaultMode
from emulator.ports import free_port_block
from emulator.rtsp_server import SESSION_TIMEOUT_S, RtspServer, ServedStream
from emulator.stream import SOFT_BUFFER_BYTES, STUCK_TIMEOUT_S, Pacer, StreamPath
from emulator.video import DEFAULT_CACHE_DIR, EncodeParams, LiveEncoder, cached_loop

if TYPE_CHECKING:
    from emulator.control import ControlApi

log = logging.getLogger(__name__)


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    rtsp_port: int = 8554  # 0: any free port
    onvif_port: int = 8000  # camera i at onvif_port + i - 1; 0: any free block
    control_port: int | None = 8553  # None: no control API; 0: any free port
    # When control_port is taken, serve the control API on a free port instead (the
    # default port of `camkeep emulate`: a second emulator on the host still starts).
    # False: a taken port is an error, as a port the user chose must be.
    control_port_fallback: bool = False
    wsd_port: int = 3702
    wsd: bool = True
    onvif: bool = True
    cameras: int = 1
    username: str | None = None
    password: str | None = None
    codec: str = "h264"
    profile: str = "baseline"  # H.264 profile of the main stream
    bframes: int = 0  # B-frames in the main stream
    name_prefix: str = "Camera "
    width: int = 1280
    height: int = 720
    fps: int = 25
    bitrate: int = 4_000_000
    sub_width: int = 640
    sub_height: int = 360
    sub_bitrate: int = 512_000
    gop_seconds: float = 2.0
    loop_gops: int = 2
    live_clock: bool = False
    cache_dir: Path | None = field(default_factory=lambda: DEFAULT_CACHE_DIR)
    session_timeout_s: float = SESSION_TIMEOUT_S
    stuck_timeout_s: float = STUCK_TIMEOUT_S
    client_buffer_bytes: int = SOFT_BUFFER_BYTES
    fast_start: bool = False  # a new client gets the current GOP at once (see stream.py)
    encode_workers: int = 0  # 0: one per CPU
    # Edge storage (ONVIF Profile G): each camera records its main stream itself.
    edge_storage: bool = True
    edge_storage_s: float = 600.0
    edge_storage_dir: Path | None = None  # None: in memory (refs to the looped frames)


def camera_specs(config: EmulatorConfig, rtsp_port: int, onvif_base: int) -> list[CameraSpec]:
    gop = config.gop_seconds
    main = StreamSettings(config.width, config.height, config.fps, config.bitrate, gop)
    sub = StreamSettings(config.sub_width, config.sub_height, config.fps, config.sub_bitrate, gop)
    return [
        CameraSpec(
            index=i,
            name=f"{config.name_prefix}{i}",
            host=config.host,
            rtsp_port=rtsp_port,
            onvif_port=onvif_base + i - 1,
            codec=config.codec,
            main=main,
            sub=sub,
            username=config.username,
            password=config.password if config.username is not None else None,
            edge_storage_s=config.edge_storage_s if config.edge_storage else 0.0,
        )
        for i in range(1, config.cameras + 1)
    ]


def _encode_params(
    config: EmulatorConfig, settings: StreamSettings, main: bool = True
) -> EncodeParams:
    return EncodeParams(
        codec=config.codec,
        width=settings.width,
        height=settings.height,
        fps=settings.fps,
        bitrate=settings.bitrate,
        gop_frames=max(round(settings.fps * settings.gop_seconds), 1),
        loop_gops=config.loop_gops,
        # the sub-stream stays plain baseline, as cameras' second profiles usually are
        profile=config.profile if main else "baseline",
        bframes=config.bframes if main else 0,
    )


async def build_streams(config: EmulatorConfig, cameras: list[CameraSpec]) -> list[ServedStream]:
    """Encode (or load from cache) every camera's loops, on worker threads."""
    jobs = [(camera, name, getattr(camera, name)) for camera in cameras for name in ("main", "sub")]
    loop = asyncio.get_running_loop()
    streams: list[ServedStream] = []
    if config.live_clock:
        for camera, name, settings in jobs:
            live = LiveEncoder(camera.name, _encode_params(config, settings, name == "main"))
            await loop.run_in_executor(None, live.start)
            path = StreamPath(camera.name, config.codec, settings.fps, live=live)
            streams.append(ServedStream(camera, name, settings, path))
        return streams
    workers = config.encode_workers or os.cpu_count() or 1
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encode")
    try:
        futures = [
            loop.run_in_executor(
                pool,
                cached_loop,
                camera.name,
                _encode_params(config, settings, name == "main"),
                config.cache_dir,
            )
            for camera, name, settings in jobs
        ]
        loops = await asyncio.gather(*futures)
    finally:
        # On cancellation (Ctrl-C during a long first encode) do not wait for the queue.
        pool.shutdown(wait=False, cancel_futures=True)
    for (camera, name, settings), encoded in zip(jobs, loops, strict=True):
        path = StreamPath(camera.name, config.codec, settings.fps, loop=encoded)
        streams.append(ServedStream(camera, name, settings, path))
    return streams


def build_recorders(
    config: EmulatorConfig, streams: list[ServedStream], faults: FaultBoard
) -> dict[int, EdgeRecorder]:
    """One edge recorder per camera with edge storage, fed by its main stream's path."""
    recorders: dict[int, EdgeRecorder] = {}
    for stream in streams:
        camera, path = stream.camera, stream.path
        if stream.name != "main" or not camera.edge_storage:
            continue
        store: UnitStore
        if config.edge_storage_dir is not None:
            store = FileUnits(config.edge_storage_dir / f"cam{camera.index}", path.codec)
        elif path.loop is not None:
            store = LoopUnits(path.loop)
        else:
            store = HeldUnits()
        ring = FrameRing(camera.edge_storage_s, path.fps)
        recorder = EdgeRecorder(camera.name, path.codec, path.fps, path.parameter_sets, ring, store)
        path.edge = recorders[camera.index] = recorder

    def on_fault(index: int, mode: FaultMode) -> None:
        if index in recorders:
            recorders[index].paused = not faults.records(index)

    faults.subscribe(on_fault)
    return recorders


@dataclass
class RunningEmulator:
    config: EmulatorConfig
    cameras: list[CameraSpec]
    faults: FaultBoard
    streams: list[ServedStream]
    rtsp: RtspServer
    pacer: Pacer
    onvif: object | None = None
    wsd: object | None = None
    control: asyncio.Server | None = None
    control_port: int | None = None
    recorders: dict[int, EdgeRecorder] = field(default_factory=dict)

    @property
    def rtsp_port(self) -> int:
        return self.rtsp.port

    def client_count(self, index: int, stream: str) -> int:
        served = self.rtsp.streams.get(f"/cam{index}/{stream}")
        return len(served.path.subscribers) if served else 0

    async def close(self) -> None:
        """Stop everything; WS-Discovery says Bye first. Safe to call twice."""
        if self.wsd is not None:
            with contextlib.suppress(Exception):
                await self.wsd.stop()  # type: ignore[attr-defined]
            self.wsd = None
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.onvif is not None:
            with contextlib.suppress(Exception):
                await self.onvif.close()  # type: ignore[attr-defined]
            self.onvif = None
        await self.pacer.stop()
        await self.rtsp.close()
        for stream in self.streams:
            if stream.path.live is not None:
                stream.path.live.stop()
        for recorder in self.recorders.values():
            recorder.close()


async def _start_control_server(config: EmulatorConfig, api: ControlApi) -> asyncio.Server:
    from emulator.httpserver import start_http_server

    assert config.control_port is not None
    try:
        return await start_http_server(config.host, config.control_port, api)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        if not config.control_port_fallback:
            raise OSError(
                f"control port {config.control_port} on {config.host} is in use"
                " (choose another with --control-port)"
            ) from None
    server = await start_http_server(config.host, 0, api)
    log.info("control port %d is in use; control API on a free port", config.control_port)
    return server


async def start_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Encode the loops, then start RTSP, ONVIF, WS-Discovery and the control API."""
    host = config.host
    rtsp_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    rtsp_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        rtsp_socket.bind((host, config.rtsp_port))
        rtsp_socket.listen(512)
    except OSError:
        rtsp_socket.close()
        raise
    rtsp_port = rtsp_socket.getsockname()[1]
    onvif_base = config.onvif_port or free_port_block(config.cameras, host)
    cameras = camera_specs(config, rtsp_port, onvif_base)
    faults = FaultBoard(len(cameras))
    try:
        streams = await build_streams(config, cameras)
    except BaseException:
        rtsp_socket.close()
        raise
    for stream in streams:
        stream.path.stuck_timeout_s = config.stuck_timeout_s
        stream.path.soft_buffer_bytes = config.client_buffer_bytes
        stream.path.fast_start = config.fast_start
    try:
        recorders = build_recorders(config, streams, faults)
    except BaseException:
        rtsp_socket.close()
        raise
    rtsp = RtspServer(
        streams,
        faults,
        host,
        rtsp_port,
        session_timeout_s=config.session_timeout_s,
        recorders=recorders,
    )
    pacer = Pacer([s.path for s in streams])
    running = RunningEmulator(config, cameras, faults, streams, rtsp, pacer, recorders=recorders)
    try:
        await rtsp.start(sock=rtsp_socket)
        pacer.start()
        if config.onvif:
            from emulator.onvif_server import start_onvif_servers

            running.onvif = await start_onvif_servers(cameras, faults, recorders)
        if config.control_port is not None:
            from emulator.control import ControlApi

            api = ControlApi(cameras, faults, running.client_count)
            running.control = await _start_control_server(config, api)
            running.control_port = running.control.sockets[0].getsockname()[1]
        if config.wsd:
            from emulator.wsdiscovery import WSDiscoveryResponder

            running.wsd = WSDiscoveryResponder(cameras, host, config.wsd_port)
            await running.wsd.start()  # type: ignore[attr-defined]
    except BaseException:
        await running.close()
        raise
    return running
