"""`camkeep export`: save a camera's recordings over a time range as one MP4."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from node.cli._client import (
    CliError,
    add_server_arguments,
    client_from_args,
    human_bytes,
    run_command,
)
from node.cli._resolve import CAMERA, resolve_one
from node.cli._timerange import add_range_arguments, range_params, time_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    parser.add_argument("camera", help="camera id, id prefix or name")
    add_range_arguments(parser, "5m")
    parser.add_argument("-o", "--output", type=Path, required=True, help="MP4 file to write")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        start, end = time_range(args)
        partial = args.output.with_name(args.output.name + ".part")
        tty = sys.stderr.isatty()
        last_shown = 0.0

        def progress(received: int) -> None:
            nonlocal last_shown
            if tty and time.monotonic() - last_shown > 0.2:
                last_shown = time.monotonic()
                print(
                    f"\rexporting: {human_bytes(received)} received",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )

        with client_from_args(args) as client:
            camera_id = resolve_one(client, CAMERA, args.camera)["id"]
            params = range_params(start, end)
            print(
                f"exporting {args.camera} {params['start']} .. {params['end']}",
                file=sys.stderr,
                flush=True,
            )
            try:
                with open(partial, "wb") as out:
                    size = client.download(
                        f"/api/v1/cameras/{camera_id}/export",
                        params,
                        out,
                        progress,
                    )
                partial.replace(args.output)
            except OSError as error:
                raise CliError(f"cannot write {args.output}: {error.strerror}") from None
            finally:
                partial.unlink(missing_ok=True)
        if tty:
            print(file=sys.stderr)
        print(f"wrote {args.output} ({human_bytes(size)})")
        return 0

    return run_command(body)
