"""`camkeep run`: start a recording node."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

CONFIG_ERROR_EXIT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="configuration file (TOML)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="data folder (default ./data)")
    parser.add_argument("--name", help="server name shown in the system (default: host name)")
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="API address (default 127.0.0.1:7480)"
    )
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="URL",
        help="static peer http://HOST:PORT (repeatable)",
    )
    parser.add_argument(
        "--join-token",
        metavar="TOKEN",
        help="join the system this owner-minted token is for, once one of its nodes is found",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="json: one object per line, with camera_id/server_id where one is concerned",
    )


def fail(message: str) -> int:
    print(f"camkeep: config error: {message}", file=sys.stderr)
    return CONFIG_ERROR_EXIT


def run(args: argparse.Namespace) -> int:
    from node.config import ConfigError, load_config

    try:
        config = load_config(
            args.config,
            name=args.name,
            data_dir=args.data,
            listen=args.listen,
            peers=args.peer,
            join_token=args.join_token,
        )
    except ConfigError as error:
        return fail(str(error))

    from node.cli._logging import configure_logging

    tagger = configure_logging(args.log_level, args.log_format, sys.stderr)
    from node.app import DataDirError
    from node.replication import DatabaseError

    try:
        return asyncio.run(_serve(config, args.log_level, args.log_format, tagger))
    except (DataDirError, DatabaseError) as error:
        print(f"camkeep: {error}", file=sys.stderr)
        return 1


def _server_class():
    import uvicorn

    class NodeServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so the process
        would die by the signal; a node that stopped cleanly exits 0 instead."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stop_signals = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in stop_signals}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return NodeServer


async def _serve(config, log_level: str, log_format: str, tagger) -> int:
    import uvicorn

    from node.api import create_app
    from node.app import NodeRuntime

    node = NodeRuntime(config)
    tagger.known = lambda: (
        {c["id"] for c in node.state.cameras()},
        {s["id"] for s in node.state.servers()},
    )
    app = create_app(node)
    server = _server_class()(
        uvicorn.Config(
            app,
            host=config.listen_host,
            port=config.listen_port,
            log_level=log_level,
            access_log=log_level == "debug",
            lifespan="on",
            ws="websockets-sansio",
            # the WebSockets carry H.264 (incompressible) and short JSON lines: deflate
            # would cost CPU, latency and a zlib context (~300 KiB) per live viewer
            ws_per_message_deflate=False,
            # json: uvicorn's lines go through the root logger's JSON handler too
            log_config=None if log_format == "json" else uvicorn.config.LOGGING_CONFIG,
            timeout_graceful_shutdown=5,
        )
    )
    await server.serve()
    # uvicorn returns normally after SIGINT/SIGTERM; a failed bind or start-up sets started False
    return 0 if server.started else 1
